"""servespec's own rules for rendered objects, beyond their schemas: DNS names, no plaintext
Secret data outside an environment that allows it, resource limits where the overlay requires them."""

from __future__ import annotations

import re
from typing import Any

from ..overlay import Env
from .secrets import secret_problems

__all__ = ["policy_problems"]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def policy_problems(obj: dict[str, Any], env: Env, json: bytes | None = None) -> list[str]:
    """servespec's own rules for one rendered object (``json``: the same object as JSON, if at hand)."""
    out = []
    kind = obj.get("kind")
    name = _map(obj.get("metadata")).get("name")
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        out.append(f"metadata.name: expected a DNS-1123 subdomain name, found {name!r}")
    elif kind == "InferenceService" and obj.get("apiVersion") != "serving.kserve.io/v1beta1" \
            and (len(name) > 63 or not _DNS_LABEL.match(name)):  # v1beta1: KServe's own rule, validate/kserve.py
        out.append(f"metadata.name: expected a DNS-1035 label (InferenceService names become hostnames), found {name!r}")
    if kind == "Secret" and (obj.get("data") or obj.get("stringData")) and not env.overlay.allow_plaintext_secrets:
        out.append(f"plaintext secret data in git is refused in env {env.name!r} (allowPlaintextSecrets is false)")
    if kind == "InferenceService" and env.overlay.require_resource_limits:
        for where, container in _isvc_containers(obj):
            limits = _map(_map(container.get("resources")).get("limits"))
            missing = [k for k in ("cpu", "memory") if k not in limits]
            if missing:
                out.append(f"{where}.resources.limits: env {env.name!r} requires limits, missing {', '.join(missing)}")
    out.extend(secret_problems(obj, env, json))
    return out


def _map(value: Any) -> dict[Any, Any]:
    """``value`` where it is a mapping, else empty (a malformed object is the schema's to report)."""
    return value if isinstance(value, dict) else {}


def _isvc_containers(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = _map(obj.get("spec"))
    found = []
    for comp in ("predictor", "transformer", "explainer"):
        body = _map(spec.get(comp))
        if isinstance(body.get("model"), dict):
            found.append((f"spec.{comp}.model", body["model"]))
        if isinstance(body.get("art"), dict):
            found.append((f"spec.{comp}.art", body["art"]))
        containers = body.get("containers")
        for i, c in enumerate(containers if isinstance(containers, list) else []):
            found.append((f"spec.{comp}.containers[{i}]", _map(c)))
    return found
