"""Every YAML read and write of servespec, in one place.

- Generated output (``rendered/``) is written by :func:`dump`: libyaml's emitter (fast), keys in
  a fixed order (apiVersion, kind, metadata, spec, then the rest sorted, nested keys sorted),
  YAML-1.1 look-alikes such as ``"on"``/``"yes"`` quoted so Go and PyYAML readers see strings,
  multi-line strings as ``|`` blocks. Same input, same bytes.
- Human files (overlays) are read by :func:`load_with_lines`, which keeps the line of every key
  so errors can point into the file, and refuses duplicate keys.
- Files only commands edit (rollout state) go through :func:`roundtrip_load` /
  :func:`roundtrip_dump` (ruamel.yaml round trip: comments and order survive).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

import yaml

from .errors import Problem, SpecError

__all__ = [
    "dump",
    "dump_all",
    "canonical_order",
    "load_with_lines",
    "load_all",
    "roundtrip_load",
    "roundtrip_dump",
    "Lines",
]

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
    if value in ("y", "Y", "n", "N") or dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
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
    """Deterministic YAML for one generated object."""
    return yaml.dump(
        canonical_order(obj),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**16,
        indent=2,
    )


def dump_all(objs: list[Any]) -> str:
    """Several objects as one multi-document stream."""
    return "".join("---\n" + dump(o) for o in objs)


def load_all(text: str | bytes) -> list[Any]:
    """All documents of a generated (machine-written) YAML stream, fast."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def load_with_lines(path: Path, display: str | None = None) -> tuple[Any, Lines]:
    """Load a human-written YAML file and the line of every key and item.

    Raises ``SpecError`` for unreadable files, YAML syntax errors and duplicate keys.
    """
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(Problem(display, None, "", f"cannot read: {exc.strerror}")) from None
    except UnicodeDecodeError:
        raise SpecError(Problem(display, None, "", "expected UTF-8 text, found binary data")) from None
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


def roundtrip_load(text: str) -> Any:
    """Load a YAML file for editing with comments and order preserved (ruamel round trip)."""
    return _roundtrip_yaml().load(text)


def roundtrip_dump(data: Any) -> str:
    """Write back what :func:`roundtrip_load` read, changing only what was edited."""
    buf = io.StringIO()
    _roundtrip_yaml().dump(data, buf)
    return buf.getvalue()
