"""What one rendered object is checked for (its schema, servespec's policies, what the env's KServe
refuses at creation), and a tree's kustomization listing. Reading files and whole trees is
``tree.py``'s."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..overlay import Env
from .kserve import create_rules
from .policies import policy_problems
from .schemas import SchemaRegistry

__all__ = ["ValidationReport", "validate_objects", "check_objects", "kustomize_listing"]


@dataclass
class ValidationReport:
    """Problems found and how much was checked."""

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)
    """Caveats worth printing, e.g. objects checked against a packaged (not upstream) schema."""


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _errors(validator: Any, instance: Any, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        where = _path(err.absolute_path)
        if prefix:
            where = f"{prefix}.{where}" if where else prefix
        found.append((where or "(top level)", err.message))
    return found


def validate_objects(
    objs: Iterable[tuple[str, dict[str, Any]]], env: Env, registry: SchemaRegistry
) -> ValidationReport:
    """Validate ``(file, object)`` pairs of one environment."""
    return check_objects(((file, obj, None) for file, obj in objs), env, registry)


def check_objects(objs: Iterable[tuple[str, Any, bytes | None]], env: Env, registry: SchemaRegistry) -> ValidationReport:
    """:func:`validate_objects` of ``(file, object, the object as JSON or None)``: the JSON, when
    at hand, spares the secrets policy a walk of a clean object."""
    report = ValidationReport()
    overlay = env.overlay
    for file, obj, json in objs:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            report.problems.append(Problem(file, None, "", "expected a Kubernetes object with apiVersion and kind"))
            continue
        kind, api_version = obj["kind"], obj["apiVersion"]
        meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        label = f"{kind} {meta.get('name', '?')}"
        if kind == "Kustomization" and isinstance(api_version, str) and api_version.startswith("kustomize.config.k8s.io/"):
            continue  # kustomize's own file, not an object (its listing is checked by validate_tree)
        report.objects += 1
        found = registry.validator(overlay.kubernetes_version, str(api_version), str(kind), overlay.kserve_version)
        if found is None:
            report.problems.append(Problem(file, None, label, f"no schema for {api_version} {kind} (Kubernetes {overlay.kubernetes_version}, the CRDs shipped for KServe {overlay.kserve_version}, or a CRD in --crds)"))
        else:
            source, validator = found
            errs = _errors(validator, obj)
            if source == "packaged":
                report.notes.append(f"{file}: {label}: checked against servespec's hand-written {api_version} schema (no upstream CRD)")
            if source in ("crd", "shipped", "packaged"):
                if "metadata" not in obj:
                    errs.append(("metadata", "required field is missing"))
                else:
                    errs.extend(_errors(registry.object_meta(overlay.kubernetes_version), obj["metadata"], "metadata"))
            report.problems.extend(Problem(file, None, f"{label}: {where}", msg) for where, msg in errs)
        report.problems.extend(Problem(file, None, label, msg) for msg in policy_problems(obj, env, json))
        report.problems.extend(Problem(file, None, f"{label}: {where}", msg) for where, msg in create_rules(obj, env))
    return report


def kustomize_listing(display: str, kustomizations: dict[str, list[str]], on_disk: set[str]) -> list[Problem]:
    """Every object file must be reachable from the env's kustomization (or the controller's own,
    ``bootstrap/``), and every listed resource must exist; nested kustomizations are followed."""
    problems: list[Problem] = []
    reached: set[str] = set()

    def walk(kfile: str) -> None:
        base = kfile.rpartition("/")[0]
        for entry in kustomizations.get(kfile, []):
            rel = posixpath.normpath(posixpath.join(base, entry))
            if rel in on_disk:
                reached.add(rel)
            elif f"{rel}/kustomization.yaml" in kustomizations:
                if f"{rel}/kustomization.yaml" not in reached:
                    reached.add(f"{rel}/kustomization.yaml")
                    walk(f"{rel}/kustomization.yaml")
            else:
                problems.append(Problem(f"{display}/{kfile}", None, "resources", f"lists {entry!r}, which does not exist"))

    roots = ["kustomization.yaml", *(k for k in kustomizations if k == "bootstrap/kustomization.yaml")]
    reached.update(roots)
    for kfile in roots:
        walk(kfile)
    unlisted = [Problem(f"{display}/{rel}", None, "", "not listed in any kustomization.yaml: the controller would never apply it")
                for rel in sorted(on_disk - reached) if rel.endswith(".yaml")]
    return unlisted + problems
