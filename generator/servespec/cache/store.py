"""Where servespec keeps its caches, and the fingerprint of the code every cache entry carries."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write

__all__ = ["cache_dir", "code_fingerprint", "load_pickle", "save_pickle", "repo_cache_path"]


def cache_dir() -> Path:
    """``$SERVESPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/servespec`` or ``~/.cache/servespec``."""
    base = os.environ.get("SERVESPEC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "servespec")
    return Path(base)


_CODE: str | None = None


def code_fingerprint() -> str:
    """Changes whenever the code that shapes output or verdicts could have changed: the
    package's files (size and mtime), Python's version and the libraries that matter."""
    global _CODE
    if _CODE is None:
        h = hashlib.sha256(sys.version.encode())
        package = Path(__file__).parent.parent
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                st = path.stat()
                h.update(f"{path.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        for dist in ("PyYAML", "orjson", "grafana-foundation-sdk", "pydantic", "jsonschema", "kubernetes-validate"):
            try:
                h.update(f"{dist}={metadata.version(dist)}\n".encode())
            except metadata.PackageNotFoundError:
                pass
        _CODE = h.hexdigest()
    return _CODE


def repo_cache_path(kind: str, root: Path) -> Path:
    """The cache file of one kind (``render``, ``validate``) for the repo at ``root``."""
    return cache_dir() / f"{kind}-{hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]}.pickle"


def load_pickle(path: Path) -> Any:
    """A cache file's content, or None when it is missing or unreadable (then start empty)."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError):
        return None


def save_pickle(path: Path, data: Any) -> bool:
    """Write a cache file atomically; a failure to write is not an error (the next run rebuilds)."""
    try:
        atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), mkdir=True)
        return True
    except OSError:
        return False
