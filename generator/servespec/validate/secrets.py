"""The secrets policy over rendered objects (``secretscan.py`` has the patterns): no credentials
in any URL, no secret-looking plaintext value in a container's ``env`` outside an environment that
allows plaintext secrets, no control characters in any string, and SealedSecret values that are
really sealed. A value reviewed as not secret is named in the spec (``Model.not_secret``), which
renders it as the annotation :data:`NOT_SECRET`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..overlay import Env
from ..secretscan import control_characters, looks_sealed, redact_url, secret_like, uri_credentials

__all__ = ["secret_problems", "NOT_SECRET"]

NOT_SECRET = "serving.servespec.io/not-secret"
"""Annotation listing env var names whose values were reviewed as not secret (comma-separated;
``emit/isvc/common.py`` renders it from ``Model.not_secret``)."""


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _env_values(node: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(field path, name, value) of every ``env: [{name, value}]`` entry anywhere in an object."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key == "env" and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str):
                        yield f"{here}[{i}].value", item["name"], item["value"]
            else:
                yield from _env_values(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _env_values(value, f"{path}[{i}]")


def _reviewed(obj: dict[str, Any]) -> set[str]:
    """Env var names the object's :data:`NOT_SECRET` annotation lists."""
    meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    annotations: dict[str, Any] = meta["annotations"] if isinstance(meta.get("annotations"), dict) else {}
    return {n.strip() for n in str(annotations.get(NOT_SECRET, "")).split(",") if n.strip()}


def _env_clean(node: dict[Any, Any], obj: dict[str, Any], reviewed: list[set[str]]) -> bool:
    """False when ``node`` has an ``env`` list with an entry :func:`secret_problems` could refuse."""
    items = node.get("env")
    if not isinstance(items, list):
        return True
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str):
            if not reviewed:
                reviewed.append(_reviewed(obj))
            if item["name"] not in reviewed[0] and secret_like(item["name"], item["value"]):
                return False
    return True


def _clean(obj: dict[str, Any], env: Env) -> bool:
    """True only when :func:`secret_problems` finds nothing in ``obj``: the same checks in one walk
    that builds no field path (most objects are clean; the paths are built only for the others)."""
    kind = obj.get("kind")
    if kind == "SealedSecret":
        return False
    check_env = not env.overlay.allow_plaintext_secrets
    reviewed: list[set[str]] = []
    if check_env and not _env_clean(obj, obj, reviewed):
        return False
    for key, value in obj.items():
        name = str(key)  # the first part of every field path below (``_strings``)
        exempt = kind == "ConfigMap" and (name.startswith("data.") or (name == "data" and isinstance(value, dict)))
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                if exempt and node.count("\n") > 1:
                    continue
                if ("\n" not in node.rstrip("\n") and control_characters(node)) or ("://" in node and uri_credentials(node)):
                    return False
            elif isinstance(node, dict):
                if check_env and not _env_clean(node, obj, reviewed):
                    return False
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return True


_ESCAPED_CONTROL = re.compile(rb"\\[bfnrtu]")
_URL_TOKEN = re.compile(rb'"([^"]*://[^"]*)"')


def _clean_json(json: bytes, obj: dict[str, Any], env: Env) -> bool:
    """True only when :func:`secret_problems` finds nothing in ``obj``, decided from ``json`` (the
    same object as JSON) by byte searches: an ASCII spelling has no control character but as a
    ``\\n``-like escape or DEL; without backslashes every ``"…"`` holding ``://`` is a string."""
    if obj.get("kind") == "SealedSecret" or not json.isascii() or b"\x7f" in json or _ESCAPED_CONTROL.search(json):
        return False
    if b'"env"' in json and not env.overlay.allow_plaintext_secrets:
        return False
    if b"://" in json:
        if b"\\" in json:
            return False
        return not any(uri_credentials(m.group(1).decode()) for m in _URL_TOKEN.finditer(json))
    return True


def secret_problems(obj: dict[str, Any], env: Env, json: bytes | None = None) -> list[str]:
    """``field.path: message`` lines for one rendered object (``json``: the same object as JSON,
    when at hand, lets a clean object be recognized without walking it)."""
    if (json is not None and _clean_json(json, obj, env)) or _clean(obj, env):
        return []
    return _problems(obj, env)


def _problems(obj: dict[str, Any], env: Env) -> list[str]:
    out: list[str] = []
    kind = obj.get("kind")
    for path, value in _strings(obj):
        if path.startswith("data.") and kind == "ConfigMap" and value.count("\n") > 1:
            continue  # dashboards and rule files: multi-line documents by design
        bad = control_characters(value) if "\n" not in value.rstrip("\n") else None
        if bad:
            out.append(f"{path}: expected no control characters, found {bad.removeprefix('contains ')}")
        if "://" in value and uri_credentials(value):
            out.append(f"{path}: credentials in a URL are refused (found {uri_credentials(value)} in {redact_url(value)!r}): "
                       "use a Secret the consumer reads")
    if not env.overlay.allow_plaintext_secrets:
        reviewed = _reviewed(obj)
        for path, name, value in _env_values(obj):
            why = None if name in reviewed else secret_like(name, value)
            if why:
                out.append(f"{path}: {name} looks like a secret ({why}); plaintext secrets are refused in env {env.name!r}: "
                           f"use valueFrom.secretKeyRef, or list {name!r} in the model's not_secret after review")
    if kind == "SealedSecret":
        spec = obj.get("spec")
        data = (spec.get("encryptedData") if isinstance(spec, dict) else None) or {}
        for key, value in sorted(data.items()) if isinstance(data, dict) else []:
            if not (isinstance(value, str) and looks_sealed(value)):
                out.append(f"spec.encryptedData.{key}: expected a value sealed by kubeseal (base64 of RSA-OAEP + AES-GCM "
                           "ciphertext), found something else: a plaintext or mangled value in git")
    return out
