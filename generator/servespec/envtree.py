"""``rendered/<env>/`` on disk: found cheaply, replaced whole, written where it changed.

What servespec left in the tree is kept in a manifest (``cache/manifest.py``): a tree whose
entries all have their recorded ``lstat`` is known without reading a file; otherwise only files
whose stat moved are read. A symbolic link anywhere in the tree is refused.

A change is never written into the live tree. It is made in a *spare* copy kept in the repo's
cache folder: the tree as it was before the last change, sharing every file that did not change
since with the live tree (hard links). Only the files that differ are linked or written there,
then the spare and ``rendered/<env>`` are exchanged in one step (``renameat2``), and the tree
that was live becomes the next spare. So an env is replaced whole or not at all, and a one-model
change touches a few files instead of creating and deleting a folder per model (on this
project's ext4 disk each costs 0.2-0.6 ms). Where no spare can be used (the first change, a cache
on another filesystem, another render holding it, ``--no-cache``), the new tree is built beside
the old one in ``rendered/.<env>.*`` as before, and the old one is kept as the next spare.

A spare is trusted only as far as it can be checked: its folders must have their recorded stat
(an entry added, removed or renamed moves a folder's mtime), and a file is kept only when it is
the very inode of the live file (whose stat was just checked); any other file is replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cache.fingerprint import repo_dir
from .cache.manifest import Manifest, Scan, Stat, load_manifest, manifest_path, save_manifest, scan, stat_of, still_holds
from .cache.fingerprint import read_framed, write_framed
from .cache.warm import scope, settle, tree_watch
from .errors import Problem, RenderError
from .fsutil import create, exchange

try:  # pragma: no cover - every supported system but Windows
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["EnvTree", "Change", "NeedBytes", "Wanted", "Since", "RENDERED"]

RENDERED = "rendered"

Wanted = dict[str, tuple[bytes, bytes | None]]
"""``path -> (digest, bytes)``; bytes None: known by digest only, so it must already be on disk."""

Since = tuple[str, set[str]]
"""``(token, paths)``: what is wanted equals the tree described by the manifest ``token`` except,
at most, at ``paths`` (a long-lived process that rendered the env before knows which units it
laid out again): a write then looks at those paths only."""


class NeedBytes(Exception):
    """Files known by digest only are not on disk as such: their bytes must be rendered."""

    def __init__(self, paths: list[str]):
        super().__init__(f"{len(paths)} files must be rendered")
        self.paths = paths


@dataclass
class Change:
    """What a write changed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    spare: bool = False
    """True when the change was made in the spare tree (only the changed files touched)."""

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)


def compare(old: dict[str, bytes], new: dict[str, bytes]) -> Change:
    """Differences between two trees given as ``path -> digest`` (or ``path -> bytes``)."""
    res = Change()
    for path, data in new.items():
        if path not in old:
            res.added.append(path)
        elif old[path] != data:
            res.changed.append(path)
    res.removed = [p for p in old if p not in new]
    return res


def _compare_at(files: dict[str, tuple[Stat, bytes]], wanted: Wanted, paths: list[str]) -> Change:
    """:func:`compare` of the tree ``files`` and ``wanted`` at ``paths`` (sorted) alone."""
    res = Change()
    for path in paths:
        new, was = wanted.get(path), files.get(path)
        if new is None:
            if was is not None:
                res.removed.append(path)
        elif was is None:
            res.added.append(path)
        elif was[1] != new[0]:
            res.changed.append(path)
    return res


def _dirs_of(paths: list[str] | set[str]) -> set[str]:
    """Every folder holding one of ``paths`` (relative), the tree's own (``""``) included."""
    out = {""}
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in out:
            out.add(parent)
            parent = parent.rpartition("/")[0]
    return out


