"""``servespec diff``: what a change does to the rendered output, per environment and object,
and to each environment's capacity and cost.

The two sides:

- **base**: the ``rendered/`` tree committed at ``--base REF`` (read from git objects, no
  checkout). That is what the controllers deploy from the base branch today, whatever generator
  version produced it; the base's specs are not re-rendered, so a generator change is visible too.
- **head**: a fresh in-memory render of the working tree's specs and overlays (what ``render``
  would commit; with ``render --check`` green in CI it equals the head's committed ``rendered/``).

Objects are matched by ``(kind, namespace, name)``, not by file, so moving a file is no change.
Each changed object is shown as a unified diff of its canonical YAML, except generated bulk
(Grafana dashboards, Prometheus rule groups), which is summarised: which panels and rules changed.
Secret ``data``/``stringData`` and SealedSecret ``encryptedData`` values are never shown: every
value becomes ``<redacted>``, and ``<redacted (changed)>`` on the head side where it differs.

Capacity (:mod:`servespec.capacity`) is computed from the objects of both sides; cost prices both
with the head's ``pricing`` (so a cost delta is a capacity delta), and the head's ``budget`` is
checked as ``validate`` checks it. Output: text, a pull-request comment in markdown
(:mod:`servespec.diff_markdown`) and JSON for bots (:func:`to_json`).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .bulk import generated_kind, summarise
from .capacity import Amounts, Capacity, Cost, budget_problems, capacity, cost, delta, describe, subtract
from .errors import GitError, Problem
from .gitrepo import files_at
from .project import Project
from .render import RENDERED, render_project
from .spec.cost import Pricing
from .yamlio import load_all
from .yamlwriter import dump

__all__ = ["ObjectChange", "EnvDiff", "DiffReport", "diff_project", "diff_env", "format_text", "to_json",
           "mask_secrets", "REDACTED", "REDACTED_CHANGED"]

REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted (changed)>"

Key = tuple[str, str, str]


@dataclass
class ObjectChange:
    """One object added, changed or removed."""

    key: Key
    status: str
    """``added``, ``changed`` or ``removed``."""
    diff: list[str]
    """Unified diff lines (masked)."""
    generated: str | None = None
    """``dashboard`` or ``rules`` for generated bulk, which is summarised rather than shown."""
    details: list[str] = field(default_factory=list)
    """For generated bulk: one line per panel or rule changed."""

    @property
    def label(self) -> str:
        """``Kind namespace/name``."""
        kind, ns, name = self.key
        return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


def _empty() -> Capacity:
    return Capacity({}, {})


@dataclass
class EnvDiff:
    """The changes of one environment: objects, capacity and cost on both sides, budget."""

    env: str
    changes: list[ObjectChange] = field(default_factory=list)
    before: Capacity = field(default_factory=_empty)
    after: Capacity = field(default_factory=_empty)
    pricing: Pricing | None = None
    """The head's pricing, applied to both sides."""
    budget: list[Problem] = field(default_factory=list)
    """Bounds of the head's ``budget`` the head's objects exceed."""

    def count(self, status: str) -> int:
        """How many objects have ``status`` (added, changed, removed)."""
        return sum(1 for c in self.changes if c.status == status)

    @property
    def delta(self) -> dict[str, Amounts]:
        """``after - before`` at min and at max replicas."""
        return delta(self.before, self.after)

    def cost(self, side: str) -> Cost | None:
        """Cost of ``before`` or ``after``, or None without pricing."""
        if self.pricing is None:
            return None
        return cost(self.before if side == "before" else self.after, self.pricing)

    @property
    def summary(self) -> str:
        """``env: N added, N changed, N removed`` or ``env: no changes``."""
        if not self.changes:
            return f"{self.env}: no changes"
        return f"{self.env}: {self.count('added')} added, {self.count('changed')} changed, {self.count('removed')} removed"


@dataclass
class DiffReport:
    """Every environment's changes against one base revision."""

    base: str
    envs: list[EnvDiff]

    @property
    def summary(self) -> str:
        """Every environment's summary, ``; ``-separated."""
        return "; ".join(e.summary for e in self.envs) or "no environments"

    @property
    def changed(self) -> bool:
        """Whether any object of any environment changed."""
        return any(e.changes for e in self.envs)


# -- reading both sides ---------------------------------------------------------------------------
def _objects(files: dict[str, bytes], where: str) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for path, data in sorted(files.items()):
        if not path.endswith(".yaml"):
            continue
        try:
            docs = load_all(data)
        except yaml.YAMLError as exc:
            raise GitError(Problem(f"{where}/{path}", None, "", f"invalid YAML: {exc}")) from None
        for doc in docs:
            if not isinstance(doc, dict) or str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"):
                continue
            meta = doc.get("metadata") or {}
            out[(str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))] = doc
    return out


def _committed(root: Path, ref: str) -> dict[str, dict[str, bytes]]:
    """``rendered/<env>/`` files as committed at ``ref``, per env."""
    out: dict[str, dict[str, bytes]] = {}
    for rel, data in files_at(root, ref, RENDERED).items():
        env, _, inner = rel.partition("/")
        if inner:
            out.setdefault(env, {})[inner] = data
    return out


