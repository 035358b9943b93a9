"""The rollout state file read and edited by lines, without a YAML library, when it is laid out
as servespec writes it; ``state.py`` uses ruamel's round trip for anything else.

``overlays/<env>.rollout.yaml`` holds one entry per managed model, so it grows with the models:
at 1,000 entries ruamel takes ~4 s to load it and ~6 s to round-trip it, and every ``render``
and rollout command loads it. :func:`parse` accepts a strict subset of YAML: comments, one
``models:`` block mapping of block mappings, one nested mapping level, ASCII scalars either
quoted or plain that can only be read as a string (or a small integer), whatever the YAML
version; everything else (flow style, anchors, tags, multi-line or ambiguous scalars, duplicate
keys, other top-level keys) gives None. Within that subset it reads exactly what ruamel reads.
:func:`splice` replaces, inserts or removes one entry's lines, leaving every other byte as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Entry", "StateText", "parse", "splice"]

_KEY = re.compile(r"( *)([A-Za-z_][A-Za-z0-9_.-]*):(?: +(.*))?")
_COMMENT_OR_BLANK = re.compile(r" *(#.*)?")
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +#.*)?")
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +#.*)?')
_PLAIN = re.compile(r"(?:[A-Za-z_/]|-(?=[A-Za-z-]))(?:[^: ]|:(?! )| (?!#))*")
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
"""Plain words some YAML version reads as something other than a string (any case)."""
_UNSAFE = re.compile(r"[^\x20-\x7e\n]")
"""Tabs, carriage returns, control and non-ASCII characters: left to ruamel."""


class _Refused(Exception):
    """Not in the subset: the caller reads the file with ruamel."""


@dataclass
class Entry:
    """One model's entry: its lines ``[start, end)`` (comments and blank lines after its last
    field excluded), its value as ruamel reads it and its indentation (entry key, fields, nested
    fields if any)."""

    name: str
    start: int
    end: int
    value: dict[str, Any]
    layout: tuple[int, ...]


@dataclass
class StateText:
    """A state file in the subset: its lines (ends kept) and its entries, in file order."""

    lines: list[str]
    entries: list[Entry]

    def get(self, name: str) -> Entry | None:
        """The entry of ``name``, if any."""
        return next((e for e in self.entries if e.name == name), None)

    @property
    def canonical(self) -> bool:
        """Laid out as ruamel writes it (indentation 2, 4, 6; a final newline), so an entry
        written by ruamel can take the place of another."""
        return bool(self.entries) and self.lines[-1].endswith("\n") and all(e.layout in ((2, 4), (2, 4, 6)) for e in self.entries)


def _scalar(raw: str | None) -> Any:
    """A scalar value (with any comment after it) as ruamel reads it; None: a nested mapping follows."""
    text = (raw or "").rstrip(" ")
    if not text or text.startswith("#"):
        return None
    if text[0] == "'":
        m = _SINGLE.fullmatch(text)
        if m:
            return m.group(1).replace("''", "'")
    elif text[0] == '"':
        m = _DOUBLE.fullmatch(text)
        if m:
            return m.group(1)
    else:
        value = text.split(" #", 1)[0].rstrip(" ")
        if _INT.fullmatch(value):
            return int(value)
        if _PLAIN.fullmatch(value) and not value.endswith(":") and value.lower() not in _WORDS:
            return value
    raise _Refused(text)


def _key(line: str) -> tuple[int, str, str | None]:
    """(indentation, key, what follows the colon) of a ``key: ...`` line."""
    m = _KEY.fullmatch(line.rstrip(" "))
    if m is None or m.group(2).lower() in _WORDS:
        raise _Refused(line)
    return len(m.group(1)), m.group(2), m.group(3)


def parse(text: str) -> StateText | None:
    """The state file's entries, or None when ``text`` is outside the subset (see the module)."""
    if _UNSAFE.search(text):
        return None
    lines = text.splitlines(keepends=True)
    body = [(i, line.rstrip("\n")) for i, line in enumerate(lines) if not _COMMENT_OR_BLANK.fullmatch(line.rstrip("\n"))]
    entries: dict[str, Entry] = {}
    try:
        if body:
            depth, key, raw = _key(body[0][1])
            if (depth, key) != (0, "models") or _scalar(raw) is not None:
                return None
        i = 1
        while i < len(body):
            entry, i = _entry(body, i, next(iter(entries.values())).layout[0] if entries else None)
            if entries.setdefault(entry.name, entry) is not entry:
                return None  # a duplicate key
    except _Refused:
        return None
    return StateText(lines, list(entries.values()))


def _entry(body: list[tuple[int, str]], i: int, indent: int | None) -> tuple[Entry, int]:
    """The entry at ``body[i]`` (significant lines: index and text) and where the next one starts."""
    start, line = body[i]
    depth, name, raw = _key(line)
    if depth == 0 or indent not in (None, depth) or _scalar(raw) is not None or i + 1 >= len(body):
        raise _Refused(line)
    fields = _key(body[i + 1][1])[0]
    if fields <= depth:
        raise _Refused(line)  # no fields: null, left to ruamel
    value: dict[str, Any] = {}
    nested: set[int] = set()
    i, end = i + 1, start + 1
    while i < len(body) and (parts := _key(body[i][1]))[0] > depth:
        d, key, raw = parts
        if d != fields or key in value:
            raise _Refused(body[i][1])
        scalar = _scalar(raw)
        i, end = i + 1, body[i][0] + 1
        if scalar is None:  # a nested mapping of scalars
            sub: dict[str, Any] = {}
            inner = -1
            while i < len(body) and (parts := _key(body[i][1]))[0] > fields:
                d, k, r = parts
                inner = d if not sub else inner
                item = _scalar(r)
                if d != inner or k in sub or item is None:
                    raise _Refused(body[i][1])
                sub[k] = item
                i, end = i + 1, body[i][0] + 1
            if not sub:
                raise _Refused(key)  # an empty value: null, left to ruamel
            nested.add(inner)
            scalar = sub
        value[key] = scalar
    return Entry(name, start, end, value, (depth, fields, *sorted(nested))), i


def splice(state: StateText, name: str, text: str) -> str:
    """The file with ``name``'s entry lines replaced by ``text`` (an entry's lines, or "" to
    remove it); a new entry goes before the first entry that sorts after it, else at the end."""
    entry = state.get(name)
    lines = state.lines
    if entry is not None:
        return "".join([*lines[:entry.start], text, *lines[entry.end:]])
    others = [e for e in state.entries if e.name != name]
    pos = sum(1 for e in others if e.name < name)
    at = others[pos].start if pos < len(others) else len(lines)
    return "".join([*lines[:at], text, *lines[at:]])
