"""Where servespec keeps its caches, and the fingerprint of the code every cache entry carries."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ["cache_dir", "code_fingerprint"]


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
        from importlib import metadata

        h = hashlib.sha256(sys.version.encode())
        package = Path(__file__).parent
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