# -- masking ----------------------------------------------------------------------------------------
def _secret_maps(obj: dict[str, Any]) -> list[tuple[str, ...]]:
    kind = obj.get("kind")
    if kind == "Secret":
        return [("data",), ("stringData",)]
    if kind == "SealedSecret":
        return [("spec", "encryptedData"), ("spec", "template", "data")]
    return []


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def mask_secrets(obj: dict[str, Any] | None, other: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A copy of ``obj`` with every secret value replaced; where ``other`` (the base) holds a
    different value for the same key, the mask says so."""
    if obj is None:
        return None
    paths = _secret_maps(obj)
    if not paths:
        return obj
    masked = copy.deepcopy(obj)
    for path in paths:
        values = _get(masked, path)
        if not isinstance(values, dict):
            continue
        before = _get(other, path) if other is not None else None
        for key in list(values):
            changed = isinstance(before, dict) and key in before and before[key] != values[key]
            values[key] = REDACTED_CHANGED if changed else REDACTED
    return masked


# -- diffing ----------------------------------------------------------------------------------------
def _unified(env: str, key: Key, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    a = dump(old).splitlines(keepends=True) if old is not None else []
    b = dump(new).splitlines(keepends=True) if new is not None else []
    name = "/".join(p for p in key if p)
    return [line if line.endswith("\n") else line + "\n"
            for line in difflib.unified_diff(a, b, f"a/{env}/{name}", f"b/{env}/{name}", n=3)]


def diff_env(env: str, old: dict[Key, dict[str, Any]], new: dict[Key, dict[str, Any]]) -> EnvDiff:
    """Object-level changes of one environment, and its capacity on both sides."""
    result = EnvDiff(env, before=capacity(old.values()), after=capacity(new.values()))
    for key in sorted({*old, *new}):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        shown_old = mask_secrets(before)
        shown_new = mask_secrets(after, before)
        kind = generated_kind(before, after)
        details = summarise(before, after) if kind else []
        result.changes.append(ObjectChange(key, status, _unified(env, key, shown_old, shown_new), kind, details))
    return result


def diff_project(root: Path, base: str = "HEAD", envs: Iterable[str] | None = None) -> DiffReport:
    """Compare ``rendered/`` committed at ``base`` with a fresh render of the working tree."""
    committed = _committed(root, base)
    wanted = list(envs) if envs else None
    project = Project.load(root, wanted)
    rendered = render_project(project)
    names = wanted or sorted({*rendered, *committed})
    report = DiffReport(base, [])
    for env in names:
        old = _objects(committed.get(env, {}), f"{base}:{RENDERED}/{env}")
        new = _objects(rendered.get(env, {}), f"{RENDERED}/{env}")
        result = diff_env(env, old, new)
        loaded = project.envs.get(env)
        if loaded is not None:
            result.pricing = loaded.overlay.pricing
            result.budget = budget_problems(env, loaded.overlay, new.values(), loaded.where)
        report.envs.append(result)
    return report


# -- text and JSON ------------------------------------------------------------------------------------
def _capacity_lines(env: EnvDiff) -> list[str]:
    lines = []
    for at in ("min", "max"):
        zero = Decimal(0)
        parts = [f"{k} {describe(k, env.before.at(at).get(k, zero))} -> {describe(k, env.after.at(at).get(k, zero))}"
                 for k, v in env.delta[at].items() if v]
        if parts:
            lines.append(f"{env.env}: capacity at {at} replicas: {', '.join(parts)}\n")
    return lines


def format_text(report: DiffReport) -> str:
    """Summary line, capacity changes per environment, budget problems, then every change as a
    unified diff (generated bulk as one line per changed panel or rule)."""
    lines = [f"servespec diff against {report.base}: {report.summary}\n"]
    for env in report.envs:
        lines += _capacity_lines(env)
        lines += [f"{env.env}: over budget: {p}\n" for p in env.budget]
    for env in report.envs:
        for change in env.changes:
            if change.generated:
                lines += [f"{env.env}: {change.label} ({change.status}): {d}\n" for d in change.details]
            else:
                lines.extend(change.diff)
    return "".join(lines)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _amounts(values: Amounts) -> dict[str, int | float]:
    return {k: _number(v) for k, v in values.items()}


def _side(cap: Capacity) -> dict[str, Any]:
    return {"min": _amounts(cap.min), "max": _amounts(cap.max), "unbounded": list(cap.unbounded),
            "canary": {at: _amounts(v) for at, v in cap.canary.items()}, "notCounted": list(cap.not_counted)}


def _cost_json(env: EnvDiff) -> dict[str, Any] | None:
    before, after = env.cost("before"), env.cost("after")
    if before is None or after is None:
        return None
    return {
        "currency": after.currency,
        "before": {"hourly": _amounts(before.hourly), "monthly": _amounts(before.monthly)},
        "after": {"hourly": _amounts(after.hourly), "monthly": _amounts(after.monthly)},
        "delta": {"hourly": _amounts(subtract(after.hourly, before.hourly)), "monthly": _amounts(subtract(after.monthly, before.monthly))},
        "unpriced": sorted({*before.unpriced, *after.unpriced}),
    }


def to_json(report: DiffReport) -> dict[str, Any]:
    """The report as JSON data for bots: per env its objects (with masked diffs and, for
    generated bulk, the changed panels/rules), capacity before/after/delta, cost, budget."""
    envs: dict[str, Any] = {}
    for env in report.envs:
        envs[env.env] = {
            "summary": {s: env.count(s) for s in ("added", "changed", "removed")},
            "objects": [{"kind": c.key[0], "namespace": c.key[1], "name": c.key[2], "status": c.status,
                         "generated": c.generated, "details": c.details, "diff": "".join(c.diff)} for c in env.changes],
            "capacity": {"before": _side(env.before), "after": _side(env.after),
                         "delta": {at: _amounts(v) for at, v in env.delta.items()}},
            "cost": _cost_json(env),
            "budget": [str(p) for p in env.budget],
        }
    return {"base": report.base, "changed": report.changed, "envs": envs}
