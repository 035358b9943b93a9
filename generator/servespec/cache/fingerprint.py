"""Fingerprints of what a render reads, and the framed files servespec's caches are kept in.

Standard library only, and cheap: the CLI's fast path (``cli/fastpath.py``) uses this module
before pydantic, click or any spec module is imported.

- :func:`code_digest`: servespec's own files (path, size, mtime), Python's version, and the
  folders installed packages live in (installing, removing or upgrading a package changes them).
- :func:`inputs_digest`: the code, plus every file under ``specs/`` and ``overlays/`` (by
  content), plus the modules outside ``specs/`` that spec modules imported (``deps``: recorded by
  the loader), plus ``SERVESPEC_SPEC_TIMEOUT``.
- :func:`read_framed` / :func:`write_framed`: a cache file is a magic string, the blake2b of its
  payload and the payload (``marshal``); a missing, truncated or corrupted file reads as None and
  is rebuilt, never trusted. A daemon writes them after replying (``warm.later``).
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from hashlib import blake2b, sha1

from . import warm

__all__ = ["cache_dir", "repo_dir", "code_digest", "base_digest", "deps_digest", "inputs_digest", "file_digest", "read_framed",
           "write_framed", "INPUT_FOLDERS", "ENV_VARS"]

MAGIC = b"servespec-cache\x02"
INPUT_FOLDERS = ("specs", "overlays")
"""Folders of the repo whose every file is an input of the render."""
ENV_VARS = ("SERVESPEC_SPEC_TIMEOUT",)
"""Environment variables that can change what a render does."""
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CODE: str | None = None


def cache_dir() -> str:
    """``$SERVESPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/servespec`` or ``~/.cache/servespec``."""
    return os.environ.get("SERVESPEC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "servespec")


def repo_dir(root: str) -> str:
    """The cache folder of the repo at ``root`` (an absolute, resolved path)."""
    return os.path.join(cache_dir(), "repo-" + blake2b(root.encode(), digest_size=8).hexdigest())


def file_digest(data: bytes) -> bytes:
    """Content digest of a file: its git blob id (20 bytes), so a rendered file is compared with
    a commit's without being read again."""
    return sha1(b"blob %d\0" % len(data) + data).digest()


def code_digest(fresh: bool = False) -> str:
    """Changes whenever the code that shapes output or verdicts could have: servespec's files,
    Python's version, the installed packages (their folders' mtimes). Computed once per process,
    or again with ``fresh`` (a daemon outlives any one version of the files)."""
    global _CODE
    if _CODE is None or fresh:
        h = blake2b(digest_size=16)
        h.update(f"{sys.version}\0{sys.implementation.cache_tag}\0{_PACKAGE}\n".encode())
        for rel, st in _walk_stat(_PACKAGE):
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        for entry in sorted(set(sys.path)):
            if entry.endswith(("site-packages", "dist-packages")):
                try:
                    h.update(f"{entry}\0{os.stat(entry).st_mtime_ns}\n".encode())
                except OSError:
                    pass
        _CODE = h.hexdigest()
    return _CODE


def _walk_stat(top: str) -> list[tuple[str, os.stat_result]]:
    """``(relative path, lstat)`` of every file below ``top``, sorted; ``__pycache__`` and
    dot-folders skipped. A symlink counts as a file (its own lstat), never followed."""
    out: list[tuple[str, os.stat_result]] = []
    stack = [("", top)]
    while stack:
        prefix, here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__" and not entry.name.startswith("."):
                    stack.append((prefix + entry.name + "/", entry.path))
            else:
                out.append((prefix + entry.name, entry.stat(follow_symlinks=False)))
    out.sort(key=lambda item: item[0])
    return out


_SEEN: dict[str, tuple[tuple[int, int, int], bytes]] | None = None
"""File digests read by the running command, with the stat they were read at (:func:`content`);
None outside a command."""


