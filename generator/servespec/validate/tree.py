"""Validate a rendered tree: every file of ``rendered/<env>/`` against its schema
(``schemas.py``) and servespec's policies (``policies.py``), and every kustomization's listing
(``kustomization.yaml`` and the controller's ``bootstrap/kustomization.yaml``, nested ones
followed). Large batches run in worker processes; unchanged files reuse earlier results
(``cache/validation.py``), and files the last render left as they were (their stat as its
manifest recorded, ``cache/manifest.py``) are not even read."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..cache.fingerprint import file_digest
from ..cache.manifest import tree_view
from ..cache.validation import ValidationCache
from ..capacity import budget_problems, tree_objects
from ..errors import Problem
from ..overlay import Env
from ..yamlio import load_all
from .kserve import create_rules
from .policies import policy_problems
from .schemas import SchemaRegistry

__all__ = ["ValidationReport", "validate_objects", "validate_tree", "rendered_files", "FileResult", "PARALLEL_FROM"]


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
    report = ValidationReport()
    overlay = env.overlay
    for file, obj in objs:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            report.problems.append(Problem(file, None, "", "expected a Kubernetes object with apiVersion and kind"))
            continue
        kind, api_version = obj["kind"], obj["apiVersion"]
        meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        label = f"{kind} {meta.get('name', '?')}"
        if kind == "Kustomization" and api_version.startswith("kustomize.config.k8s.io/"):
            continue  # kustomize's own file, not an object (its listing is checked by validate_tree)
        report.objects += 1
        found = registry.validator(overlay.kubernetes_version, api_version, kind, overlay.kserve_version)
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
        report.problems.extend(Problem(file, None, label, msg) for msg in policy_problems(obj, env))
        report.problems.extend(Problem(file, None, f"{label}: {where}", msg) for where, msg in create_rules(obj, env))
    return report


def _kustomize_listing(display: str, kustomizations: dict[str, list[str]], on_disk: set[str]) -> list[Problem]:
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


FileResult = tuple[list[Problem], list[Problem], list[str], int, "list[str] | None"]
"""(problems reading the file, problems of its objects, notes, objects, kustomization resources)."""


def _check_file(folder: Path, rel: str, data: bytes, env: Env, registry: SchemaRegistry,
                parsed: Mapping[bytes, bytes] | None = None) -> FileResult:
    """Validate one rendered file: (problems reading it, problems of its objects, notes, objects,
    its kustomization's resources).

    ``parsed`` maps file bytes servespec itself wrote to the object as JSON (the render cache):
    such a file is read with orjson instead of parsed as YAML.
    """
    shown = f"rendered/{env.name}/{rel}"
    if not rel.endswith(".yaml"):
        return [Problem(shown, None, "", "unexpected non-YAML file in rendered output")], [], [], 0, None
    known = parsed.get(data) if parsed else None
    try:
        docs = [orjson.loads(known)] if known is not None else load_all(data)
    except yaml.YAMLError as exc:
        return [Problem(shown, None, "", f"invalid YAML: {exc}")], [], [], 0, None
    resources = None
    if rel == "kustomization.yaml" or rel.endswith("/kustomization.yaml"):
        resources = list((docs[0] if docs and isinstance(docs[0], dict) else {}).get("resources") or [])
    report = validate_objects([(shown, d) for d in docs], env, registry)
    return [], report.problems, report.notes, report.objects, resources


_POOL_STATE: tuple[Path, Env, SchemaRegistry, Mapping[bytes, bytes] | None] | None = None


def _check_chunk(chunk: list[tuple[str, bytes]]) -> list[FileResult]:
    """Worker side of a parallel validation (state inherited through fork)."""
    assert _POOL_STATE is not None
    folder, env, registry, parsed = _POOL_STATE
    return [_check_file(folder, rel, data, env, registry, parsed) for rel, data in chunk]


PARALLEL_FROM = 1500
"""Validate in worker processes (one per core) when at least this many files changed."""


def _results(folder: Path, env: Env, registry: SchemaRegistry, cache: ValidationCache | None,
             parsed: Mapping[bytes, bytes] | None, listing: dict[str, bytes | None]) -> dict[str, FileResult]:
    """The result of every file: earlier ones where the cache has them, the rest checked now."""
    global _POOL_STATE
    base = cache.env_key(env, registry) if cache else b""
    results: dict[str, FileResult] = {}
    pending: list[tuple[str, bytes]] = []
    keys: dict[str, bytes] = {}
    for rel in sorted(listing):
        known = listing[rel]
        data = (folder / rel).read_bytes() if known is None else None
        if cache:
            keys[rel] = key = hashlib.blake2b(base + (known or file_digest(data or b"")), digest_size=16).digest()
            hit = cache.get(env.name, rel, key)
            if hit is not None:
                results[rel] = hit
                continue
        pending.append((rel, data if data is not None else (folder / rel).read_bytes()))
    workers = os.cpu_count() or 1
    if len(pending) >= PARALLEL_FROM and workers > 1:
        registry.warm([env.overlay.kubernetes_version])  # compile once, before forking
        for rel, data in {rel.rpartition("/")[2]: (rel, data) for rel, data in reversed(pending)}.values():
            results[rel] = _check_file(folder, rel, data, env, registry, parsed)  # one file per name: its kind's schema compiled here
        rest = [(rel, data) for rel, data in pending if rel not in results]
        _POOL_STATE = (folder, env, registry, parsed)
        try:
            chunks = [rest[i::workers] for i in range(workers)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for chunk, out in zip(chunks, pool.map(_check_chunk, chunks), strict=True):
                    results.update((rel, res) for (rel, _), res in zip(chunk, out, strict=True))
        finally:
            _POOL_STATE = None
    else:
        for rel, data in pending:
            results[rel] = _check_file(folder, rel, data, env, registry, parsed)
    if cache:
        cache.put(env.name, {rel: (keys[rel], results[rel]) for rel in listing})
    return results


def rendered_files(root: Path, env: str, use_cache: bool = True) -> dict[str, bytes | None]:
    """Every file of ``rendered/<env>/`` with its digest where known without reading it: the
    last render's manifest, when the tree still has the stats it recorded (else None)."""
    view = tree_view(str(root.resolve()), env) if use_cache else None
    if view is None or view.links or not view.dirs or view.read:
        folder = root / "rendered" / env
        return {p.relative_to(folder).as_posix(): None for p in folder.rglob("*") if p.is_file()}
    return {rel: digest for rel, (_st, digest) in view.files.items()}


def validate_tree(root: Path, env: Env, registry: SchemaRegistry, cache: ValidationCache | None = None,
                  parsed: Mapping[bytes, bytes] | None = None, files: dict[str, bytes | None] | None = None) -> ValidationReport:
    """Validate every file of ``rendered/<env>/`` and its kustomizations' resource lists.

    With a ``cache``, a file whose bytes, environment settings, schemas and code are unchanged
    since it was last validated is not parsed again: its earlier result is reused (files known
    by digest, ``files`` or :func:`rendered_files`, are not even read). Large batches are
    validated in worker processes, one per core.
    """
    folder = root / "rendered" / env.name
    display = f"rendered/{env.name}"
    if not folder.is_dir():
        return ValidationReport([Problem(display, None, "", "not rendered: run `servespec render`")])
    if files is None:
        files = rendered_files(root, env.name, cache is not None and cache.enabled)
    rels = sorted(files)
    results = _results(folder, env, registry, cache, parsed, files)
    report = ValidationReport()
    kustomizations: dict[str, list[str]] = {}
    unreadable: list[Problem] = []
    for rel in rels:
        file_problems, problems, notes, objects, resources = results[rel]
        unreadable.extend(file_problems)
        report.problems.extend(problems)
        report.notes.extend(notes)
        report.objects += objects
        if resources is not None:
            kustomizations[rel] = resources
    listing: list[Problem] = []
    if "kustomization.yaml" not in kustomizations:
        listing.append(Problem(f"{display}/kustomization.yaml", None, "", "missing: kustomize cannot build this environment"))
    else:
        listing.extend(_kustomize_listing(display, kustomizations, set(rels)))
    report.problems = [*unreadable, *listing, *report.problems]
    report.problems.extend(budget_problems(env.name, env.overlay, tree_objects(folder, parsed), env.where))
    report.files = len(rels)
    return report
