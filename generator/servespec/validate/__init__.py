"""Validation of rendered trees: ``schemas.py`` (what each kind may contain), ``policies.py``
(servespec's own rules), ``tree.py`` (a whole ``rendered/<env>/``). :func:`validate_repo` is
what ``servespec validate`` calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..cache.objects import ObjectStore
from ..cache.validation import ValidationCache
from ..errors import Problem
from ..kserve.versions import features
from ..overlay import load_envs
from ..sharding import oversized_shards
from .schemas import SchemaRegistry
from .kserve import webhook_problems
from .tree import ValidationReport, rendered_files, validate_objects, validate_tree

__all__ = ["SchemaRegistry", "ValidationReport", "RepoReport", "validate_objects", "validate_tree", "validate_repo"]


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
    registry = SchemaRegistry(crds, use_cache=use_cache)
    cache = ValidationCache(root, enabled=use_cache)
    out = RepoReport()
    for env in load_envs(root, envs).values():
        try:
            features(env.overlay.kserve_version)
        except ValueError as exc:
            file, line = env.where("kserveVersion")
            out.problems.append(Problem(file, line, "kserveVersion", str(exc)))
            continue
        parsed = ObjectStore(str(root.resolve()), env.name, use_cache)  # objects servespec just wrote need no YAML parsing
        files = rendered_files(root, env.name, use_cache) if (root / "rendered" / env.name).is_dir() else {}
        report = validate_tree(root, env, registry, cache, parsed, files)
        report.problems.extend(webhook_problems(root, env, base, parsed, files))
        out.objects += report.objects
        for text in [*report.notes, *map(str, oversized_shards(env, files))]:
            note(text)
        out.problems.extend(Problem(p.file, p.line, f"env {env.name}: {p.field}" if p.field else f"env {env.name}", p.message)
                            for p in report.problems)
    cache.save()
    return out
