"""Where servespec keeps its caches, and the fingerprint of the code every cache entry carries."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write
from . import fingerprint

__all__ = ["cache_dir", "code_fingerprint", "load_pickle", "save_pickle", "repo_cache_path"]


def cache_dir() -> Path:
    """``$SERVESPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/servespec`` or ``~/.cache/servespec``."""
    return Path(fingerprint.cache_dir())


def code_fingerprint() -> str:
    """Changes whenever the code that shapes output or verdicts could have changed: the
    package's files (size and mtime), Python's version, the installed packages
    (``fingerprint.code_digest``)."""
    return fingerprint.code_digest()


def repo_cache_path(kind: str, root: Path) -> Path:
    """The cache file of one kind (``render``, ``validate``) for the repo at ``root``."""
    return cache_dir() / f"{kind}-{hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]}.pickle"


def load_pickle(path: Path) -> Any:
    """A cache file's content, or None when it is missing or unreadable (then start empty)."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # noqa: BLE001 - a truncated or corrupted pickle can raise almost anything: start empty
        return None


def save_pickle(path: Path, data: Any) -> bool:
    """Write a cache file atomically; a failure to write is not an error (the next run rebuilds)."""
    try:
        atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), mkdir=True)
        return True
    except OSError:
        return False