def _put(dest: str, data: bytes | None, source: str | None) -> None:
    """Replace ``dest`` (never write into it: it may be a hard link of a live file) with ``data``
    or a hard link of ``source``, through a temp name and a rename."""
    tmp = f"{dest}.{os.getpid()}.new"
    try:
        if source is not None:
            os.link(source, tmp)
        else:
            assert data is not None
            with open(tmp, "wb") as f:
                f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class EnvTree:
    """One environment's folder under ``rendered/``, with its manifest and spare copy."""

    def __init__(self, root: Path, env: str, use_cache: bool = True):
        self.root, self.env, self.use_cache = root, env, use_cache
        self.top = os.path.join(root, RENDERED, env)
        cache = repo_dir(str(root.resolve()))
        self.manifest_path = manifest_path(str(root.resolve()), env)
        self.spare_path = os.path.join(cache, "spare", env)
        self.state_path = os.path.join(cache, f"spare-{env}")
        self._known: Manifest | None = load_manifest(self.manifest_path) if use_cache else None
        self._found: Scan | None = None
        self._from_known = False
        self.watch = tree_watch(self.top) if use_cache else None
        """The tree's inotify watch in a process that keeps them (``cache/treewatch.py``), else None."""
        self._mark = -1
        """The watch's count of foreign events when the live tree was last proven (``found``)."""
        self._ours: set[str] = set()
        """Paths this process wrote in the tree it swapped in (for the watch)."""
        self.token = ""
        """The token of the manifest describing the live tree after :meth:`write` ("" when none was kept)."""

    # -- reading ------------------------------------------------------------------------------
    def found(self) -> Scan:
        """The live tree: stat of every entry, digest of every file (read only where the stat
        moved since the manifest). A symbolic link is refused."""
        if self._found is None:
            self._refuse_links_above()
            known = self._known
            if known is None and self.watch is not None:
                self.watch.reset()  # events from here on count: the scan below sees what came before
            if known is not None and still_holds(self.top, known, self.watch):
                self._found = Scan(dict(known.dirs), dict(known.files))
                self._from_known = True
            else:
                self._found = scan(self.top, known)
            self._mark = self.watch.seen if self.watch is not None else -1  # the tree proven as of here
            if self._found.links:
                shown = [f"{RENDERED}/{self.env}" + (f"/{rel}" if rel else "") for rel in self._found.links]
                raise RenderError([Problem(p, None, "", f"is a symbolic link (to {os.readlink(os.path.join(self.root, p))}): servespec "
                                           "writes only real files and folders inside the repository; replace the link") for p in shown])
        return self._found

    def _refuse_links_above(self) -> None:
        here = str(self.root)
        for part in (RENDERED,):
            here = os.path.join(here, part)
            if os.path.islink(here):
                raise RenderError(Problem(part, None, "", f"is a symbolic link (to {os.readlink(here)}): servespec writes only real "
                                          "files and folders inside the repository; replace the link"))

    def digests(self) -> dict[str, bytes]:
        """``path -> digest`` of every file in the live tree."""
        return {rel: digest for rel, (_st, digest) in self.found().files.items()}

    # -- writing ------------------------------------------------------------------------------
    def write(self, wanted: Wanted, since: Since | None = None) -> Change:
        """Make the live tree hold exactly ``wanted``: nothing happens when it already does;
        else the env is replaced whole (see the module's docstring). ``NeedBytes`` when a file
        known by digest only is not on disk. ``since``: where ``wanted`` may differ from the tree
        as last written, looked at alone when the live tree is still that one."""
        found = self.found()
        _clean_leftovers(os.path.dirname(self.top), self.env)
        dirty = sorted(since[1]) if since is not None and self._from_known and self._known is not None and since[0] == self._known.token else None
        if dirty is not None:  # wanted sorted, as the tree was written: the lists come in compare()'s order
            change = _compare_at(found.files, wanted, dirty)
        else:
            old = {rel: digest for rel, (_st, digest) in found.files.items()}
            change = compare(old, {rel: d for rel, (d, _data) in wanted.items()})
        if change.unchanged:
            if self.use_cache and (found.read or self._known is None or self._known.dirs != found.dirs):
                self._save(found.manifest(os.urandom(8).hex()))
            elif self._known is not None:
                self.token = self._known.token
            self._arm(list(found.dirs), set())
            return change
        missing = sorted(rel for rel in (dirty if dirty is not None else wanted) if rel in wanted and wanted[rel][1] is None
                         and found.files.get(rel, (None, None))[1] != wanted[rel][0])
        if missing:
            raise NeedBytes(missing)
        lock = self._lock() if self.use_cache else None
        try:
            after = self._replace(found, wanted, lock is not None, change, dirty is not None)
        finally:
            if lock is not None:
                os.close(lock)
        self._found = None
        if self.use_cache:
            self._save(after)
            self._arm(list(after.dirs), self._ours)
        return change

    def _arm(self, dirs: list[str], ours: set[str]) -> None:
        """Tell the watch (if any) the tree now holds the manifest just recorded."""
        if self.watch is not None:
            if self.token:
                self.watch.arm(self.top, dirs, self.token, ours)
            else:
                self.watch.reset()

    def _save(self, manifest: Manifest) -> None:
        self._known = manifest
        self.token = manifest.token if save_manifest(self.manifest_path, manifest) else ""

    def _replace(self, found: Scan, wanted: Wanted, may_spare: bool, change: Change, delta: bool = False) -> Manifest:
        """Swap the new tree in; its manifest. ``delta``: ``change`` was found from the paths
        that may differ alone, every other file of ``wanted`` is the live one's."""
        same_files = not (change.added or change.removed) if delta else set(wanted) == set(found.files)
        need_dirs = set(found.dirs) if same_files else _dirs_of(list(wanted))
        if not found.dirs:  # no tree yet: build it beside and rename it into place
            tmp, made = self._build(found, wanted, need_dirs)
            os.rename(tmp, self.top)
            return self._stat_all(wanted, need_dirs, made)
        spare = self._spare_state() if may_spare else None
        if spare is not None:
            os.unlink(self.state_path + ".top")  # from here until the new state is saved the spare is not trusted
            lag = self._lag(spare) if delta else None
            now = {*change.added, *change.changed, *change.removed}
            touched, moved = self._update_spare(spare, found, wanted, need_dirs, lag | now if lag is not None else None)
            self._exchange(self.spare_path)
            kept = self._keep_spare(found)
            change.spare = True
            if lag is not None and same_files:  # the live manifest with the touched entries stat'ed again: no pass over every file
                files = dict(found.files)
                files.update((rel, (stat_of(os.lstat(os.path.join(self.top, rel))), wanted[rel][0])) for rel in touched)
            else:
                files = {rel: (found.files[rel][0] if rel not in touched else stat_of(os.lstat(os.path.join(self.top, rel))), digest)
                         for rel, (digest, _data) in wanted.items()}
            if set(spare.dirs) == need_dirs:
                dirs = dict(spare.dirs)
                dirs.update((rel, stat_of(os.lstat(os.path.join(self.top, rel) if rel else self.top))) for rel in moved)
            else:
                dirs = {rel: spare.dirs[rel] if rel not in moved else stat_of(os.lstat(os.path.join(self.top, rel) if rel else self.top))
                        for rel in need_dirs}
            after = Manifest(dirs, files, os.urandom(8).hex())
            self._remember_lag(after.token, kept, touched, change.removed)
            return after
        tmp, made = self._build(found, wanted, need_dirs)
        self._exchange(tmp)
        if may_spare and self._adopt(tmp):
            self._keep_spare(found)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return self._stat_all(wanted, need_dirs, made)

    def _stat_all(self, wanted: Wanted, dirs: set[str], made: dict[str, Stat] | None = None) -> Manifest:
        """The manifest of a live tree all new: every folder stat'ed, and every file but those
        ``made`` gives the stat of (created then; renaming their folder leaves it as it was)."""
        made = made or {}
        return Manifest({rel: stat_of(os.lstat(os.path.join(self.top, rel) if rel else self.top)) for rel in sorted(dirs)},
                        {rel: (made[rel] if rel in made else stat_of(os.lstat(os.path.join(self.top, rel))), digest)
                         for rel, (digest, _d) in wanted.items()},
                        os.urandom(8).hex())

    def _build(self, found: Scan, wanted: Wanted, need_dirs: set[str]) -> tuple[str, dict[str, Stat]]:
        """The whole new tree in ``rendered/.<env>.*`` (unchanged files hard-linked from the live
        one); the stat of each file created."""
        parent = os.path.dirname(self.top)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{self.env}.", dir=parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the swapped-in folder must look like any other
        made: dict[str, Stat] = {}
        try:
            for rel in sorted(need_dirs - {""}):
                os.mkdir(os.path.join(tmp, rel))
            for rel, (digest, data) in wanted.items():
                was = found.files.get(rel)
                if was is not None and was[1] == digest:
                    os.link(os.path.join(self.top, rel), os.path.join(tmp, rel))
                else:
                    assert data is not None
                    made[rel] = stat_of(create(os.path.join(tmp, rel), data))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return tmp, made

    def _exchange(self, other: str) -> None:
        """Swap ``other`` and the live tree; ``other`` then holds the old tree."""
        if exchange(Path(other), Path(self.top)):
            return
        trash = os.path.join(os.path.dirname(self.top), f".{self.env}.old-{os.getpid()}")
        os.rename(self.top, trash)
        os.rename(other, self.top)
        os.rename(trash, other)

    # -- the spare ------------------------------------------------------------------------------
    def _lock(self) -> int | None:
        """An exclusive hold on this env's spare, or None (no locking here, or another render has it)."""
        if fcntl is None:
            return None
        try:
            os.makedirs(os.path.dirname(self.state_path), exist_ok=True)
            fd = os.open(self.state_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def _spare_state(self) -> Manifest | None:
        """The spare's manifest (as it was when live; its own folder as it is now) when the spare
        can be used: same filesystem, every folder as recorded. An unusable spare is removed."""
        top = read_framed(self.state_path + ".top")
        spare = load_manifest(self.state_path)
        if (isinstance(top, dict) and top.get("format") == 2 and top.get("top") == self.top and spare is not None
                and top.get("token") == spare.token and isinstance(top.get("stat"), tuple)):
            spare = Manifest({**spare.dirs, "": top["stat"]}, spare.files, spare.token)  # a manifest is never changed
            try:
                same_fs = os.lstat(self.spare_path).st_dev == os.lstat(self.top).st_dev
                if same_fs and (self._watched(spare, str(top.get("token"))) or all(stat_of(os.lstat(os.path.join(self.spare_path, rel) if rel else self.spare_path)) == st
                                                            for rel, st in spare.dirs.items())):
                    return spare
            except OSError:
                pass
        self._drop_spare()
        return None

    def _watched(self, spare: Manifest, token: str) -> bool:
        """True when the watch vouches for the spare: this process made it (from a tree proven
        then), no event it did not cause has arrived since, and every folder of it is watched."""
        watch, known = self.watch, self._known
        return (watch is not None and known is not None and watch.trusted(known.token) and watch.spares.get(self.spare_path) == (token, watch.seen)
                and stat_of(os.lstat(self.spare_path)) == spare.dirs[""] and watch.covers(self.spare_path, list(spare.dirs)))

    def _drop_spare(self) -> None:
        for path in (self.state_path + ".top", self.state_path):
            settle(path)  # a write of it this process deferred (warm.later) must not bring it back
            try:
                os.unlink(path)
            except OSError:
                pass
        if os.path.lexists(self.spare_path):
            shutil.rmtree(self.spare_path, ignore_errors=True)

    def _update_spare(self, spare: Manifest, found: Scan, wanted: Wanted, need_dirs: set[str],
                      only: set[str] | None = None) -> tuple[set[str], set[str]]:
        """Make the spare hold ``wanted``, touching only what differs: the files written or
        linked, and the folders whose entries changed (to be stat'ed again). ``only``: the paths
        where the spare or ``wanted`` may differ from the live tree (every other file of the
        spare is the very inode of the live one, which ``wanted`` keeps): only those are looked at."""
        top, had_dirs = self.spare_path, set(spare.dirs)
        gone = [rel for rel in (spare.files if only is None else sorted(only)) if rel in spare.files and rel not in wanted]
        for rel in gone:
            os.unlink(os.path.join(top, rel))
        for rel in sorted(had_dirs - need_dirs, key=lambda r: -r.count("/")):
            os.rmdir(os.path.join(top, rel))
        for rel in sorted(need_dirs - had_dirs):
            os.mkdir(os.path.join(top, rel))
        touched: set[str] = set()
        for rel in wanted if only is None else sorted(r for r in only if r in wanted):
            digest, data = wanted[rel]
            have, live = spare.files.get(rel), found.files.get(rel)
            if have is not None and live is not None and have[0][4] == live[0][4] and live[1] == digest:
                continue  # the very inode of the live file, whose content was just checked
            source = os.path.join(self.top, rel) if live is not None and live[1] == digest else None
            _put(os.path.join(top, rel), data, source)
            touched.add(rel)
        changed = [*touched, *gone, *(had_dirs ^ need_dirs)]
        self._ours = {"", *changed}  # "": the tree's own folder, moved by the exchange
        return touched, (_dirs_of(changed) | (need_dirs - had_dirs)) & need_dirs

    def _lag(self, spare: Manifest) -> set[str] | None:
        """Where the spare may differ from the live tree (the paths the last change touched), when
        this process made both: None when that is not known for this very pair of trees."""
        known = self._known
        lag = scope(("spare-lag", self.top), None).hit("lag")
        if lag is None or known is None or not self._from_known or (lag[0], lag[1]) != (known.token, spare.token):
            return None
        return set(lag[2])

    def _remember_lag(self, live: str, spare: str, touched: set[str], removed: list[str]) -> None:
        """After an exchange: the trees ``live`` and ``spare`` differ at most where it touched or removed."""
        scope(("spare-lag", self.top), None).put("lag", (live, spare, frozenset(touched | set(removed))))

    def _adopt(self, old_tree: str) -> bool:
        """Move the tree that was live (now at ``old_tree``) to the spare's place."""
        try:
            if os.path.lexists(self.spare_path):
                self._drop_spare()
            os.makedirs(os.path.dirname(self.spare_path), exist_ok=True)
            os.rename(old_tree, self.spare_path)
            return True
        except OSError:
            return False

    def _keep_spare(self, found: Scan) -> str:
        """Record the spare: the tree that was live, as ``found`` (the live manifest itself is
        moved over when ``found`` is it), and its own folder's stat where it now is; its token."""
        settle(self.manifest_path, self.state_path)  # what this process deferred is on disk, to be moved over
        if self._from_known and self._known is not None and os.path.exists(self.manifest_path):
            os.replace(self.manifest_path, self.state_path)  # the live one is written anew right after
            token = self._known.token
        else:
            token = os.urandom(8).hex()
            save_manifest(self.state_path, found.manifest(token))
        write_framed(self.state_path + ".top", {"format": 2, "top": self.top, "stat": stat_of(os.lstat(self.spare_path)), "token": token})
        if self.watch is not None:
            self.watch.spares[self.spare_path] = (token, self._mark)
        return token

def _clean_leftovers(folder: str, env: str) -> None:
    """Remove the temp trees (``.<env>.*``) a crashed render left beside ``rendered/<env>``."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(f".{env}.") and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
