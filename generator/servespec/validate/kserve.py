"""KServe's webhook and controller rules (``kserve/webhook.py``) over a rendered tree: every
InferenceService of an env on the env's KServe version, update-time rules against the same file
at ``base`` (default ``HEAD``: the previous render, as the cluster compares the old object with
the new one). Files are compared with ``base`` by git blob id, read only where they differ; an
InferenceService whose bytes, bytes at ``base`` and KServe version are those of an earlier run
reuses that run's findings (``cache/validation.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..cache.fingerprint import file_digest
from ..cache.validation import ValidationCache
from ..errors import Problem
from ..gitrepo import blob_ids_at, read_blob
from ..kserve.versions import features
from ..kserve.webhook import check_inferenceservice
from ..overlay import Env
from ..yamlio import load_all

__all__ = ["webhook_problems"]

V1BETA1 = "serving.kserve.io/v1beta1"


def _isvc(data: bytes, parsed: Mapping[bytes, bytes] | None) -> dict[str, Any] | None:
    known = parsed.get(data) if parsed else None
    try:
        docs = [orjson.loads(known)] if known is not None else load_all(data)
    except yaml.YAMLError:
        return None  # tree.py reports the file
    doc = docs[0] if len(docs) == 1 else None
    return doc if isinstance(doc, dict) and doc.get("kind") == "InferenceService" and doc.get("apiVersion") == V1BETA1 else None


def webhook_problems(root: Path, env: Env, base: str | None = "HEAD", parsed: Mapping[bytes, bytes] | None = None,
                     cache: ValidationCache | None = None, listing: Mapping[str, bytes | None] | None = None) -> list[Problem]:
    """One problem per rule a rendered InferenceService of ``env`` breaks on the env's KServe
    version. ``listing``: the env's files with their digests where known without reading them
    (``validate/tree.rendered_files``)."""
    if env.overlay.kserve_api != V1BETA1:
        return []
    folder = root / "rendered" / env.name
    if not folder.is_dir():
        return []
    minor_text = features(env.overlay.kserve_version).minor
    minor = (int(minor_text.split(".")[0]), int(minor_text.split(".")[1]))
    if listing is None:
        listing = {p.relative_to(folder).as_posix(): None for p in folder.glob("**/inferenceservice.yaml")}
    before = blob_ids_at(root, base, f"rendered/{env.name}") if base else None
    problems: list[Problem] = []
    found: dict[bytes, list[tuple[str, str]]] = {}
    for rel in sorted(r for r in listing if r.rpartition("/")[2] == "inferenceservice.yaml"):
        known = listing[rel]
        data = None if known is not None else (folder / rel).read_bytes()
        now = (known if known is not None else file_digest(data or b"")).hex()
        was = "-" if before is None or rel not in before else "=" if before[rel] == now else before[rel]
        key = f"{minor_text}:{now}:{was}".encode()
        hit = cache.webhook(env.name, key) if cache is not None else None
        if hit is None:
            hit = _findings(root, data if data is not None else (folder / rel).read_bytes(), was, minor, parsed)
        found[key] = hit
        problems.extend(Problem(f"rendered/{env.name}/{rel}", None, label, f"KServe {minor_text}: {message}") for label, message in hit)
    if cache is not None:
        cache.put_webhook(env.name, found)
    return problems


def _findings(root: Path, data: bytes, was: str, minor: tuple[int, int], parsed: Mapping[bytes, bytes] | None) -> list[tuple[str, str]]:
    """(field, message) per rule one InferenceService breaks; ``was``: ``-`` not at the base,
    ``=`` unchanged since it, else its blob id there."""
    new = _isvc(data, parsed)
    if new is None:
        return []
    old: dict[str, Any] | None = new  # unchanged since base: no update-time rule can trip
    if was == "-":
        old = None
    elif was != "=":
        old = _isvc(read_blob(root, was), None)
    name = str((new.get("metadata") or {}).get("name", "?"))
    return [(f"InferenceService {name}: {f.path}", f.message) for f in check_inferenceservice(new, old, minor)]
