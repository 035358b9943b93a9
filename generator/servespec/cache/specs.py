"""The spec cache: what importing each spec module gave, kept between runs, so that a render
imports again only the modules whose source, or whose imports, changed.

One file per repo (``specs`` in the repo's cache folder, ``fingerprint.py``) holds, per spec
module, its key and its outcome (``specset.Outcome``, pickled): the key is the digest of its
source and of every file it may depend on (``Outcome.deps``: the modules loaded by the time it
was imported, besides servespec's own; inside the repo by content, elsewhere by size and mtime).
Modules whose declarations are shared objects (one ``S3Storage`` exported by two modules from a
helper) form a group, pickled together and imported again together, so that they stay one object.
Each model's declaration digest is kept too (the render cache keys on it).

Only successful loads are kept. A load that finds a kept declaration declared again runs again
without the cache (the two may be one object, exported by two modules from a helper), so a kept
outcome can never produce an error a cold load would not. Spec modules
are assumed to depend only on their source and what they import, not on the environment, the
clock or files they read: ``render --no-cache`` imports every module.
"""

from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable
from hashlib import blake2b
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..loader import Begun, begin_import, load_specs
from ..spec import Model
from ..specset import Outcome, SpecSet
from .fingerprint import base_digest, content, repo_dir
from .store import code_fingerprint, load_pickle, save_pickle
from .warm import ByFile, Scope, later, scope

__all__ = ["SpecCache", "Started", "start_render"]

_FORMAT = 1
Group = tuple[dict[str, str], bytes, dict[str, str]]
"""(spec file -> key, the pickled outcomes of those files in order, model -> declaration digest)."""


