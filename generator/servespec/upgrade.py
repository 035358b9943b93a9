"""``servespec upgrade-check``: what upgrading an environment's KServe would do to what git holds.

The environment is rendered in memory for the target version and compared with ``rendered/<env>/``
(what the cluster runs now): every object whose rendered form changes, what the target version's
webhooks would reject on that update (``kserve/webhook.py``, the current render as the old object),
what its schemas reject, what it would rewrite in the objects as they are now (a permanent diff for
Argo CD / Flux until the re-render is committed), and the steps in a safe order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Problem, RenderError, SpecError, UsageError
from .kserve.versions import Features, features
from .kserve.webhook import check_inferenceservice
from .overlay import Env
from .project import Project
from .render import RENDERED, read_tree, render_env
from .validate.schemas import SchemaRegistry
from .validate.tree import validate_objects
from .yamlio import load_all

__all__ = ["UpgradeReport", "upgrade_check"]

V1BETA1 = "serving.kserve.io/v1beta1"


@dataclass
class UpgradeReport:
    """The outcome of an upgrade check; ``problems`` non-empty means the upgrade would break a sync."""

    env: str
    current: str
    target: str
    changed: list[str] = field(default_factory=list)
    """One line per object whose rendered form changes: ``path: field: old -> new``."""
    problems: list[Problem] = field(default_factory=list)
    interim: list[str] = field(default_factory=list)
    """What the target version rewrites in the objects as they are now (between the cluster
    upgrade and the commit of the re-render)."""
    steps: list[str] = field(default_factory=list)


def _minor(k: Features) -> tuple[int, int]:
    major, minor = k.minor.split(".")
    return int(major), int(minor)


def _obj(data: bytes | None) -> dict[str, Any] | None:
    docs = load_all(data) if data else []
    return docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else None


def _changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Leaf-level differences ``field: old -> new`` (lists compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _changes(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def _target_env(env: Env, to: str) -> Env:
    return dataclasses.replace(env, overlay=env.overlay.model_copy(update={"kserve_version": to.lstrip("v")}))


def upgrade_check(root: Path, env_name: str, to: str) -> UpgradeReport:
    """Check an upgrade of ``env_name``'s KServe to ``to`` against what ``rendered/<env>/`` holds."""
    project = Project.load(root, [env_name])
    env = project.envs[env_name]
    try:
        now, target = features(env.overlay.kserve_version), features(to)
    except ValueError as exc:
        raise UsageError(Problem("--to", None, "", str(exc))) from None
    report = UpgradeReport(env_name, now.minor, target.minor)
    upgraded = _target_env(env, to)
    try:
        files = render_env(dataclasses.replace(project, envs={env_name: upgraded}), env_name)
    except (RenderError, SpecError) as exc:
        report.problems.extend(exc.problems)
        return report
    current = read_tree(root / RENDERED / env_name)
    registry = SchemaRegistry()
    for rel in sorted(set(files) | set(current)):
        old, new = _obj(current.get(rel)), _obj(files.get(rel))
        shown = f"rendered/{env_name}/{rel}"
        if current.get(rel) != files.get(rel):
            report.changed += [f"{shown}: {c}" for c in _changes(old or {}, new or {})] or [f"{shown}: changed"]
        if new is not None and current.get(rel) != files.get(rel):
            report.problems += validate_objects([(shown, new)], upgraded, registry).problems
        if new is not None and new.get("kind") == "InferenceService" and new.get("apiVersion") == V1BETA1:
            report.problems += [Problem(shown, None, f.path, f"KServe {target.minor}: {f.message}")
                                for f in check_inferenceservice(new, old, _minor(target))]
        if old is not None and old.get("kind") == "InferenceService" and old.get("apiVersion") == V1BETA1:
            report.interim += [f"{shown}: {f}" for f in check_inferenceservice(old, old, _minor(target))]
    report.problems += _traps(now, target)
    report.steps = _steps(env, now, target, len(report.changed))
    return report


def _traps(now: Features, target: Features) -> list[Problem]:
    """What no render can show: objects created on <= 0.15 refuse every update on 0.17 and 0.18
    (their status holds the legacy mode name the 0.17/0.18 webhook compares against the rewritten
    annotation; normalised from 0.19, docs/kserve-rules.md)."""
    if _minor(now) <= (0, 15) and _minor(target) in ((0, 17), (0, 18)):
        return [Problem("--to", None, "", f"objects created on KServe {now.minor} reject every update on {target.minor} (status "
                        "holds the legacy mode name; KServe 0.19 normalises it): upgrade straight to 0.19 or later")]
    return []


def _steps(env: Env, now: Features, target: Features, changes: int) -> list[str]:
    file, line = env.where("kserveVersion")
    where = f"{file}:{line}" if line else file
    first = f"Upgrade KServe on the cluster to {target.release} while git still renders for {now.minor}"
    if target.legacy_mode_names_rewritten and not now.legacy_mode_names_rewritten and now.knative_mode != target.knative_mode:
        first += f" ({target.minor}'s webhook rewrites {now.knative_mode}/{now.standard_mode} to {target.knative_mode}/{target.standard_mode}: " \
                 "Argo CD / Flux show a diff until step 2)"
    return [
        first + ".",
        f"Set kserveVersion: \"{target.minor}\" in {where}, run `servespec render` and `servespec validate`, review "
        f"`servespec diff` ({changes} field change{'s' if changes != 1 else ''}), commit; the controller applies it.",
        "Roll back in the same order: revert the commit first, then downgrade the cluster.",
    ]
