"""What a long-lived process keeps in memory from one command to the next (``servespec daemon``;
in a one-shot process every memo starts empty and costs a dict entry per object).

Each memo is a :class:`Scope`: a dict valid for one key of the inputs everything in it depends
on as a whole (an environment's overlay, the code), emptied when that key changes; each entry
then carries what it was computed from, compared by identity (``is``) for immutable objects
(frozen spec models, the cache's own lists) and by equality otherwise. So an entry can only
miss, never be wrong; and since a scope holds strong references to what it compares, an
object's ``id`` is never reused while its entry lives. A scope keeps only what the last command
used (:meth:`Scope.sweep`), so memory stays that of one render.

Standard library only: ``resolve.py``, ``emit/`` and the caches use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["Scope", "scope", "clear", "off", "TreeWatch", "Trees", "trees", "tree_watch"]


class TreeWatch(Protocol):
    """What ``envtree.py`` and the no-op check ask a tree's watch (``cache/treewatch.py``)."""

    def trusted(self, token: str) -> bool: ...
    def reset(self) -> None: ...
    def arm(self, top: str, dirs: list[str], token: str, ours: set[str]) -> None: ...


class Trees(Protocol):
    def tree(self, top: str) -> TreeWatch | None: ...


trees: Trees | None = None
"""The process's watches of rendered trees (``cache/treewatch.Watcher``) when it keeps them (a
daemon sets it); None: every tree is proven by ``lstat``."""


def tree_watch(top: str) -> TreeWatch | None:
    """The watch of the tree at ``top``, or None (no watches in this process, or inotify missing)."""
    return trees.tree(top) if trees is not None and not _OFF else None

_SCOPES: dict[tuple[Any, ...], Scope] = {}
_MOST = 64
"""Memos kept at most (a daemon serves one repo: a handful per environment); the oldest goes first."""


class Scope(dict[Any, Any]):
    """One memo: a dict for one value of ``key``, with the entries the current command used."""

    def __init__(self, key: Any):
        super().__init__()
        self.key = key
        self.used: set[Any] = set()

    def hit(self, name: Any) -> Any:
        """The entry of ``name`` (None when missing), marked as used."""
        self.used.add(name)
        return self.get(name)

    def put(self, name: Any, entry: Any) -> None:
        """Remember ``entry`` for ``name``, marked as used."""
        self.used.add(name)
        self[name] = entry

    def sweep(self) -> None:
        """Forget the entries the current command did not use (models removed, renamed)."""
        for name in [n for n in self if n not in self.used]:
            del self[name]
        self.used = set()


def scope(where: tuple[Any, ...], key: Any) -> Scope:
    """The memo ``where`` (e.g. ``("resolve", root, env)``) for inputs ``key``: the one kept when
    ``key`` equals the last one, else a new empty one. Entries unused since the last call to this
    function for ``where`` are forgotten first."""
    if _OFF:
        return Scope(key)
    found = _SCOPES.get(where)
    if found is not None and _same(found.key, key):
        found.sweep()
        return found
    _SCOPES.pop(where, None)
    while len(_SCOPES) >= _MOST:
        del _SCOPES[next(iter(_SCOPES))]
    _SCOPES[where] = fresh = Scope(key)
    return fresh


def _same(a: Any, b: Any) -> bool:
    """Equal keys: tuples element by element, objects that are not plain data by identity."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (str, bytes, int, float, bool, type(None))):
        return type(a) is type(b) and a == b
    return a is b


_OFF: list[bool] = []


@contextmanager
def off() -> Iterator[None]:
    """Within it, every memo starts empty and is forgotten after use: what ``render --no-cache``
    and a render without a cache compute, independent of anything kept."""
    _OFF.append(True)
    try:
        yield
    finally:
        _OFF.pop()


def clear() -> None:
    """Forget every memo (tests; a daemon told to let go of its memory)."""
    _SCOPES.clear()
