"""What a long-lived process keeps in memory from one command to the next (``servespec daemon``;
in a one-shot process every memo starts empty and costs a dict entry per object).

Each memo is a :class:`Scope`: a dict valid for one key of the inputs everything in it depends
on as a whole (an environment's overlay, the code), emptied when that key changes; each entry
then carries what it was computed from, compared by identity (``is``) for immutable objects
(frozen spec models, the cache's own lists) and by equality otherwise. So an entry can only
miss, never be wrong; and since a scope holds strong references to what it compares, an
object's ``id`` is never reused while its entry lives. A scope keeps little more than what the
last command used (:meth:`Scope.sweep`), so memory stays about that of one render.

Standard library only: ``resolve.py``, ``emit/`` and the caches use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["Scope", "scope", "ByFile", "clear", "off", "TreeWatch", "Trees", "trees", "tree_watch", "later", "defer_writes",
           "flush", "settle"]


class TreeWatch(Protocol):
    """What ``envtree.py`` and the no-op check ask a tree's watch (``cache/treewatch.py``)."""

    def trusted(self, token: str) -> bool: ...
    def reset(self) -> None: ...
    def arm(self, top: str, dirs: list[str], token: str, ours: set[str]) -> None: ...
    def covers(self, top: str, dirs: list[str]) -> bool: ...
    seen: int
    spares: dict[str, tuple[str, int]]


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
        self.all_used = False
        """:meth:`keep` was called: no entry is forgotten at the next :meth:`sweep`."""

    def hit(self, name: Any) -> Any:
        """The entry of ``name`` (None when missing), marked as used."""
        self.used.add(name)
        return self.get(name)

    def put(self, name: Any, entry: Any) -> None:
        """Remember ``entry`` for ``name``, marked as used."""
        self.used.add(name)
        self[name] = entry

    def keep(self) -> None:
        """Mark every entry used: a command that patched its last result (``resolve.py``, ``emit/layout.py``)
        looked at a few entries only, and the next whole one needs the rest."""
        self.all_used = True

    def sweep(self) -> None:
        """Forget the entries the current command did not use (models removed, renamed), once
        they may be more than an eighth of the memo: looking at every entry after every command
        cost a daemon 0.05 s at 10,000 models, and an entry kept a while longer can only miss
        (each is checked against what it was computed from)."""
        if not self.all_used and len(self) - len(self.used) > len(self) // 8:
            for name in [n for n in self if n not in self.used]:
                del self[name]
        self.used, self.all_used = set(), False


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


class ByFile:
    """Values this process read from or wrote to cache files, by the identity of the file (device,
    inode, size, mtime, and ``salt``: what else the value was read under). servespec replaces a
    cache file, never edits it in place, so a file with that identity holds that value; a rename
    keeps it. At most ``most`` are kept, the oldest going first; callers copy what they take."""

    def __init__(self, most: int, salt: Callable[[], str] = lambda: ""):
        self.most, self.salt = most, salt
        self.kept: dict[tuple[int, int, int, int, str], Any] = {}
        _FILES.append(self)

    def _identity(self, path: str) -> tuple[int, int, int, int, str] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, self.salt())

    def get(self, path: str) -> Any:
        """What the file at ``path`` held when this process last read or wrote it, or None."""
        settle(path)
        key = self._identity(path) if not _OFF else None
        return self.kept.get(key) if key is not None else None

    def put(self, path: str, value: Any) -> None:
        """``value`` was just read from, or written to, the file at ``path``."""
        key = self._identity(path) if not _OFF else None
        if key is not None:
            while len(self.kept) >= self.most:
                del self.kept[next(iter(self.kept))]
            self.kept[key] = value


_FILES: list[ByFile] = []
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


_LATER: list[tuple[str | None, Callable[[], None]]] = []
"""Deferred writes in the order they were made, each with the path it writes (None: several)."""
_DEFER_IN = 0
"""The process whose cache writes wait for :func:`flush` (a daemon's server; 0: none). Not its
forked workers: a child writes its own at once, as it ends without flushing."""


def defer_writes(on: bool = True) -> None:
    """From now on (``on``), this process writes its cache files after it answered the command
    that produced them (:func:`later`, :func:`flush`): a daemon replies before marshalling
    manifests and tables of 50,000 entries. Off: they are written at once again (after a flush)."""
    global _DEFER_IN
    if not on:
        flush()
    _DEFER_IN = os.getpid() if on else 0


def later(write: Callable[[], None], path: str | None = None) -> bool:
    """Run ``write`` (a cache file's write and what follows it) now, or, in a process that defers
    its writes, at its next :func:`flush`, or before ``path`` is read, moved or removed
    (:func:`settle`); True when it was deferred. A cache file is only ever a shortcut that is
    checked before it is trusted, so one that is written late, or never (the process killed
    before its flush), can only make the next command slower: every reader proves what it reads
    (tokens, stats, keys), as it does after a write that failed."""
    if _DEFER_IN and _DEFER_IN == os.getpid() and not _OFF:
        _LATER.append((path, write))
        return True
    write()
    return False


def settle(*paths: str) -> None:
    """Make the deferred writes of ``paths`` now, in order: whoever reads, moves or removes such
    a file next (in this same command) sees what this process last wrote there."""
    if _LATER and any(p in paths for p, _w in _LATER):
        mine = [w for p, w in _LATER if p in paths]
        _LATER[:] = [(p, w) for p, w in _LATER if p not in paths]
        for write in mine:
            write()


def flush() -> list[str]:
    """Run the deferred writes in the order they were made (a daemon: after replying, before the
    next command); the errors of those that raised (they are skipped: a cache write that fails
    costs the next command time, never a wrong result)."""
    errors: list[str] = []
    while _LATER:
        _path, write = _LATER.pop(0)
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - reported by the caller (the daemon's log)
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


def clear() -> None:
    """Forget every memo (tests; a daemon told to let go of its memory)."""
    _SCOPES.clear()
    for memo in _FILES:
        memo.kept.clear()
