"""The render cache: reuse what did not change since the last render of the same repo.

Kept per environment (``render-<env>`` in the repo's cache folder, ``cache/fingerprint.py``), so a
change in one env loads and rewrites one small file: per model, the key of its inputs and, for
each of its files, the path (as emitted and as laid out), the kind and the content digest. The
bytes are not kept: they are the files on disk (``envtree.py`` checks them by stat and digest).

The key hashes everything a model emitter reads (``emit/__init__.py``): the environment's name,
overlay and storage endpoints, the model as rendered there (the digest of its declaration when
the environment left it as declared, else its resolved dump), its rollout state, and the code
(an index written by other code is dropped). A stale entry can only miss, never be wrong.

``render --no-cache`` bypasses it; the property test proves cached renders byte-identical to
cold ones after sequences of edits.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson

from ..emit import Output, emit_model
from ..resolve import EnvContext
from ..spec import Model
from ..yamlwriter import dump
from .fingerprint import code_digest, file_digest, read_framed, repo_dir, write_framed
from .objects import ObjectStore
from .warm import ByFile, Scope, scope

__all__ = ["RenderCache", "DigestRef", "digest"]

_FORMAT = 5
Entry = tuple[str, list[tuple[str, str, bytes, str | None]]]
"""(key, [(path as emitted, kind, digest, path as laid out or None)])."""


def digest(data: bytes) -> bytes:
    """Content digest of a rendered file."""
    return file_digest(data)


class DigestRef(bytes):
    """The stand-in bytes (empty) of a cached file known by its digest: the file on disk has it."""

    digest: bytes

    def __new__(cls, known: bytes) -> DigestRef:
        obj = super().__new__(cls, b"")
        obj.digest = known
        return obj


def _as_json(obj: Any) -> bytes | None:
    """The object as JSON for validate's fast path, or None if it is not plain JSON data."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return None


