"""The generated output (``rendered/``) is written here: :func:`dump` spells exactly what libyaml's
emitter would (property-tested against it) at several times its speed, keys in a fixed order
(apiVersion, kind, metadata, spec, then the rest sorted, nested keys sorted), YAML-1.1 look-alikes
such as ``"on"``/``"yes"`` quoted so Go and PyYAML readers see strings, multi-line strings as ``|``
blocks. Same input, same bytes. Reading is ``yamlio.py``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["dump", "dump_all", "canonical_order"]

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TOP_ORDER = {"apiVersion": 0, "kind": 1, "metadata": 2, "spec": 3, "type": 4, "data": 5, "stringData": 6}


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
    if "\n\n" not in body:  # no empty line (a dashboard's JSON): every line indented, in one replace
        out.append(inner + body.replace("\n", "\n" + inner) + "\n")
    else:
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
