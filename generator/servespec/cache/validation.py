"""Earlier validation results per rendered file, so ``validate`` re-checks only what changed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

from ..overlay import Env
from .store import code_fingerprint, load_pickle, repo_cache_path, save_pickle

__all__ = ["ValidationCache"]


class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


class ValidationCache:
    """Earlier results per rendered file, keyed by its bytes and everything else that decides
    the result (environment settings, the schemas, servespec's code)."""

    def __init__(self, root: Path, enabled: bool = True):
        self.enabled = enabled
        self.path = repo_cache_path("validate", root)
        self._dirty = False
        data = load_pickle(self.path) if enabled else None
        self.table: dict[str, dict[str, tuple[bytes, Any]]] = data if isinstance(data, dict) else {}

    def env_key(self, env: Env, registry: _Fingerprinted) -> bytes:
        h = hashlib.sha256(code_fingerprint().encode())
        h.update(env.name.encode())
        h.update(env.overlay.model_dump_json().encode())
        h.update(registry.fingerprint().encode())
        return h.digest()

    def get(self, env: str, rel: str, key: bytes) -> Any:
        hit = self.table.get(env, {}).get(rel) if self.enabled else None
        return hit[1] if hit is not None and hit[0] == key else None

    def put(self, env: str, entries: dict[str, tuple[bytes, Any]]) -> None:
        if self.enabled and self.table.get(env) != entries:
            self.table[env] = entries
            self._dirty = True

    def save(self) -> None:
        if self.enabled and self._dirty:
            self._dirty = not save_pickle(self.path, self.table)
