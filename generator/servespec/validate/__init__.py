"""Validation of rendered trees: ``schemas.py`` (what each kind may contain), ``policies.py`` and
``secrets.py`` (servespec's own rules), ``kserve.py`` (what the env's KServe refuses),
``checks.py`` (one object), ``tree.py`` (whole ``rendered/<env>/`` trees, only what changed).
:func:`validate_repo` is what ``servespec validate`` calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..cache import warm
from ..cache.objects import ObjectStore
from ..cache.validation import ValidationCache
from ..errors import Problem
from ..kserve.versions import features
from ..overlay import Env, load_envs
from ..sharding import oversized_shards
from .schemas import SchemaRegistry
from .kserve import blobs_at, webhook_problems
from .tree import ValidationReport, record_rendered, rendered_files, validate_objects, validate_tree, validate_trees

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
    ``delivery.maxShardObjects`` are a ``note`` (``sharding.oversized_shards``)."""
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
    stores = {env.name: ObjectStore(str(root.resolve()), env.name, use_cache) for env in known}
    files = {env.name: rendered_files(root, env.name, use_cache) for env in known if (root / "rendered" / env.name).is_dir()}
    reports = validate_trees(root, known, registry, cache, stores, files)
    before = blobs_at(root, base, [env for env in known if env.name in files], cache)
    for env in known:
        report = reports[env.name]
        if env.name in before:
            report.problems.extend(webhook_problems(root, env, base, stores[env.name], files[env.name], before[env.name]))
        out.objects += report.objects
        for text in [*report.notes, *map(str, oversized_shards(env, files.get(env.name, {})))]:
            note(text)
        problems[env.name] = [Problem(p.file, p.line, f"env {env.name}: {p.field}" if p.field else f"env {env.name}", p.message)
                              for p in report.problems]
    for name in loaded:
        out.problems.extend(problems[name])
    cache.save()
    return out


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



def record_render(root: Path, env: Env, wanted: Mapping[str, tuple[bytes, bytes | None]], store: ObjectStore) -> None:
    """Keep what ``servespec validate`` (without ``--crds``) will find in the files the render just
    wrote into ``rendered/<env>/`` (``tree.record_rendered``): the render has their bytes and
    objects at hand, so a validate right after it checks nothing again. Called by the forked
    worker that wrote the env (``render._write_one``), with its render cache's ``store``."""
    cache = ValidationCache(root)
    record_rendered(env, root / "rendered" / env.name, wanted, store, schema_registry(None, True), cache)
    cache.save()
