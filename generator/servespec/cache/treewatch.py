"""Knowing that a rendered tree is untouched without a ``stat`` of each of its files, in a process
that stays up (``servespec daemon``): an inotify watch on every folder of ``rendered/<env>/``.

Without it, proving that a tree still is what its manifest says costs one ``lstat`` per file
and folder (``cache/manifest.py``: 21,000 at 1,000 models, 210,000 at 10,000). With it, a tree
is trusted when (1) it was proven equal to the manifest with token T, by ``lstat`` or by
servespec's own write, while every one of its folders was already watched, and (2) no event
has arrived since that was not servespec's own write. Anything else — an event at a path
servespec did not write, a lost event queue (``IN_Q_OVERFLOW``), a folder that could not be
watched (the kernel's ``max_user_watches``) — means "not trusted": the next command stats
every file, as a one-shot command always does.

The spare copy of a tree (``envtree.py``) shares its unchanged files' inodes with the live tree
(hard links) and becomes the live tree on the next change: its folders stay watched from when
they were live, and an event in them counts like one in the live tree. Folders are known by
their path relative to the tree's top, which is the same in both trees, so a watch descriptor
keeps its meaning across the exchange of the two.

Off unless a process turns it on (``servespec.cache.warm.trees``: the daemon does); Linux only
(``inotify_simple``, a thin wrapper of the system calls).
"""

from __future__ import annotations

import itertools
import os

from inotify_simple import INotify, flags

__all__ = ["TreeWatch", "Watcher"]

_MASK = (flags.MODIFY | flags.ATTRIB | flags.CLOSE_WRITE | flags.CREATE | flags.DELETE | flags.DELETE_SELF
         | flags.MOVED_FROM | flags.MOVED_TO | flags.MOVE_SELF)
_ADD = _MASK | flags.ONLYDIR | flags.DONT_FOLLOW | flags.EXCL_UNLINK


class TreeWatch:
    """The watch of one environment's tree (live and spare: one inotify instance)."""

    def __init__(self) -> None:
        self.inotify = INotify()
        self.where: dict[int, tuple[tuple[int, int], str]] = {}
        """Watch descriptor -> (the tree's top as (device, inode), the folder relative to it)."""
        self.watched: dict[tuple[int, int], dict[str, int]] = {}
        """Per tree (its top's device and inode): folder -> watch descriptor."""
        self.token: str | None = None
        """The manifest the tree is trusted to hold; None: not trusted."""
        self.foreign = False
        """An event not of this process's writes arrived since :meth:`reset` (sticky: only a proof
        by ``lstat`` after a reset clears it)."""
        self.seen = 0
        """How many times events not of this process's writes were found: a tree proven when it
        was N is untouched while it still is N (the spare copy, :attr:`spares`)."""
        self.spares: dict[str, tuple[str, int]] = {}
        """Spare copy (its path) -> (its state's token, :attr:`seen` when it was proven, as the live tree)."""
        self.broken = False

    def trusted(self, token: str) -> bool:
        """True when the tree holds the manifest ``token`` for sure (see the module's docstring)."""
        if self.broken or not token or self.token != token:
            return False
        if self._foreign(self._drain(), frozenset()):
            self.foreign, self.token = True, None
        return self.token == token

    def covers(self, top: str, dirs: list[str]) -> bool:
        """True when every folder ``dirs`` of the tree at ``top`` is watched (the spare copy: its
        folders were watched while it was live)."""
        try:
            st = os.lstat(top)
        except OSError:
            return False
        have = self.watched.get((st.st_dev, st.st_ino), {})
        return all(map(have.__contains__, dirs))

    def reset(self) -> None:
        """Forget trust; events from now on count (call before proving the tree by ``lstat``)."""
        self._foreign(self._drain(), frozenset())  # drops the watches of folders that are gone
        self.token, self.foreign = None, False

    def arm(self, top: str, dirs: list[str], token: str, ours: set[str]) -> None:
        """The tree at ``top`` (folders ``dirs``) was just proven, or written by this process, to
        hold the manifest ``token``; events since :meth:`reset` at paths in ``ours`` (and their
        temp names) were this process's writes. Trust it if nothing else happened and every
        folder was watched already or created by this process."""
        self.foreign = self._foreign(self._drain(), ours) or self.foreign
        try:
            st = os.lstat(top)
        except OSError:
            self.token = None
            return
        tree = (st.st_dev, st.st_ino)
        have = self.watched.setdefault(tree, {})
        new = list(itertools.filterfalse(have.__contains__, dirs))
        for rel in new:
            try:
                wd = self.inotify.add_watch(os.path.join(top, rel) if rel else top, _ADD)
            except OSError:  # the kernel's limit, or the folder went away: never trusted again
                self.broken, self.token = True, None
                return
            have[rel] = wd
            self.where[wd] = (tree, rel)
        self.token = None if self.foreign or any(rel not in ours for rel in new) else token

    def close(self) -> None:
        self.inotify.close()

    def _drain(self) -> list[tuple[int, int, str]]:
        """Every event queued: (watch descriptor, mask, name)."""
        out: list[tuple[int, int, str]] = []
        while True:
            events = self.inotify.read(timeout=0)
            if not events:
                return out
            out.extend((e.wd, e.mask, e.name) for e in events)

    def _foreign(self, events: list[tuple[int, int, str]], ours: set[str] | frozenset[str]) -> bool:
        """True when one of ``events`` is not this process's write at a path in ``ours``."""
        suffix = f".{os.getpid()}.new"
        foreign = False
        for wd, mask, name in events:
            if mask & flags.Q_OVERFLOW:
                foreign = True
                continue
            tree, rel = self.where.get(wd, ((0, 0), None))
            if mask & flags.IGNORED:  # the folder is gone (its deletion was an event of its own)
                self.where.pop(wd, None)
                self.watched.get(tree, {}).pop(rel or "", None)
                continue
            if rel is None:
                foreign = True
                continue
            path = f"{rel}/{name}" if rel and name else rel or name
            if path.endswith(suffix):
                path = path[: -len(suffix)]
            if path not in ours:
                foreign = True
        self.seen += foreign
        return foreign


class Watcher:
    """The watches of a process, one per tree top (``rendered/<env>`` by absolute path)."""

    def __init__(self) -> None:
        self.trees: dict[str, TreeWatch] = {}

    def tree(self, top: str) -> TreeWatch | None:
        """The watch of ``top`` (made on first use), or None when inotify is not available."""
        found = self.trees.get(top)
        if found is None:
            try:
                found = self.trees[top] = TreeWatch()
            except OSError:
                return None
        return found

    def close(self) -> None:
        for watch in self.trees.values():
            watch.close()
        self.trees.clear()
