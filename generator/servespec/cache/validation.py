"""Earlier validation results, so ``validate`` checks again only what changed.

Kept per environment (``validate-<env>`` in the repo's cache folder, so validating one env
loads one table): per rendered file, its result under a key of its content digest and
everything else that decides the result (the environment's settings, the schemas, servespec's
code). A stale entry can only miss.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

from ..overlay import Env
from .fingerprint import repo_dir
from .store import code_fingerprint, load_pickle, save_pickle

__all__ = ["ValidationCache"]

_FORMAT = 2


class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


class ValidationCache:
    """Earlier results per rendered file."""

    def __init__(self, root: Path, enabled: bool = True):
        self.enabled = enabled
        self.folder = Path(repo_dir(str(root.resolve())))
        self._tables: dict[str, dict[str, dict[Any, Any]]] = {}
        self._dirty: set[str] = set()

    def _table(self, env: str) -> dict[str, dict[Any, Any]]:
        if env not in self._tables:
            data = load_pickle(self.folder / f"validate-{env}") if self.enabled else None
            ok = isinstance(data, dict) and data.get("format") == _FORMAT and data.get("code") == code_fingerprint()
            self._tables[env] = {"files": dict(data["files"])} if ok and isinstance(data, dict) else {"files": {}}
        return self._tables[env]

    def env_key(self, env: Env, registry: _Fingerprinted) -> bytes:
        """What decides a file's result besides its bytes."""
        h = hashlib.sha256(code_fingerprint().encode())
        h.update(env.name.encode())
        h.update(env.overlay.model_dump_json().encode())
        h.update(registry.fingerprint().encode())
        return h.digest()

    def get(self, env: str, rel: str, key: bytes) -> Any:
        """The earlier result of ``rel`` under ``key``, or None."""
        hit = self._table(env)["files"].get(rel) if self.enabled else None
        return hit[1] if hit is not None and hit[0] == key else None

    def put(self, env: str, entries: dict[str, tuple[bytes, Any]]) -> None:
        """The results of every file of ``env`` now (replacing the earlier ones)."""
        table = self._table(env)
        if self.enabled and table["files"] != entries:
            table["files"] = entries
            self._dirty.add(env)

    def save(self) -> None:
        """Write the tables that changed."""
        for env in sorted(self._dirty) if self.enabled else ():
            table = self._tables[env]
            save_pickle(self.folder / f"validate-{env}", {"format": _FORMAT, "code": code_fingerprint(), **table})
        self._dirty = set()

