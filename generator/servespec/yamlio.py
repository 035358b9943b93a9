"""Every YAML read and write of servespec, in one place.

- Generated output (``rendered/``) is written by :func:`dump`: libyaml's emitter (fast), keys in
  a fixed order (apiVersion, kind, metadata, spec, then the rest sorted, nested keys sorted),
  YAML-1.1 look-alikes such as ``"on"``/``"yes"`` quoted so Go and PyYAML readers see strings,
  multi-line strings as ``|`` blocks. Same input, same bytes.
- Human files (overlays) are read by :func:`load_with_lines`, which keeps the line of every key
  so errors can point into the file, and refuses duplicate keys.
- Files only commands edit (rollout state) go through :func:`roundtrip_load` /
  :func:`roundtrip_dump` (ruamel.yaml round trip: comments and order survive).

Human-written files pass one guard, so a hostile or careless file fails fast with one located
line instead of hanging or eating memory: :func:`read_text` reads regular files only (no FIFO,
no device) of at most :data:`MAX_BYTES` (1 MiB); :func:`check_structure` walks the YAML events
(libyaml, fast) before anything is built and refuses aliases (``*a`` and merge keys ``<<: *a``:
"billion laughs" needs them, servespec's files do not) and nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from .errors import Problem, ServespecError, SpecError

__all__ = [
    "dump", "dump_all", "canonical_order", "load_with_lines", "load_all", "roundtrip_load", "roundtrip_dump",
    "Lines", "read_text", "check_structure", "StructureError", "MAX_BYTES", "MAX_DEPTH",
]

MAX_BYTES = 1 << 20
"""The largest human-written file servespec reads (overlays, rollout state): 1 MiB."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and sequences accepted in a human-written YAML file."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TOP_ORDER = {"apiVersion": 0, "kind": 1, "metadata": 2, "spec": 3, "type": 4, "data": 5, "stringData": 6}

Lines = dict[tuple[Any, ...], int]
"""Field path -> 1-based line number in a human-written YAML file."""


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value in ("y", "Y", "n", "N") or dumper.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        # "true", "on", "1", "null", ...: double-quote, as Kubernetes manifests do.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def canonical_order(obj: Any, top: bool = True) -> Any:
    """Return ``obj`` with dict keys in servespec's fixed order (see module doc)."""
    if isinstance(obj, dict):
        if top:
            keys = sorted(obj, key=lambda k: (_TOP_ORDER.get(k, 99), k))
        else:
            keys = sorted(obj)
        return {k: canonical_order(obj[k], False) for k in keys}
    if isinstance(obj, list):
        return [canonical_order(v, False) for v in obj]
    return obj


def dump(obj: Any) -> str:
    """Deterministic YAML for one generated object.

    A fast emitter for the plain data servespec generates (dicts with string keys, lists,
    strings, ints, bools, None), byte-identical to PyYAML with the settings of
    :func:`_pyyaml_dump` (a property test holds it to that); it orders keys as it goes. Scalars
    it does not spell itself (floats, non-ASCII or very long strings) are asked of PyYAML once
    and remembered; a structure it does not handle sends the whole object through PyYAML.
    """
    try:
        out: list[str] = []
        _emit_block(obj, 0, out, True)
        return "".join(out)
    except _Fallback:
        return _pyyaml_dump(canonical_order(obj))


def _pyyaml_dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**16,
        indent=2,
    )


class _Fallback(Exception):
    """The fast emitter met something it does not spell itself."""


_VALUES: dict[str, str] = {}
_KEYS: dict[str, str] = {}
_ASCII_LINE = re.compile(r"[\x20-\x7e]*\Z")
_ASCII_TEXT = re.compile(r"[\x20-\x7e\n]*\Z")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _plain_allowed(text: str) -> bool:
    """PyYAML's ``allow_block_plain`` for one line of printable ASCII (``Emitter.analyze_scalar``)."""
    if not text or text[0] == " " or text[-1] == " " or text.startswith(("---", "...")):
        return False
    first = text[0]
    if first in _INDICATORS or (first in "?:-" and (len(text) == 1 or text[1] == " ")):
        return False
    return not (": " in text or text[-1] == ":" or " #" in text)


