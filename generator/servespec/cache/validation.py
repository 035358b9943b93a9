"""Earlier validation results, so ``validate`` checks again only what changed.

Kept per environment in the repo's cache folder, in framed files (a missing, truncated or
damaged one reads as empty, ``fingerprint.read_framed``), under one key of everything besides a
file's bytes that decides its result (the environment's settings, the schemas, servespec's
code, :meth:`ValidationCache.env_key`): the digest every file had when it was checked, its
result (written only when it is not :data:`CLEAN`, which most are), and the problems of the
tree's kustomization listing under a key of its own. ``validate-<env>`` holds a whole table;
``validate-<env>.delta`` what changed since (so that a small change writes a small file), valid
only with the table it names. A stale entry can only miss: a result is reused only for a file
whose digest is the one it was checked with.

A large ``render`` puts results here too, for the files its workers write
(``validate/tree.record_rendered``, under the key of a ``validate`` without ``--crds``), so that
the validate after it checks nothing again; a table written for ``--crds`` schemas says so and is
left to that validate.

``validate-base`` keeps, by the git tree id of ``rendered/`` at the commit validate compares
with, the blob id of each InferenceService file there (``validate/kserve.py``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from ..errors import Problem
from ..overlay import Env
from .fingerprint import code_digest, read_framed, repo_dir, write_framed

__all__ = ["ValidationCache", "EnvResults", "FileResult", "CLEAN"]

_FORMAT = 4

FileResult = tuple[tuple[Problem, ...], tuple[Problem, ...], tuple[str, ...], int, "tuple[str, ...] | None"]
"""(problems reading the file, problems of its objects, notes, objects, its kustomization's resources)."""

CLEAN: FileResult = ((), (), (), 1, None)
"""The result of most files: one object, nothing wrong."""

DELTA_MAX = 256
"""Changes kept in a delta before the whole table is written again (or an eighth of the table, if more)."""

Listing = tuple[bytes, tuple[Problem, ...]]
"""(key of the file names and kustomization files it was computed from, its problems)."""


class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


def _problems(raw: Any) -> tuple[Problem, ...]:
    return tuple(Problem(*p) for p in raw) if raw else ()


def _plain(problems: tuple[Problem, ...]) -> tuple[Any, ...]:
    return tuple((p.file, p.line, p.field, p.message) for p in problems)


def _encode(result: FileResult) -> tuple[Any, ...]:
    unread, problems, notes, objects, resources = result
    return _plain(unread), _plain(problems), notes, objects, resources


class EnvResults:
    """One environment's earlier results under one key (empty when there are none)."""

    def __init__(self, digests: dict[str, bytes] | None = None, results: dict[str, Any] | None = None,
                 listing: tuple[bytes, Any] | None = None):
        self.digests: dict[str, bytes] = digests if digests is not None else {}
        """File (relative to ``rendered/<env>/``) -> the digest of the bytes its result is for."""
        self.encoded: dict[str, Any] = results if results is not None else {}
        """File -> its result as plain data, for every file whose result is not :data:`CLEAN`."""
        self.listing_raw = listing

    def result(self, rel: str) -> FileResult:
        """The result kept for ``rel`` (for the digest :attr:`digests` has)."""
        raw = self.encoded.get(rel)
        if raw is None:
            return CLEAN
        unread, problems, notes, objects, resources = raw
        return _problems(unread), _problems(problems), tuple(notes), int(objects), None if resources is None else tuple(resources)

    def get(self, rel: str, digest: bytes) -> FileResult | None:
        """The earlier result of ``rel`` when it was checked with these bytes, else None."""
        return self.result(rel) if self.digests.get(rel) == digest else None

    def listing(self, key: bytes) -> tuple[Problem, ...] | None:
        """The listing's problems when they were computed under ``key``, else None."""
        if self.listing_raw is None or self.listing_raw[0] != key:
            return None
        return _problems(self.listing_raw[1])


_CLEAN_RAW = _encode(CLEAN)
_EMPTY: dict[str, Any] = {"digests": {}, "results": {}, "removed": []}


def _table(raw: object) -> dict[str, Any] | None:
    """A table (whole or delta) as written by :meth:`ValidationCache.save`, or None."""
    ok = (isinstance(raw, dict) and raw.get("format") == _FORMAT and isinstance(raw.get("key"), bytes)
          and isinstance(raw.get("token"), bytes) and isinstance(raw.get("digests"), dict) and isinstance(raw.get("results"), dict)
          and isinstance(raw.get("removed"), list))
    return raw if ok and isinstance(raw, dict) else None


class ValidationCache:
    """Earlier results per rendered file, per environment."""

    def __init__(self, root: Path, enabled: bool = True, custom: bool = False):
        self.enabled = enabled
        self.custom = custom
        """Results computed with schemas of the user's (``validate --crds``): tables written say so,
        and a render does not replace such a table with results for the default schemas."""
        self._custom: dict[str, bool] = {}
        self.folder = repo_dir(str(root.resolve()))
        self._loaded: dict[str, tuple[bytes, bytes, EnvResults, dict[str, Any]]] = {}
        """env -> (key, the whole table's token, the results with the delta applied, the delta)."""
        self._writes: dict[str, tuple[str, dict[str, Any]]] = {}
        self._base: dict[str, Any] | None = None

    def env_key(self, env: Env, registry: _Fingerprinted) -> bytes:
        """What decides a file's result besides its bytes."""
        h = hashlib.sha256(code_digest().encode())
        h.update(env.name.encode())
        h.update(env.overlay.model_dump_json().encode())
        h.update(registry.fingerprint().encode())
        return h.digest()

    def _load(self, env: str) -> tuple[bytes, bytes, EnvResults, dict[str, Any]]:
        if env not in self._loaded:
            path = os.path.join(self.folder, f"validate-{env}")
            base = _table(read_framed(path) if self.enabled else None)
            delta = _table(read_framed(f"{path}.delta")) if base is not None else None
            if base is None:
                self._loaded[env] = (b"", b"", EnvResults(), _EMPTY)
                return self._loaded[env]
            self._custom[env] = base.get("custom") is True
            found = EnvResults(dict(base["digests"]), dict(base["results"]), base.get("listing"))
            if delta is None or delta["token"] != base["token"] or delta["key"] != base["key"]:
                delta = _EMPTY
            else:
                found.digests.update(delta["digests"])
                for rel in [*delta["digests"], *delta["removed"]]:
                    found.encoded.pop(rel, None)
                for rel in delta["removed"]:
                    found.digests.pop(rel, None)
                found.encoded.update(delta["results"])
                found.listing_raw = delta.get("listing")
            self._loaded[env] = (base["key"], base["token"], found, delta)
        return self._loaded[env]

    def custom_kept(self, env: str) -> bool:
        """True when the table kept for ``env`` holds results for schemas of the user's (``--crds``)."""
        self._load(env)
        return self._custom.get(env, False)

    def earlier(self, env: str, key: bytes) -> EnvResults:
        """The results kept for ``env`` under ``key`` (empty when none, stale or unreadable)."""
        found_key, _token, results, _delta = self._load(env)
        return results if found_key == key else EnvResults()

    def put(self, env: str, key: bytes, digests: dict[str, bytes], results: dict[str, FileResult], checked: list[str],
            listing: Listing) -> None:
        """The results of ``env`` now (``checked``: the files whose results were computed now,
        every other one is the earlier result), to be written by :meth:`save`: the changes since
        the whole table was written, or a whole table when they are many (or the key changed)."""
        if not self.enabled:
            return
        old_key, token, old, delta = self._load(env)
        plain_listing = (listing[0], _plain(listing[1]))
        removed = old.digests.keys() - digests.keys() if old_key == key else set()
        if old_key == key and not checked and not removed and old.listing_raw == plain_listing:
            return
        changed = {rel: digest for rel, digest in delta["digests"].items() if rel in digests}
        changed.update((rel, digests[rel]) for rel in checked)
        gone = sorted((removed | set(delta["removed"])) - changed.keys())
        if old_key != key or len(changed) + len(gone) > max(DELTA_MAX, len(digests) // 8):
            self._writes[env] = ("whole", {"format": _FORMAT, "key": key, "token": os.urandom(8), "custom": self.custom, "digests": digests,
                                           "results": {rel: _encode(res) for rel, res in results.items() if res != CLEAN},
                                           "listing": plain_listing, "removed": []})
            return
        kept = {rel: raw for rel, raw in delta["results"].items() if rel in changed}
        kept.update((rel, _encode(results[rel])) for rel in checked)
        self._writes[env] = ("delta", {"format": _FORMAT, "key": key, "token": token, "digests": changed, "removed": gone,
                                       "results": {rel: raw for rel, raw in kept.items() if raw != _CLEAN_RAW},
                                       "listing": plain_listing})

    def base_blobs(self, tree: str) -> dict[str, dict[str, str]] | None:
        """env -> (InferenceService file -> blob id) kept for the git tree ``tree`` of ``rendered/``, or None."""
        raw = read_framed(os.path.join(self.folder, "validate-base")) if self.enabled else None
        ok = isinstance(raw, dict) and raw.get("format") == _FORMAT and raw.get("tree") == tree and isinstance(raw.get("envs"), dict)
        return raw["envs"] if ok and isinstance(raw, dict) else None

    def put_base_blobs(self, tree: str, envs: dict[str, dict[str, str]]) -> None:
        """Keep what :meth:`base_blobs` gives for ``tree`` (written by :meth:`save`)."""
        if self.enabled:
            self._base = {"format": _FORMAT, "tree": tree, "envs": envs}

    def save(self) -> None:
        """Write the tables that changed (a failure to write is no error: the next run checks again)."""
        for env, (kind, table) in sorted(self._writes.items()):
            path = os.path.join(self.folder, f"validate-{env}")
            write_framed(path if kind == "whole" else f"{path}.delta", table)
        if self._base is not None:
            write_framed(os.path.join(self.folder, "validate-base"), self._base)
        self._writes, self._base = {}, None
