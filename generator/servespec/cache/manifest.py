"""What servespec last left in a tree (``rendered/<env>/`` or its spare copy): every folder's and
every file's ``lstat``, and every file's digest.

An unchanged tree is recognized from ``lstat`` alone (:meth:`Manifest.unchanged`); a changed one
is read only where the stat changed (:func:`scan`); ``render --check`` proves a tree by reading
and hashing every file (:meth:`Manifest.proven`). Standard library only: the CLI's fast path
reads manifests before anything heavy is imported.
"""

from __future__ import annotations

import os
import stat as statmod

from .fingerprint import file_digest, read_framed, repo_dir, write_framed
from .warm import ByFile, TreeWatch, tree_watch

__all__ = ["Stat", "Manifest", "Scan", "stat_of", "scan", "load_manifest", "save_manifest", "manifest_path", "tree_view", "still_holds"]

_FORMAT = 2
"""Changes with the layout or the digest (``fingerprint.file_digest``): an older manifest is not read."""

Stat = tuple[int, int, int, int, int]
"""``(mode, size, mtime_ns, ctime_ns, inode)`` from ``lstat``: a same-size edit with the mtime put
back still moves ctime; a file replaced by a rename has another inode; a folder's mtime moves when
an entry is added, removed or renamed in it."""


def stat_of(st: os.stat_result) -> Stat:
    """The :data:`Stat` of an ``lstat`` result."""
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _join(top: str, rel: str) -> str:
    return f"{top}/{rel}" if rel else top


class Manifest:
    """One tree as servespec left it, never changed once made (a plain class: ``dataclasses`` costs the fast path 15 ms)."""

    def __init__(self, dirs: dict[str, Stat] | None = None, files: dict[str, tuple[Stat, bytes]] | None = None, token: str = ""):
        self.dirs: dict[str, Stat] = dirs if dirs is not None else {}
        """Folder (relative; ``""`` is the tree's own) -> its stat."""
        self.files: dict[str, tuple[Stat, bytes]] = files if files is not None else {}
        """File (relative, POSIX) -> (its stat, its content digest)."""
        self.token = token
        """Changes with every write of the tree: the render record names the manifest it trusts."""

    def digests(self) -> dict[str, bytes]:
        """``path -> digest`` of every file."""
        return {rel: digest for rel, (_st, digest) in self.files.items()}

    def unchanged(self, top: str) -> bool:
        """True when every folder and file under ``top`` still has its recorded stat (an added
        or removed entry moves its folder's mtime; an edit moves the file's ctime)."""
        lstat = os.lstat
        try:
            for rel, want in self.dirs.items():
                st = lstat(_join(top, rel))
                if (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != want:
                    return False
            for rel, (want, _digest) in self.files.items():
                st = lstat(f"{top}/{rel}")
                if (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != want:
                    return False
        except OSError:
            return False
        return bool(self.dirs)

    def proven(self, top: str) -> bool:
        """True when ``top`` holds exactly these files with exactly these bytes (each one read and
        hashed: no stat is trusted) and no symbolic link."""
        found = scan(top, None)
        if found.links or not found.dirs or set(found.files) != set(self.files):
            return False
        return all(found.files[rel][1] == digest for rel, (_st, digest) in self.files.items())


class Scan:
    """A tree as found on disk."""

    def __init__(self, dirs: dict[str, Stat] | None = None, files: dict[str, tuple[Stat, bytes]] | None = None):
        self.dirs: dict[str, Stat] = dirs if dirs is not None else {}
        self.files: dict[str, tuple[Stat, bytes]] = files if files is not None else {}
        self.links: list[str] = []
        """Symbolic links found (relative paths), never followed."""
        self.read = 0
        """Files read and hashed because their stat was not the recorded one."""
        self.token = ""
        """The token of the manifest the tree was found exactly as (nothing walked: ``tree_view``)."""

    def manifest(self, token: str = "") -> Manifest:
        return Manifest(dict(self.dirs), dict(self.files), token)


def scan(top: str, known: Manifest | None) -> Scan:
    """Walk ``top``: the stat of every entry and the digest of every file, reading only files
    whose stat differs from ``known`` (None: read everything). A missing ``top`` is empty."""
    out = Scan()
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return out
    if statmod.S_ISLNK(st.st_mode):
        out.links.append("")
        return out
    out.dirs[""] = stat_of(st)
    old = known.files if known is not None else {}
    stack = [("", top)]
    while stack:
        prefix, here = stack.pop()
        with os.scandir(here) as entries:
            listed = list(entries)
        for entry in listed:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if statmod.S_ISLNK(mode):
                out.links.append(rel)
            elif statmod.S_ISDIR(mode):
                out.dirs[rel] = stat_of(st)
                stack.append((rel + "/", entry.path))
            else:
                now = stat_of(st)
                was = old.get(rel)
                if was is not None and was[0] == now:
                    out.files[rel] = was
                else:
                    with open(entry.path, "rb") as f:
                        out.files[rel] = (now, file_digest(f.read()))
                    out.read += 1
    out.links.sort()
    return out


_KEPT = ByFile(16)
"""Manifests this process read or wrote (a long-lived process, ``servespec daemon``, does not
read them again)."""


def load_manifest(path: str) -> Manifest | None:
    """A saved manifest, or None (missing, corrupted, another format). Shared with whoever else
    loads or saved it in this process: a manifest is never changed once made (16,000 entries at
    10,000 models: a copy per use cost a daemon 4 ms per environment)."""
    kept = _KEPT.get(path)
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    raw = read_framed(path)
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        return None
    dirs, files, token = raw.get("dirs"), raw.get("files"), raw.get("token")
    if not isinstance(dirs, dict) or not isinstance(files, dict) or not isinstance(token, str):
        return None
    manifest = Manifest(dirs, files, token)
    _KEPT.put(path, manifest)
    return manifest


def save_manifest(path: str, manifest: Manifest) -> bool:
    """Keep a manifest (atomically; it is never changed afterwards); False when it cannot be written."""
    return write_framed(path, {"format": _FORMAT, "token": manifest.token, "dirs": manifest.dirs, "files": manifest.files},
                        lambda: _KEPT.put(path, manifest))


def manifest_path(root: str, env: str) -> str:
    """Where the manifest of ``rendered/<env>/`` of the repo at ``root`` (resolved) is kept."""
    return os.path.join(repo_dir(root), f"manifest-{env}")


def still_holds(top: str, manifest: Manifest, watch: TreeWatch | None = None) -> bool:
    """``manifest.unchanged(top)``; in a process that watches its trees (``cache/treewatch.py``),
    answered by the watch when it trusts the tree, and the watch armed when ``lstat`` proved it."""
    watch = watch if watch is not None else tree_watch(top)
    if watch is None:
        return manifest.unchanged(top)
    if watch.trusted(manifest.token):
        return True
    watch.reset()
    if not manifest.unchanged(top):
        return False
    watch.arm(top, list(manifest.dirs), manifest.token, set())
    return True


def tree_view(root: str, env: str, use_cache: bool = True) -> Scan:
    """``rendered/<env>/`` as it is: taken from the last render's manifest when every entry still
    has its recorded stat (nothing read), else walked, reading only files whose stat moved
    (everything without ``use_cache``)."""
    top = os.path.join(root, "rendered", env)
    known = load_manifest(manifest_path(root, env)) if use_cache else None
    if known is not None and still_holds(top, known):
        found = Scan(dict(known.dirs), dict(known.files))
        found.token = known.token
        return found
    return scan(top, known)
