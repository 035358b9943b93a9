"""Validation of rendered trees: ``schemas.py`` (what each kind may contain), ``policies.py`` and
``secrets.py`` (servespec's own rules), ``kserve.py`` (what the env's KServe refuses),
``checks.py`` (one object), ``tree.py`` (whole ``rendered/<env>/`` trees, only what changed).
:func:`validate_repo` is what ``servespec validate`` calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass, field
from pathlib import Path

from ..cache import warm
from ..cache.lastvalidate import save_verdict, verdict_inputs, verdict_key
from ..cache.objects import ObjectStore
from ..cache.validation import ValidationCache
from ..errors import Problem
from ..kserve.versions import features
from ..overlay import Env, load_envs
from ..sharding import oversized_shards
from .schemas import SchemaRegistry
from .kserve import blobs_at, webhook_problems
from .tree import ValidationReport, record_rendered, rendered_view, validate_objects, validate_tree, validate_trees

__all__ = ["SchemaRegistry", "ValidationReport", "RepoReport", "validate_objects", "validate_tree", "validate_trees", "validate_repo",
           "schema_registry", "record_render"]


@dataclass
class RepoReport:
    """Problems of every validated environment, each named ``env E`` in its field."""

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0


def validate_repo(root: Path, envs: list[str] | None = None, crds: Path | None = None, use_cache: bool = True,
                  note: Callable[[str], None] = lambda _m: None, base: str | None = "HEAD") -> RepoReport:
    """Validate ``rendered/<env>/`` of each environment (default: all) against schemas, policies
    and the rules of the env's KServe version (update-time rules against ``base``); shards over
    ``delivery.maxShardObjects`` are a ``note`` (``sharding.oversized_shards``). Each env's
    verdict is kept for the tree it was computed for (``cache/lastvalidate.py``)."""
    where = str(root.resolve())
    inputs = verdict_inputs(where, str(crds) if crds is not None else None, base) if use_cache else None  # before anything is read
    registry = schema_registry(crds, use_cache)
    cache = ValidationCache(root, enabled=use_cache, custom=crds is not None)
    out = RepoReport()
    problems: dict[str, list[Problem]] = {}
    known: list[Env] = []
    loaded = load_envs(root, envs)
    for env in loaded.values():
        try:
            features(env.overlay.kserve_version)
        except ValueError as exc:
            file, line = env.where("kserveVersion")
            problems[env.name] = [Problem(file, line, "kserveVersion", str(exc))]
            continue
        known.append(env)
    # objects servespec just wrote need no YAML parsing; files the last render left as they were need no reading
    stores = {env.name: ObjectStore(where, env.name, use_cache) for env in known}
    views = {env.name: rendered_view(root, env.name, use_cache) for env in known if (root / "rendered" / env.name).is_dir()}
    files = {name: view[0] for name, view in views.items()}
    reports = validate_trees(root, known, registry, cache, stores, files)
    before = blobs_at(root, base, [env for env in known if env.name in files], cache)
    for env in known:
        notes, problems[env.name], objects = _verdict(root, env, reports[env.name], base, stores[env.name], files.get(env.name), before)
        out.objects += objects
        for text in notes:
            note(text)
        token = views[env.name][1] if env.name in views else ""
        if inputs is not None and token:
            save_verdict(where, env.name, str(crds) if crds is not None else None, base, verdict_key(inputs, env.name), token,
                         (tuple(notes), tuple(astuple(p) for p in problems[env.name]), objects))
    for name in loaded:
        out.problems.extend(problems[name])
    cache.save()
    return out


def _verdict(root: Path, env: Env, report: ValidationReport, base: str | None, store: ObjectStore, files: dict[str, bytes | None] | None,
             before: Mapping[str, Mapping[str, str]]) -> tuple[list[str], list[Problem], int]:
    """One env's notes, problems (each named ``env E``) and object count, from its tree's report
    and the update-time rules against ``base`` (``before``: blob ids there, by env)."""
    if env.name in before:
        report.problems.extend(webhook_problems(root, env, base, store, files, before[env.name]))
    notes = [*report.notes, *map(str, oversized_shards(env, files or {}))]
    problems = [Problem(p.file, p.line, f"env {env.name}: {p.field}" if p.field else f"env {env.name}", p.message) for p in report.problems]
    return notes, problems, report.objects


def schema_registry(crds: Path | None, use_cache: bool) -> SchemaRegistry:
    """The schemas' validators; in a process that validates again (``servespec daemon``), the ones
    it compiled before while the CRD files and kubernetes-validate are the same (``cache/warm.py``)."""
    fresh = SchemaRegistry(crds, use_cache=use_cache)
    memo = warm.scope(("schemas", str(crds), use_cache), fresh.fingerprint())
    kept = memo.hit("registry")
    if kept is None:
        kept = fresh
        memo.put("registry", kept)
    return kept  # type: ignore[no-any-return]



def record_render(root: Path, env: Env, wanted: Mapping[str, tuple[bytes, bytes | None]], store: ObjectStore,
                  inputs: str | None = None, token: str = "") -> None:
    """Keep what ``servespec validate`` (without ``--crds``) will find in the files the render just
    wrote into ``rendered/<env>/`` (``tree.record_rendered``): the render has their bytes and
    objects at hand, so a validate right after it checks nothing again. Called by the forked
    worker that wrote the env (``render._write_one``), with its render cache's ``store``. With
    the render's ``inputs`` (``fingerprint.base_digest``, read before the render read anything)
    and the ``token`` of the manifest of the tree written, also the env's whole verdict, as
    :func:`validate_repo` would keep it (``cache/lastvalidate.py``): that validate only proves the tree."""
    registry = schema_registry(None, True)
    cache = ValidationCache(root)
    record_rendered(env, root / "rendered" / env.name, wanted, store, registry, cache)
    cache.save()
    if inputs is None or not token or cache.custom_kept(env.name):
        return
    where = str(root.resolve())
    key = verdict_key(verdict_inputs(where, None, "HEAD", inputs), env.name)
    files: dict[str, bytes | None] = {rel: digest for rel, (digest, _data) in wanted.items()}
    cache = ValidationCache(root)  # the results just kept, read back as validate reads them: nothing is checked again
    report = validate_trees(root, [env], registry, cache, {env.name: store}, {env.name: files})[env.name]
    notes, problems, objects = _verdict(root, env, report, "HEAD", store, files, blobs_at(root, "HEAD", [env], cache))
    cache.save()
    save_verdict(where, env.name, None, "HEAD", key, token, (tuple(notes), tuple(astuple(p) for p in problems), objects))
