"""Turn pydantic's error dicts into servespec's "field.path: expected ..., found ..." lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["describe_pydantic_error", "dotted"]

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "float_type": "a number",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "nothing",
}

# pydantic wraps union members and validators in location parts we do not show
_SKIP_PARTS = {"function-after[_dns_label(), str]", "function-before[_quantity(), str]"}


def dotted(loc: tuple[Any, ...]) -> str:
    """``("models", "x", "minReplicas")`` -> ``models.x.minReplicas``; list items as ``[i]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.startswith("function-") or part in _SKIP_PARTS):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean; quote it to make a string)"
    return repr(value)


def describe_pydantic_error(err: Mapping[str, Any]) -> tuple[str, str]:
    """(field path, message) for one ``ValidationError.errors()`` entry."""
    kind = err["type"]
    loc = tuple(err["loc"])
    value = err.get("input")
    if kind == "missing":
        return dotted(loc), "required field is missing"
    if kind == "extra_forbidden":
        return dotted(loc), "unknown field"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return dotted(loc), f"expected {expected}, found {_found(value)}"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return dotted(loc), f"expected {ctx.get('discriminator')} to be one of {ctx.get('expected_tags')}, found {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return dotted(loc), f"expected a {err.get('ctx', {}).get('discriminator')} key, found none"
    if kind == "value_error":
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return dotted(loc), msg
    if kind in _EXPECTED:
        return dotted(loc), f"expected {_EXPECTED[kind]}, found {_found(value)}"
    return dotted(loc), f"{err['msg'][0].lower()}{err['msg'][1:]}, found {_found(value)}"
