"""Earlier validation results, so ``validate`` checks again only what changed.

Kept per environment (``validate-<env>`` in the repo's cache folder, a framed file: a missing,
truncated or damaged one reads as empty, ``fingerprint.read_framed``), under one key of
everything besides a file's bytes that decides its result (the environment's settings, the
schemas, servespec's code, :meth:`ValidationCache.env_key`): the digest every file had when it
was checked, its result (written only when it is not :data:`CLEAN`, which most are), and the
problems of the tree's kustomization listing under a key of its own. A stale entry can only
miss: a result is reused only for a file whose digest is the one it was checked with.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from ..errors import Problem
from ..overlay import Env
from .fingerprint import read_framed, repo_dir, write_framed
from .store import code_fingerprint

__all__ = ["ValidationCache", "EnvResults", "FileResult", "CLEAN"]

_FORMAT = 3

FileResult = tuple[tuple[Problem, ...], tuple[Problem, ...], tuple[str, ...], int, "tuple[str, ...] | None"]
"""(problems reading the file, problems of its objects, notes, objects, its kustomization's resources)."""

CLEAN: FileResult = ((), (), (), 1, None)
"""The result of most files: one object, nothing wrong."""

Listing = tuple[bytes, tuple[Problem, ...]]
"""(key of the file names and kustomization files it was computed from, its problems)."""


class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


def _problems(raw: Any) -> tuple[Problem, ...]:
    return tuple(Problem(*p) for p in raw)


def _encode(result: FileResult) -> tuple[Any, ...]:
    unread, problems, notes, objects, resources = result
    return (tuple((p.file, p.line, p.field, p.message) for p in unread),
            tuple((p.file, p.line, p.field, p.message) for p in problems), notes, objects, resources)


def _decode(raw: Any) -> FileResult:
    unread, problems, notes, objects, resources = raw
    return _problems(unread), _problems(problems), tuple(notes), int(objects), None if resources is None else tuple(resources)


class EnvResults:
    """One environment's earlier results under one key (empty when there are none)."""

    def __init__(self, digests: dict[str, bytes] | None = None, results: dict[str, Any] | None = None,
                 listing: tuple[bytes, Any] | None = None):
        self.digests: dict[str, bytes] = digests or {}
        """File (relative to ``rendered/<env>/``) -> the digest of the bytes its result is for."""
        self.encoded: dict[str, Any] = results or {}
        """File -> its result as plain data, for every file whose result is not :data:`CLEAN`."""
        self.listing_raw = listing

    def get(self, rel: str, digest: bytes) -> FileResult | None:
        """The earlier result of ``rel`` when it was checked with these bytes, else None."""
        if self.digests.get(rel) != digest:
            return None
        raw = self.encoded.get(rel)
        return CLEAN if raw is None else _decode(raw)

    def listing(self, key: bytes) -> tuple[Problem, ...] | None:
        """The listing's problems when they were computed under ``key``, else None."""
        if self.listing_raw is None or self.listing_raw[0] != key:
            return None
        return _problems(self.listing_raw[1])


class ValidationCache:
    """Earlier results per rendered file, per environment."""

    def __init__(self, root: Path, enabled: bool = True):
        self.enabled = enabled
        self.folder = repo_dir(str(root.resolve()))
        self._loaded: dict[str, tuple[bytes, EnvResults]] = {}
        self._new: dict[str, dict[str, Any]] = {}

    def env_key(self, env: Env, registry: _Fingerprinted) -> bytes:
        """What decides a file's result besides its bytes."""
        h = hashlib.sha256(code_fingerprint().encode())
        h.update(env.name.encode())
        h.update(env.overlay.model_dump_json().encode())
        h.update(registry.fingerprint().encode())
        return h.digest()

    def earlier(self, env: str, key: bytes) -> EnvResults:
        """The results kept for ``env`` under ``key`` (empty when none, stale or unreadable)."""
        if env not in self._loaded:
            raw = read_framed(os.path.join(self.folder, f"validate-{env}")) if self.enabled else None
            ok = (isinstance(raw, dict) and raw.get("format") == _FORMAT and isinstance(raw.get("key"), bytes)
                  and isinstance(raw.get("digests"), dict) and isinstance(raw.get("results"), dict))
            if ok and isinstance(raw, dict):
                self._loaded[env] = (raw["key"], EnvResults(raw["digests"], raw["results"], raw.get("listing")))
            else:
                self._loaded[env] = (b"", EnvResults())
        found_key, results = self._loaded[env]
        return results if found_key == key else EnvResults()

    def put(self, env: str, key: bytes, digests: dict[str, bytes], results: dict[str, FileResult], listing: Listing) -> None:
        """Every file's result in ``env`` now (replacing the earlier ones), to be written by :meth:`save`."""
        if not self.enabled:
            return
        table = {"format": _FORMAT, "key": key, "digests": digests,
                 "results": {rel: _encode(res) for rel, res in results.items() if res != CLEAN},
                 "listing": (listing[0], tuple((p.file, p.line, p.field, p.message) for p in listing[1]))}
        old_key, old = self._loaded.get(env, (b"", EnvResults()))
        if (old_key, old.digests, old.encoded, old.listing_raw) != (key, digests, table["results"], table["listing"]):
            self._new[env] = table

    def save(self) -> None:
        """Write the tables that changed (a failure to write is no error: the next run checks again)."""
        for env, table in sorted(self._new.items()):
            write_framed(os.path.join(self.folder, f"validate-{env}"), table)
        self._new = {}