@contextmanager
def command() -> Iterator[None]:
    """A command runs (``cli.main``): each input file is read once while its stat stays the
    same; the next command reads it again (an edit that keeps a file's size and puts its mtime
    back is new content then)."""
    global _SEEN
    _SEEN = {}
    try:
        yield
    finally:
        _SEEN = None


def content(path: str, st: os.stat_result | None = None) -> bytes:
    """A file's digest, read once per command while its stat stays the same (the no-op check,
    the render's record and the spec cache all ask for every spec file); a symlink is its
    target's text (never followed), a missing file is ``missing``."""
    try:
        st = st if st is not None else os.lstat(path)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        seen = _SEEN.get(path) if _SEEN is not None else None
        if seen is not None and seen[0] == stamp:
            return seen[1]
        if stat.S_ISLNK(st.st_mode):
            out = b"link:" + os.fsencode(os.readlink(path))
        else:
            with open(path, "rb") as f:
                out = file_digest(f.read())
    except OSError:
        return b"missing"
    if _SEEN is not None:
        _SEEN[path] = (stamp, out)
    return out


def base_digest(root: str) -> str:
    """The code, the environment variables that matter and every file under ``specs/`` and
    ``overlays/`` (by content), as one digest."""
    h = blake2b(digest_size=16)
    h.update(code_digest().encode())
    for var in ENV_VARS:
        h.update(f"{var}={os.environ.get(var, '')}\n".encode())
    for folder in INPUT_FOLDERS:
        base = os.path.join(root, folder)
        for rel, st in _walk_stat(base):
            h.update(f"{folder}/{rel}\0".encode())
            h.update(content(os.path.join(base, rel), st))
    return h.hexdigest()


def deps_digest(root: str, deps: list[str] | tuple[str, ...]) -> str:
    """Modules outside ``specs/`` that spec modules imported: inside the repo by content,
    elsewhere (installed libraries) by size and mtime."""
    h = blake2b(digest_size=16)
    prefix = root.rstrip("/") + "/"
    for dep in sorted(deps):
        h.update(f"dep {dep}\0".encode())
        if dep.startswith(prefix):
            h.update(content(dep))
        else:
            try:
                st = os.stat(dep)
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(b"missing")
    return h.hexdigest()


def inputs_digest(root: str, deps: list[str] | tuple[str, ...] = (), base: str | None = None) -> str:
    """Everything a render of ``root`` reads besides ``rendered/`` itself, as one digest:
    :func:`base_digest` (``base`` when already computed) and :func:`deps_digest`."""
    return blake2b(f"{base or base_digest(root)}:{deps_digest(root, deps)}".encode(), digest_size=16).hexdigest()


def _check(payload: bytes) -> bytes:
    return blake2b(payload, digest_size=16).digest()


def read_framed(path: str) -> object | None:
    """The value kept in a framed cache file, or None when it is missing, truncated or corrupted."""
    warm.settle(path)  # a write of it this process deferred is made first
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = len(MAGIC) + 16
    if len(raw) < head or raw[:len(MAGIC)] != MAGIC or _check(raw[head:]) != raw[len(MAGIC):head]:
        return None
    try:
        value: object = marshal.loads(raw[head:])
    except (ValueError, EOFError, TypeError):
        return None
    return value


def write_framed(path: str, value: object, then: Callable[[], None] | None = None) -> bool:
    """Keep ``value`` (plain data: dict, list, tuple, str, bytes, int, None) in a framed cache
    file, atomically, then run ``then`` (e.g. remember what the file now holds); False when it
    cannot be written (the next run rebuilds it). In a process that defers its cache writes (a
    daemon, ``warm.later``) the file is written after the command was answered: True then, and
    ``value`` must not change until the write (callers pass what they no longer change)."""
    done = [False]

    def write() -> None:
        done[0] = _write_framed(path, value)
        if done[0] and then is not None:
            then()

    return warm.later(write, path) or done[0]


def _write_framed(path: str, value: object) -> bool:
    try:
        payload = marshal.dumps(value)  # type: ignore[arg-type]  # marshal itself refuses anything but plain data
    except ValueError:
        return False
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(MAGIC + _check(payload) + payload)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
