"""KServe's webhook and controller rules (``kserve/webhook.py``) over a rendered tree: every
InferenceService of an env on the env's KServe version, update-time rules against the same file
at ``base`` (default ``HEAD``: the previous render, as the cluster compares the old object with
the new one). Files are compared with ``base`` by git blob id and read only where they differ
(``listing``: the digests the last render's manifest knows, ``validate/tree.rendered_files``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..cache.fingerprint import file_digest
from ..cache.lastvalidate import rendered_tree_at
from ..cache.validation import ValidationCache
from ..errors import Problem
from ..gitcli import blob_ids_at, read_blobs
from ..kserve.versions import features
from ..kserve.webhook import check_inferenceservice
from ..overlay import Env
from ..yamlio import load_all

__all__ = ["webhook_problems", "create_rules", "blobs_at"]

V1BETA1 = "serving.kserve.io/v1beta1"


def _isvc(data: bytes, parsed: Mapping[bytes, bytes] | None) -> dict[str, Any] | None:
    known = parsed.get(data) if parsed else None
    try:
        docs = [orjson.loads(known)] if known is not None else load_all(data)
    except yaml.YAMLError:
        return None  # tree.py reports the file
    doc = docs[0] if len(docs) == 1 else None
    return doc if isinstance(doc, dict) and doc.get("kind") == "InferenceService" and doc.get("apiVersion") == V1BETA1 else None


def _minor(env: Env) -> tuple[str, tuple[int, int]]:
    return _minor_of(env.overlay.kserve_version)


@functools.lru_cache(maxsize=16)
def _minor_of(kserve_version: str) -> tuple[str, tuple[int, int]]:
    text = features(kserve_version).minor
    major, minor = text.split(".")
    return text, (int(major), int(minor))


def create_rules(obj: dict[str, Any], env: Env) -> list[tuple[str, str]]:
    """(field path, message) for what the env's KServe would refuse in this object as it is (the
    rules that need no previous object): part of each file's cached result (``tree.py``)."""
    if env.overlay.kserve_api != V1BETA1 or obj.get("kind") != "InferenceService" or obj.get("apiVersion") != V1BETA1:
        return []
    text, minor = _minor(env)
    return [(f.path, f"KServe {text}: {f.message}") for f in check_inferenceservice(obj, None, minor)]


def webhook_problems(root: Path, env: Env, base: str | None = "HEAD", parsed: Mapping[bytes, bytes] | None = None,
                     listing: Mapping[str, bytes | None] | None = None, before: Mapping[str, str] | None = None) -> list[Problem]:
    """One problem per update-time rule a rendered InferenceService of ``env`` breaks against the
    same file at ``base`` (only files that changed since then are read; what holds without a
    previous object is checked per file by :func:`create_rules`). ``before``: the blob id of
    each file of ``rendered/<env>/`` at ``base``, when already listed (:func:`blobs_at`)."""
    if env.overlay.kserve_api != V1BETA1 or not base:
        return []
    folder = root / "rendered" / env.name
    if not folder.is_dir():
        return []
    text, minor = _minor(env)
    if listing is None:
        listing = {p.relative_to(folder).as_posix(): None for p in folder.glob("**/inferenceservice.yaml")}
    if before is None:
        before = blob_ids_at(root, base, f"rendered/{env.name}") or {}
    changed: list[tuple[str, dict[str, Any]]] = []
    for rel in sorted(r for r in listing if r.rpartition("/")[2] == "inferenceservice.yaml" and r in before):
        known = listing[rel]
        data = (folder / rel).read_bytes() if known is None else None
        if (known if known is not None else file_digest(data or b"")).hex() == before[rel]:
            continue  # unchanged since base: no update-time rule can trip
        new = _isvc(data if data is not None else (folder / rel).read_bytes(), parsed)
        if new is not None:
            changed.append((rel, new))
    blobs = read_blobs(root, [before[rel] for rel, _new in changed])  # one git process for all of them
    problems: list[Problem] = []
    for rel, new in changed:
        old = _isvc(blobs[before[rel]], None)
        seen = set(check_inferenceservice(new, None, minor))
        name = str((new.get("metadata") or {}).get("name", "?"))
        problems.extend(Problem(f"rendered/{env.name}/{rel}", None, f"InferenceService {name}: {f.path}", f"KServe {text}: {f.message}")
                        for f in check_inferenceservice(new, old, minor) if f not in seen)
    return problems


def blobs_at(root: Path, base: str | None, envs: list[Env], cache: ValidationCache | None = None) -> dict[str, dict[str, str]]:
    """For each env whose InferenceServices have update-time rules: the blob id of each of its
    InferenceService files at ``base`` (path relative to ``rendered/<env>/``), listed by one
    ``git ls-tree``, or kept in ``cache`` for the git tree ``rendered/`` is at ``base``."""
    names = {env.name for env in envs if env.overlay.kserve_api == V1BETA1}
    if not base or not names:
        return {name: {} for name in names}
    tree = rendered_tree_at(str(root), base) if cache is not None else None
    kept = cache.base_blobs(tree) if cache is not None and tree is not None else None
    if kept is not None and names <= kept.keys():
        return {name: kept[name] for name in names}
    found: dict[str, dict[str, str]] = {name: {} for name in names}
    for path, blob in (blob_ids_at(root, base, "rendered") or {}).items():
        name, _slash, rel = path.partition("/")
        if rel.rpartition("/")[2] == "inferenceservice.yaml":
            found.setdefault(name, {})[rel] = blob
    if cache is not None and tree is not None:
        cache.put_base_blobs(tree, found)
    return {name: found[name] for name in names}
