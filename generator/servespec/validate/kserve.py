"""KServe's webhook and controller rules (``kserve/webhook.py``) over a rendered tree: every
InferenceService of an env on the env's KServe version, update-time rules against the same file
at ``base`` (default ``HEAD``: the previous render, as the cluster compares the old object with
the new one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from ..errors import Problem
from ..gitrepo import changed_at
from ..kserve.versions import features
from ..kserve.webhook import check_inferenceservice
from ..overlay import Env
from ..yamlio import load_all

__all__ = ["webhook_problems"]

V1BETA1 = "serving.kserve.io/v1beta1"


def _isvc(data: bytes, parsed: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    known = parsed.get(data) if parsed else None
    try:
        docs = [orjson.loads(known)] if known is not None else load_all(data)
    except yaml.YAMLError:
        return None  # tree.py reports the file
    doc = docs[0] if len(docs) == 1 else None
    return doc if isinstance(doc, dict) and doc.get("kind") == "InferenceService" and doc.get("apiVersion") == V1BETA1 else None


def webhook_problems(root: Path, env: Env, base: str | None = "HEAD", parsed: dict[bytes, bytes] | None = None) -> list[Problem]:
    """One problem per rule a rendered InferenceService of ``env`` breaks on the env's KServe version."""
    if env.overlay.kserve_api != V1BETA1:
        return []
    folder = root / "rendered" / env.name
    if not folder.is_dir():
        return []
    minor_text = features(env.overlay.kserve_version).minor
    minor = (int(minor_text.split(".")[0]), int(minor_text.split(".")[1]))
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.glob("**/inferenceservice.yaml"))}
    before = changed_at(root, base, f"rendered/{env.name}", files) if base else None
    problems: list[Problem] = []
    for rel, data in files.items():
        new = _isvc(data, parsed)
        if new is None:
            continue
        old: dict[str, Any] | None = new  # unchanged since base: no update-time rule can trip
        if before is not None and rel in before:
            old_data = before[rel]
            old = _isvc(old_data, None) if old_data is not None else None
        elif before is None:
            old = None
        name = str((new.get("metadata") or {}).get("name", "?"))
        problems.extend(Problem(f"rendered/{env.name}/{rel}", None, f"InferenceService {name}: {f.path}", f"KServe {minor_text}: {f.message}")
                        for f in check_inferenceservice(new, old, minor))
    return problems
