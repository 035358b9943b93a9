"""The render cache: reuse what did not change since the last render of the same repo.

Two things are remembered per repo (in ``$SERVESPEC_CACHE_DIR`` or ``~/.cache/servespec``,
never in the repo), both keyed so that a stale entry can only miss, never be wrong:

- per environment and model, the serialized files of that model, under a key that hashes
  everything a model emitter reads (``emit/__init__.py``): the resolved model, its rollout
  state, the environment's overlay, its storage endpoints, and the code itself (the package's
  files and the versions of the libraries that shape the output);
- per environment, the size, mtime, inode and digest of every file last written or read in
  ``rendered/<env>/``, so an unchanged tree is recognized from ``stat`` alone.

``render --no-cache`` bypasses both; the test suite proves cached renders are byte-identical to
cold ones after sequences of edits.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import orjson

from ..emit import Output, emit_model
from ..resolve import EnvContext
from ..spec import Model
from ..yamlwriter import dump
from .store import code_fingerprint, load_pickle, repo_cache_path, save_pickle

__all__ = ["RenderCache", "digest"]

_FORMAT = 4


def digest(data: bytes) -> bytes:
    """Content digest of a rendered file."""
    return hashlib.blake2b(data, digest_size=16).digest()


def _as_json(obj: Any) -> bytes | None:
    """The object as JSON for validate's fast path, or None if it is not plain JSON data."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return None


@dataclass
class RenderCache:
    """One repo's cache, loaded at start and saved (atomically) when it changed."""

    root: Path
    enabled: bool = True
    models: dict[str, dict[str, tuple[str, list[tuple[str, str, bytes]]]]] = field(default_factory=dict)
    """env -> model -> (key, [(path, kind, YAML bytes)])."""
    trees: dict[str, dict[str, tuple[int, int, int, bytes]]] = field(default_factory=dict)
    _dirty: bool = False
    _seen: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    _new_json: dict[tuple[str, str], tuple[str, list[bytes | None]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = repo_cache_path("render", self.root)
        self.json_path = repo_cache_path("render-json", self.root)
        """Beside the main file, the same objects as JSON: only ``validate`` reads it."""
        if not self.enabled:
            return
        data = load_pickle(self.path)
        if isinstance(data, dict) and data.get("format") == _FORMAT and data.get("code") == code_fingerprint():
            self.models, self.trees = data["models"], data["trees"]

    def save(self) -> None:
        """Write the cache if anything changed."""
        if self.enabled and self._dirty:
            data = {"format": _FORMAT, "code": code_fingerprint(), "models": self.models, "trees": self.trees}
            self._dirty = not save_pickle(self.path, data)
        if self.enabled and self._new_json:
            sidecar = self._load_json()
            for (env, model), entry in self._new_json.items():
                sidecar.setdefault(env, {})[model] = entry
            sidecar = {env: {m: e for m, e in table.items() if self.models.get(env, {}).get(m, ("",))[0] == e[0]}
                       for env, table in sidecar.items()}
            save_pickle(self.json_path, {"format": _FORMAT, "code": code_fingerprint(), "json": sidecar})
            self._new_json = {}

    def _load_json(self) -> dict[str, dict[str, tuple[str, list[bytes | None]]]]:
        data = load_pickle(self.json_path) if self.enabled else None
        if isinstance(data, dict) and data.get("format") == _FORMAT and data.get("code") == code_fingerprint():
            return dict(data["json"])
        return {}

    # -- models -----------------------------------------------------------------------------
    def per_model(self, ctx: EnvContext) -> Callable[[Model], list[Output]]:
        """A ``per_model`` for ``emit_env`` that reuses the files of unchanged models."""
        env = ctx.env.name
        table = self.models.setdefault(env, {})
        for gone in set(table) - set(ctx.models):
            del table[gone]
            self._dirty = True
        base = hashlib.sha256(orjson.dumps([
            env,
            ctx.env.overlay.model_dump(mode="json"),
            {name: s.model_dump(mode="json") for name, s in sorted(ctx.storage.items())},
        ], option=orjson.OPT_SORT_KEYS))

        def one(model: Model) -> list[Output]:
            h = base.copy()
            h.update(model.model_dump_json().encode())
            state = ctx.rollout.get(model.name)
            if state is not None:
                h.update(state.model_dump_json().encode())
            key = h.hexdigest()
            hit = table.get(model.name) if self.enabled else None
            if hit is None or hit[0] != key:
                outputs = emit_model(ctx, model)
                items = [(o.path, o.kind, dump(o.obj).encode("utf-8")) for o in outputs]
                if self.enabled:
                    table[model.name] = (key, items)
                    self._new_json[(env, model.name)] = (key, [_as_json(o.obj) for o in outputs])
                    self._dirty = True
                # a miss keeps the objects: what was emitted now is checked now (render.webhook_problems)
                return [Output(o.path, o.obj, model.name, data) for o, (_p, _k, data) in zip(outputs, items, strict=True)]
            return [Output(path, {"kind": kind}, model.name, data) for path, kind, data in hit[1]]

        return one

    def parsed(self, env: str) -> dict[bytes, bytes]:
        """YAML bytes -> the same object as JSON, for every model file rendered in ``env``: a
        file whose bytes are exactly these need no YAML parsing (``yamlio.dump`` round-trips,
        property-tested), which makes validating a freshly rendered tree several times faster."""
        sidecar = self._load_json().get(env, {})
        out: dict[bytes, bytes] = {}
        for model, (key, items) in self.models.get(env, {}).items():
            entry = sidecar.get(model)
            if entry is not None and entry[0] == key:
                out.update((data, js) for (_p, _k, data), js in zip(items, entry[1], strict=False) if js is not None)
        return out

    # -- trees ------------------------------------------------------------------------------
    def tree(self, env: str, folder: Path) -> dict[str, Any]:
        """``path -> digest`` of every file in ``folder``, reading only files whose stat changed."""
        known = self.trees.get(env, {}) if self.enabled else {}
        out: dict[str, Any] = {}
        seen: dict[str, tuple[int, int, int]] = {}
        self._seen[env] = seen
        stack = [(folder, "")]
        while stack:
            here, prefix = stack.pop()
            try:
                entries = list(os.scandir(here))
            except FileNotFoundError:
                continue
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                    continue
                st = entry.stat(follow_symlinks=False)
                seen[rel] = stat = (st.st_size, st.st_mtime_ns, st.st_ino)
                was = known.get(rel)
                if was is not None and was[:3] == stat:
                    out[rel] = was[3]
                else:
                    with open(entry.path, "rb") as f:
                        out[rel] = digest(f.read())
        return out

    def remember_tree(self, env: str, folder: Path, digests: dict[str, bytes], written: set[str] | frozenset[str] = frozenset()) -> None:
        """Record the stat and digest of every file now in ``folder``: the stat seen by
        :meth:`tree` for files left alone (hard links keep inode and mtime), a new one for
        ``written`` files."""
        if not self.enabled:
            return
        seen = self._seen.get(env, {})
        table = {}
        for rel, dig in digests.items():
            stat = None if rel in written else seen.get(rel)
            if stat is None:
                try:
                    st = os.stat(folder / rel)
                except FileNotFoundError:
                    continue
                stat = (st.st_size, st.st_mtime_ns, st.st_ino)
            table[rel] = (*stat, dig)
        if table != self.trees.get(env):
            self.trees[env] = table
            self._dirty = True