class SpecCache:
    """Kept spec-module outcomes of one repo; :meth:`load` is ``loader.load_specs`` with them."""

    def __init__(self, root: Path, enabled: bool = True):
        self.root, self.enabled = root.resolve(), enabled and hasattr(os, "fork")  # imports are traced in the child only
        self.path = Path(repo_dir(str(self.root))) / "specs"
        self.reused = 0
        """Modules whose kept outcome was used by the last :meth:`load`."""
        self._digests: dict[str, bytes] = {}
        self._begun: tuple[list[Group], dict[Path, Outcome], dict[str, str], Begun | None] | None = None
        self._memo: Scope | None = None

    @property
    def memo(self) -> Scope:
        """The outcomes unpickled by earlier loads in this process, by their group's keys: the
        same objects again, so that everything keyed on them downstream hits (``cache/warm.py``)."""
        if self._memo is None:
            self._memo = scope(("specs", str(self.root)), code_fingerprint())
        return self._memo

    def begin(self) -> None:
        """Start importing the modules whose key changed now, in a child (``loader.begin_import``):
        the caller does its own start-up meanwhile, then :meth:`load` takes the child over. A
        caller that fails before that calls :meth:`abandon`."""
        groups = self._groups()
        kept, digests = self._reuse(groups)
        self._begun = (groups, kept, digests, begin_import(self.root, kept))

    def abandon(self) -> None:
        """Stop the import :meth:`begin` started if :meth:`load` did not take it over."""
        if self._begun is not None and self._begun[3] is not None:
            self._begun[3].abandon()
        self._begun = None

    def load(self, meanwhile: Callable[[], None] | None = None) -> SpecSet:
        """Every spec module's declarations, importing only modules whose key changed
        (``meanwhile``: as ``loader.load_specs``; the import :meth:`begin` started, if any)."""
        groups, kept, digests, begun = self._begun or (*self._keys(), None)
        self._begun = None
        try:
            result = load_specs(self.root, kept, meanwhile, begun)
        except SpecError as exc:
            names = {item.name for out in kept.values() for item in out.items}
            if not any(p.field in names for p in exc.problems):  # not a duplicate of a kept declaration
                raise
            kept, digests = {}, {}  # one object exported by a kept and a fresh module: import both again
            result = load_specs(self.root)
        self.reused = len(kept)
        fresh = {path: out for path, out in result.outcomes.items() if path not in kept}
        result.digests = {**digests, **self._save(groups, kept, fresh)}
        return result

    def deps(self, result: SpecSet) -> list[str]:
        """Files outside ``specs/`` that spec modules imported (the fingerprint counts them)."""
        inside = str(self.root / "specs") + os.sep
        return sorted({d for out in result.outcomes.values() for d in out.deps if not d.startswith(inside)})

    def _keys(self) -> tuple[list[Group], dict[Path, Outcome], dict[str, str]]:
        groups = self._groups()
        return (groups, *self._reuse(groups))

    # -- keys ---------------------------------------------------------------------------------
    def _digest(self, path: str) -> bytes:
        """A file's digest: by content inside the repo, by size and mtime elsewhere."""
        if path not in self._digests:
            try:
                if path.startswith(str(self.root) + os.sep):
                    self._digests[path] = content(path)
                else:
                    st = os.stat(path)
                    self._digests[path] = f"{st.st_size}:{st.st_mtime_ns}".encode()
            except OSError:
                self._digests[path] = b"missing"
        return self._digests[path]

    def _key(self, path: Path, deps: list[str]) -> str:
        h = blake2b(self._digest(str(path)), digest_size=16)
        for dep in deps:
            h.update(dep.encode() + b"\0" + self._digest(dep))
        return h.hexdigest()

    # -- reading and writing ------------------------------------------------------------------
    def _groups(self) -> list[Group]:
        data = None
        if self.enabled:
            data = _KEPT.get(str(self.path))
            if data is None:
                data = load_pickle(self.path)
                _KEPT.put(str(self.path), data)
        ok = isinstance(data, dict) and data.get("format") == _FORMAT and data.get("code") == code_fingerprint()
        return list(data["groups"]) if ok and isinstance(data, dict) and isinstance(data.get("groups"), list) else []

    def _reuse(self, groups: list[Group]) -> tuple[dict[Path, Outcome], dict[str, str]]:
        """The outcomes of every group whose modules all still exist with their key."""
        kept: dict[Path, Outcome] = {}
        digests: dict[str, str] = {}
        for keys, blob, models in groups:
            paths = [self.root / "specs" / name for name in keys]
            try:
                if not all(p.is_file() for p in paths):
                    continue
                tag = tuple(sorted(keys.items()))
                outcomes = self.memo.hit(tag) or pickle.loads(blob)
                if not all(self._key(p, out.deps) == keys[p.name] for p, out in zip(paths, outcomes, strict=True)):
                    continue
                self.memo.put(tag, outcomes)
            except Exception:  # noqa: BLE001 - a corrupted entry is a miss
                continue
            kept.update(zip(paths, outcomes, strict=True))
            digests.update(models)
        return kept, digests

    def _save(self, groups: list[Group], kept: dict[Path, Outcome], fresh: dict[Path, Outcome]) -> dict[str, str]:
        """Keep the groups still valid and the fresh outcomes (grouped by shared objects); the
        declaration digests of the fresh models."""
        if not self.enabled:
            return {}
        digests: dict[str, str] = {}
        out = [g for g in groups if all(self.root / "specs" / name in kept for name in g[0])]
        for members in _shared(fresh):
            outcomes = [fresh[p] for p in members]
            models = {i.name: blake2b(i.model_dump_json().encode(), digest_size=16).hexdigest()
                      for o in outcomes for i in o.items if isinstance(i, Model)}
            digests.update(models)
            keys = {p.name: self._key(p, fresh[p].deps) for p in members}
            self.memo.put(tuple(sorted(keys.items())), outcomes)
            out.append((keys, pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL), models))
        if fresh or len(out) != len(groups):
            data = {"format": _FORMAT, "code": code_fingerprint(), "groups": out}
            later(functools.partial(_write, self.path, data), str(self.path))
        return digests


def _write(path: Path, data: dict[str, Any]) -> None:
    if save_pickle(path, data):
        _KEPT.put(str(path), data)


_KEPT = ByFile(2, code_fingerprint)
"""The groups this process last read or wrote (a daemon neither reads them again nor waits for their write)."""


def _shared(fresh: dict[Path, Outcome]) -> list[list[Path]]:
    """The fresh modules in groups: modules that export one and the same object are together."""
    owner: dict[int, Path] = {}
    parent = {p: p for p in fresh}

    def find(p: Path) -> Path:
        while parent[p] != p:
            p = parent[p]
        return p

    for path, outcome in fresh.items():
        for item in outcome.items:
            other = owner.setdefault(id(item), path)
            if other != path:
                parent[find(path)] = find(other)
    groups: dict[Path, list[Path]] = {}
    for path in sorted(fresh):
        groups.setdefault(find(path), []).append(path)
    return list(groups.values())


Started = tuple[str | None, SpecCache]
"""A render's first reads (:func:`start_render`)."""


def start_render(root: Path, check: bool = False, use_cache: bool = True) -> Started:
    """What a render reads first: the digest of its inputs, which it records (``fingerprint.
    base_digest``; None with ``check`` or without the cache: nothing is recorded), then its spec
    import, begun in a child (:meth:`SpecCache.begin`). The CLI calls it before it imports
    ``render.py``, whose import the child's work then hides (``render.render_repo(started=...)``)."""
    base = base_digest(str(root.resolve())) if use_cache and not check else None  # before anything is read
    specs = SpecCache(root, enabled=use_cache)
    specs.begin()
    return base, specs
