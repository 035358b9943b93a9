"""Every YAML read of servespec, and the round trip of the files commands edit (the generated
output is written by ``yamlwriter.py``).

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
    "load_with_lines", "new_map", "load_all", "roundtrip_load", "roundtrip_dump",
    "Lines", "read_text", "check_structure", "StructureError", "MAX_BYTES", "MAX_DEPTH",
]

MAX_BYTES = 1 << 20
"""The largest human-written file servespec reads (overlays, rollout state): 1 MiB."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and sequences accepted in a human-written YAML file."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Lines = dict[tuple[Any, ...], int]
"""Field path -> 1-based line number in a human-written YAML file."""


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
    ruamel = _ruamel()
    try:
        _walk_events(ruamel.YAML(typ="rt").parse(text))
    except ruamel.error.YAMLError:  # a syntax error: the loader reports it, before building anything
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


def _ruamel() -> Any:
    """ruamel.yaml, imported on first use: 35 ms that only the commands reading a state file pay
    (the one import inside a function outside the CLI that is not for a cycle: for start-up time)."""
    import ruamel.yaml.comments, ruamel.yaml.error  # one statement: both submodules, and ruamel.yaml itself

    return ruamel.yaml


def new_map() -> Any:
    """An empty round-trip mapping (ruamel's ``CommentedMap``) for :func:`roundtrip_dump`."""
    return _ruamel().comments.CommentedMap()


def _roundtrip_yaml() -> Any:
    y = _ruamel().YAML(typ="rt")
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
        err = _ruamel().error
        raise err.MarkedYAMLError(problem=exc.message, problem_mark=err.FileMark("<text>", 0, max(exc.line - 1, 0), 0)) from None
    if display is None:
        return _roundtrip_yaml().load(text)
    err = _ruamel().error
    try:
        return _roundtrip_yaml().load(text)
    except err.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise error(Problem(display, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem or exc.context}")) from None
    except err.YAMLError as exc:
        raise error(Problem(display, None, "", f"invalid YAML: {exc}")) from None


def roundtrip_dump(data: Any) -> str:
    """Write back what :func:`roundtrip_load` read, changing only what was edited."""
    buf = io.StringIO()
    _roundtrip_yaml().dump(data, buf)
    return buf.getvalue()