def _spell(text: str) -> str | None:
    """How PyYAML writes a one-line ASCII string (as key or value), or None if not sure."""
    if len(text) > 1000 or not _ASCII_LINE.match(text):
        return None
    if text in ("y", "Y", "n", "N") or _RESOLVER.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        # "true", "on", "1", "null", "": double-quoted (see _str_representer)
        return None if ('"' in text or "\\" in text) else f'"{text}"'
    if _plain_allowed(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _value(text: str) -> str:
    spelled = _VALUES.get(text)
    if spelled is None:
        if "\n" in text:
            raise _Fallback
        spelled = _spell(text)
        if spelled is None:
            spelled = _pyyaml_dump({"k": text})[3:-1]
            if "\n" in spelled:
                raise _Fallback
        _VALUES[text] = spelled
    return spelled


def _key(text: Any) -> str:
    if type(text) is not str:
        raise _Fallback
    spelled = _KEYS.get(text)
    if spelled is None:
        spelled = _spell(text) if len(text) <= 100 else None
        if spelled is None:
            spelled = _pyyaml_dump({text: 1})
            if not spelled.endswith(": 1\n") or spelled.count("\n") != 1:
                raise _Fallback
            spelled = spelled[:-4]
        _KEYS[text] = spelled
    return spelled


def _literal(text: str, pad: str, out: list[str]) -> None:
    """A multi-line string as PyYAML's ``|`` block, when it is plain ASCII text."""
    if (not _ASCII_TEXT.match(text) or text[0] in " \n" or " \n" in text or text[-1] == " "
            or text.endswith("\n\n")):
        raise _Fallback
    body = text[:-1] if text[-1] == "\n" else text
    out.append(" |\n" if text[-1] == "\n" else " |-\n")
    inner = pad + "  "
    out.extend(f"{inner}{line}\n" if line else "\n" for line in body.split("\n"))


def _scalar(value: Any) -> str:
    if type(value) is str:
        return _value(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    raise _Fallback


def _top_key(key: Any) -> tuple[int, Any]:
    return (_TOP_ORDER.get(key, 99), key)


def _emit_block(data: Any, indent: int, out: list[str], top: bool = False) -> None:
    """``data`` (a non-empty mapping or list) in block style at column ``indent``.

    The hot loop of every render: string keys and values are looked up in the spelling memos
    inline; everything else goes through :func:`_key` / :func:`_scalar`.
    """
    pad = " " * indent
    if type(data) is dict:
        for k in sorted(data, key=_top_key) if top else sorted(data):
            v = data[k]
            ks = _KEYS.get(k) or _key(k)
            tv = type(v)
            if tv is str:
                if "\n" in v:
                    out.append(f"{pad}{ks}:")
                    _literal(v, pad, out)
                else:
                    out.append(f"{pad}{ks}: {_VALUES.get(v) or _value(v)}\n")
            elif tv is dict:
                if v:
                    out.append(f"{pad}{ks}:\n")
                    _emit_block(v, indent + 2, out)
                else:
                    out.append(f"{pad}{ks}: {{}}\n")
            elif tv is list:
                if v:
                    out.append(f"{pad}{ks}:\n")
                    _emit_block(v, indent, out)  # PyYAML does not indent sequences in mappings
                else:
                    out.append(f"{pad}{ks}: []\n")
            else:
                out.append(f"{pad}{ks}: {_scalar(v)}\n")
    elif type(data) is list:
        for item in data:
            ti = type(item)
            if ti is str:
                out.append(f"{pad}- {_VALUES.get(item) or _value(item)}\n")
            elif (ti is dict or ti is list) and item:
                sub: list[str] = []
                _emit_block(item, indent + 2, sub)
                first = "".join(sub)
                out.append(f"{pad}- {first[indent + 2:]}")
            else:
                out.append(f"{pad}- {_inline(item)}\n")
    else:
        raise _Fallback


def _inline(value: Any) -> str:
    if type(value) is dict:
        return "{}"
    if type(value) is list:
        return "[]"
    return _scalar(value)


def dump_all(objs: list[Any]) -> str:
    """Several objects as one multi-document stream."""
    return "".join("---\n" + dump(o) for o in objs)


def load_all(text: str | bytes) -> list[Any]:
    """All documents of a generated (machine-written) YAML stream, fast."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def read_text(path: Path, display: str, error: type[ServespecError] = SpecError, limit: int = MAX_BYTES) -> str:
    """A human-written file's text, or ``error`` naming the file when it is unreadable, not a
    regular file, larger than ``limit`` bytes or not UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise error(Problem(display, None, "", f"expected a regular file, found {_file_kind(info.st_mode)}"))
            data = f.read(limit + 1) if info.st_size <= limit else b""
            size = max(info.st_size, len(data))
    except OSError as exc:
        raise error(Problem(display, None, "", f"cannot read: {exc.strerror}")) from None
    if size > limit:
        raise error(Problem(display, None, "", _too_large(limit, f"{size} bytes" if len(data) <= limit else f"more than {limit} bytes")))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(Problem(display, None, "", "expected UTF-8 text, found binary data")) from None


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def _too_large(limit: int, found: str) -> str:
    return f"expected a file of at most {limit / (1 << 20):g} MiB ({limit} bytes), found {found}"


class StructureError(ValueError):
    """A YAML file uses an alias or nests too deeply: ``line`` (1-based) and ``message``."""
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def check_structure(text: str) -> None:
    """Refuse aliases, nesting deeper than :data:`MAX_DEPTH` and integers Python will not convert
    (over 4300 digits) before a loader builds anything: :class:`StructureError` (line, message). Walks libyaml's events; where libyaml finds a syntax
    error, ruamel.yaml's (rarely, ruamel accepts what libyaml does not)."""
    loader = _Loader(text)
    try:
        _walk_events(iter(lambda: loader.get_event() if loader.check_event() else None, None))
        return
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError as RuamelError

    try:
        _walk_events(YAML(typ="rt").parse(text))
    except RuamelError:  # a syntax error: the loader reports it, before building anything
        pass


_LONG_INT = re.compile(r"[-+]?[0-9_]{4301,}")  # an int with more digits than Python converts (4300)


def _walk_events(events: Iterable[Any]) -> None:
    depth = 0
    for event in events:
        kind = type(event).__name__
        if kind == "ScalarEvent" and not event.style and len(event.value) > 4300 and _LONG_INT.fullmatch(event.value):
            raise StructureError(event.start_mark.line + 1, "expected a number of at most 4300 digits, found "
                                 f"{len(event.value.lstrip('+-').replace('_', ''))} digits")
        if kind == "AliasEvent":
            raise StructureError(event.start_mark.line + 1, f"aliases are not allowed in servespec's YAML files "
                                                            f"(found *{event.anchor}): write the value out")
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                raise StructureError(event.start_mark.line + 1, f"expected at most {MAX_DEPTH} levels of nesting, found more")
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


def load_with_lines(path: Path, display: str | None = None) -> tuple[Any, Lines]:
    """Load a human-written YAML file and the line of every key and item.

    Raises ``SpecError`` for unreadable, too large or binary files, YAML syntax errors, aliases,
    too deep nesting and duplicate keys.
    """
    display = display or str(path)
    text = read_text(path, display)
    try:
        check_structure(text)
    except StructureError as exc:
        raise SpecError(Problem(display, exc.line, "", exc.message)) from None
    loader = _Loader(io.StringIO(text))
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        problems: list[Problem] = []
        lines: Lines = {}
        _walk(node, (), lines, problems, display)
        if problems:
            raise SpecError(problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = f"invalid YAML: {exc.problem or exc.context}"
        raise SpecError(Problem(display, line, "", msg)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(display, None, "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: Lines, problems: list[Problem], display: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                problems.append(Problem(display, line, dotted, f"duplicate key (first on line {seen[key]})"))
                continue
            seen[key] = line
            _walk(value_node, (*path, key), lines, problems, display)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, problems, display)


def line_of(lines: Lines, path: tuple[Any, ...]) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def iter_yaml_files(root: Path) -> Iterator[Path]:
    """``*.yaml`` files below ``root``, sorted."""
    return iter(sorted(p for p in root.rglob("*.yaml") if p.is_file()))


def _roundtrip_yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def roundtrip_load(text: str, display: str | None = None, error: type[ServespecError] = SpecError) -> Any:
    """Load a YAML file for editing with comments and order preserved (ruamel round trip).

    ``text`` over :data:`MAX_BYTES` or failing :func:`check_structure` is refused before ruamel
    builds anything: as ``error`` located in ``display`` when given, else as a ruamel
    ``MarkedYAMLError`` (what callers already catch and report as "invalid YAML")."""
    try:
        if (size := len(text.encode("utf-8"))) > MAX_BYTES:
            raise StructureError(0, _too_large(MAX_BYTES, f"{size} bytes"))
        check_structure(text)
    except StructureError as exc:
        if display is not None:
            raise error(Problem(display, exc.line or None, "", exc.message)) from None
        from ruamel.yaml.error import FileMark, MarkedYAMLError

        raise MarkedYAMLError(problem=exc.message, problem_mark=FileMark("<text>", 0, max(exc.line - 1, 0), 0)) from None
    return _roundtrip_yaml().load(text)


def roundtrip_dump(data: Any) -> str:
    """Write back what :func:`roundtrip_load` read, changing only what was edited."""
    buf = io.StringIO()
    _roundtrip_yaml().dump(data, buf)
    return buf.getvalue()