class RenderCache:
    """One repo's render cache, loaded per environment on first use and saved when it changed."""

    def __init__(self, root: Path, enabled: bool = True):
        self.root, self.enabled = root, enabled
        self.folder = repo_dir(str(root.resolve()))
        self.models: dict[str, dict[str, Entry]] = {}
        self._dirty: set[str] = set()
        self._fresh: dict[str, dict[str, list[Output]]] = {}
        self._objects: dict[str, ObjectStore] = {}
        self._source: dict[str, Any] = {}
        """Per env, the kept table this object's was copied from, then the one it saved."""
        self._handed: dict[str, tuple[Scope, dict[str, list[Output]]]] = {}
        """Per env, the memo of ``refs`` and the lists it handed out for models emitted now."""

    def table(self, env: str) -> dict[str, Entry]:
        """``model -> entry`` of one environment (empty when missing, stale or unreadable)."""
        if env not in self.models:
            path = os.path.join(self.folder, f"render-{env}")
            kept = _KEPT.get(path) if self.enabled else None
            if kept is None and self.enabled:
                raw = read_framed(path)
                ok = isinstance(raw, dict) and raw.get("format") == _FORMAT and raw.get("code") == code_digest()
                if ok and isinstance(raw, dict) and isinstance(raw.get("models"), dict):
                    kept = dict(raw["models"])
                    _KEPT.put(path, kept)
            self.models[env] = dict(kept) if kept is not None else {}
            self._source[env] = kept if kept is not None else object()  # nothing kept: like no other
        return self.models[env]

    def objects(self, env: str) -> ObjectStore:
        """The objects of the files rendered in ``env`` as JSON, by digest (for ``validate``)."""
        if env not in self._objects:
            self._objects[env] = ObjectStore(str(self.root.resolve()), env, self.enabled)
        return self._objects[env]

    def parsed(self, env: str) -> ObjectStore:
        """File bytes -> the same object as JSON, for files servespec rendered in ``env``."""
        return self.objects(env)

    # -- keys ---------------------------------------------------------------------------------
    def _keyer(self, ctx: EnvContext) -> tuple[Callable[[Model], str], Scope]:
        env = ctx.env.name
        table = self.table(env)
        for gone in table.keys() - ctx.models.keys():
            del table[gone]
            self._dirty.add(env)
        base = blake2b(orjson.dumps([
            code_digest(), env,
            ctx.env.overlay.model_dump(mode="json"),
            {name: s.model_dump(mode="json") for name, s in sorted(ctx.storage.items())},
        ], option=orjson.OPT_SORT_KEYS), digest_size=20)
        specs = ctx.project.specs
        declared = getattr(specs, "digests", {})
        memo = scope(("keys", str(self.root), env), base.hexdigest())

        def key(model: Model) -> str:
            state = ctx.rollout.get(model.name)
            known = declared.get(model.name) if specs.models.get(model.name) is model else None  # rendered as declared
            kept = memo.hit(model.name)
            if kept is not None and kept[0] is model and kept[1] == state and kept[2] == known:
                return kept[3]  # type: ignore[no-any-return]  # the very model, its state and declaration as last time
            h = base.copy()
            h.update(b"declared:" + known.encode() if known is not None else b"resolved:" + model.model_dump_json().encode())
            if state is not None:
                h.update(state.model_dump_json().encode())
            memo.put(model.name, (model, state, known, h.hexdigest()))
            return h.hexdigest()

        return key, memo

    def _emit(self, ctx: EnvContext, model: Model, key: str) -> list[Output]:
        """Emit one model now, remember it, and return its outputs with their bytes."""
        env = ctx.env.name
        outputs = emit_model(ctx, model)
        data = [dump(o.obj).encode("utf-8") for o in outputs]
        digests = [file_digest(d) for d in data]
        if self.enabled:
            self.table(env)[model.name] = (key, [(o.path, o.kind, d, None) for o, d in zip(outputs, digests, strict=True)])
            self._fresh.setdefault(env, {})[model.name] = outputs
            self._dirty.add(env)
            store = self.objects(env)
            for o, d in zip(outputs, digests, strict=True):
                js = _as_json(o.obj)
                if js is not None:
                    store.put(d, js)
        # a miss keeps the objects: what was emitted now is checked now (render.webhook_problems)
        return [Output(o.path, o.obj, model.name, d) for o, d in zip(outputs, data, strict=True)]

    # -- per model ----------------------------------------------------------------------------
    def refs(self, ctx: EnvContext, fresh: set[str] | frozenset[str] = frozenset()) -> Callable[[Model], list[Output]]:
        """A ``per_model`` for ``emit_env`` whose hits carry a :class:`DigestRef` instead of bytes
        (their files are on disk); ``fresh`` models are emitted again whatever the cache holds."""
        return self._refs(ctx, fresh)[0]

    def _refs(self, ctx: EnvContext, fresh: set[str] | frozenset[str]) -> tuple[Callable[[Model], list[Output]], list[Scope]]:
        table, (key_of, keys) = self.table(ctx.env.name), self._keyer(ctx)
        memo = scope(("refs", str(self.root), ctx.env.name), code_digest())

        handed: dict[str, list[Output]] = {}
        self._handed[ctx.env.name] = (memo, handed)

        def one(model: Model) -> list[Output]:
            key = key_of(model)
            hit = table.get(model.name) if self.enabled and model.name not in fresh else None
            if hit is None or hit[0] != key:
                handed[model.name] = self._emit(ctx, model, key)
                return handed[model.name]
            known = memo.hit(model.name)
            if known is None or known[0] != hit:  # the same list as last time in this process: layout reuses its work
                known = (hit, [Output(path, {"kind": kind}, model.name, DigestRef(d)) for path, kind, d, _final in hit[1]])
                memo.put(model.name, known)
            return known[1]  # type: ignore[no-any-return]

        return one, [keys, memo]

    def groups(self, ctx: EnvContext, fresh: set[str] | frozenset[str] = frozenset()) -> list[list[Output]]:
        """``refs`` of every model of ``ctx``, in order. In a long-lived process, when ``ctx``
        patched the context of the env's last call (``EnvContext.delta``) and the cache's table is
        the one that call left, the lists of that call for every model but those resolved again:
        ``refs`` would hand out those very lists (the key covers all a model's files depend on,
        and the context holds the very same overlay, storage and states), so it is asked only for
        the others (at 10,000 models, a one-model change asks it once, not 10,000 times)."""
        one, memos = self._refs(ctx, fresh)
        env = ctx.env.name
        memo = scope(("groups", str(self.root), env), code_digest())
        last = memo.hit("last")
        if isinstance(last, _Groups) and not fresh and ctx.delta is not None and ctx.delta[0] == last.serial \
                and self._source.get(env) is last.source:
            out = list(last.out)
            for name in ctx.delta[1]:
                out[last.index[name]] = one(ctx.models[name])
            for kept in memos:
                kept.keep()  # every other model's entry stays: the next whole call reuses them
            index = last.index
        else:
            out = [one(m) for m in ctx.models.values()]
            index = {name: i for i, name in enumerate(ctx.models)}
        memo.put("last", _Groups(ctx.serial, index, out, self._source, env))
        return out

    def per_model(self, ctx: EnvContext) -> Callable[[Model], list[Output]]:
        """A ``per_model`` for ``emit_env`` whose hits carry their bytes, read from the file on
        disk when it still has the cached digest (else the model is emitted again)."""
        table, (key_of, _keys) = self.table(ctx.env.name), self._keyer(ctx)
        top = self.root / "rendered" / ctx.env.name

        def one(model: Model) -> list[Output]:
            key = key_of(model)
            hit = table.get(model.name) if self.enabled else None
            if hit is not None and hit[0] == key:
                found = [_read(top, final, d) for _p, _k, d, final in hit[1]]
                if all(data is not None for data in found):
                    return [Output(p, {"kind": k}, model.name, data) for (p, k, _d, _f), data in zip(hit[1], found, strict=True)]
            return self._emit(ctx, model, key)

        return one

    def record(self, env: str, outputs: list[Output]) -> None:
        """Note where the models emitted now were laid out (``outputs`` after layout, in order)."""
        fresh = self._fresh.pop(env, {})
        if not fresh:
            return
        laid: dict[str, list[str]] = {}
        for out in outputs:
            if out.model in fresh:
                laid.setdefault(out.model, []).append(out.path)
        table = self.table(env)
        memo, handed = self._handed.pop(env, (None, {}))
        for name, paths in laid.items():
            key, items = table[name]
            if len(paths) == len(items):
                table[name] = (key, [(p, k, d, final) for (p, k, d, _f), final in zip(items, paths, strict=True)])
            if memo is not None and name in handed:  # the list handed out stays the model's while its entry does
                memo.put(name, (table[name], handed[name]))

    def save(self) -> None:
        """Write the indexes and object buckets of the environments that changed."""
        if not self.enabled:
            return
        for env in sorted(self._dirty):
            table = self.models.get(env, {})
            path = os.path.join(self.folder, f"render-{env}")
            kept = dict(table)  # what the file will hold, whatever this object does next
            write_framed(path, {"format": _FORMAT, "code": code_digest(), "models": kept}, functools.partial(_KEPT.put, path, kept))
            self._source[env] = kept
            self.objects(env).save(functools.partial(_digests, kept))
        self._dirty = set()


class _Groups:
    """An env's last ``RenderCache.groups``: the context, the lists, and the table they agree with."""

    def __init__(self, serial: int, index: dict[str, int], out: list[list[Output]], sources: dict[str, Any], env: str):
        self.serial, self.index, self.out = serial, index, out
        self._sources, self._env = sources, env

    @property
    def source(self) -> Any:
        """The table as that render's cache left it in this process (read later: it is saved after the call)."""
        return self._sources.get(self._env)


_KEPT = ByFile(8, code_digest)
"""Tables this process read or wrote, under the code that read or wrote them (a long-lived process,
``servespec daemon``, does not read them again). Entries are tuples, replaced and never changed in
place, so a shallow copy is a copy."""


def _digests(table: dict[str, Entry]) -> set[bytes]:
    """The digest of every file of ``table``."""
    return {d for _key, items in table.values() for _p, _k, d, _f in items}


def _read(top: Path, final: str | None, want: bytes) -> bytes | None:
    """The bytes of a rendered file when it has the digest ``want``, else None."""
    if final is None:
        return None
    try:
        data = (top / final).read_bytes()
    except OSError:
        return None
    return data if file_digest(data) == want else None
