"""Builders of rendered InferenceServices for the KServe rule tests (plain dicts, as in YAML)."""

from __future__ import annotations

import copy
from typing import Any

from servespec.kserve.findings import Finding, Minor

MODE = "serving.kserve.io/deploymentMode"
MINORS: list[Minor] = [(0, 14), (0, 15), (0, 16), (0, 17), (0, 18), (0, 19), (0, 20)]


def knative(minor: Minor) -> str:
    """The Knative mode's name on ``minor``."""
    return "Serverless" if minor < (0, 16) else "Knative"


def standard(minor: Minor) -> str:
    """The Standard mode's name on ``minor``."""
    return "RawDeployment" if minor < (0, 16) else "Standard"


def isvc(mode: str | None = "Knative", *, name: str = "m", namespace: str = "ml",
         annotations: dict[str, str] | None = None, predictor: dict[str, Any] | None = None,
         model: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A valid InferenceService (sklearn, v1, s3) with what a test changes merged in."""
    ann = {} if mode is None else {MODE: mode}
    ann.update(annotations or {})
    body: dict[str, Any] = {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1", "storageUri": "s3://bucket/m"}
    body.update(model or {})
    pred: dict[str, Any] = {"minReplicas": 1, "model": body}
    pred.update(predictor or {})
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": namespace, "annotations": ann},
            "spec": {"predictor": pred, **copy.deepcopy(spec)}}


def messages(findings: list[Finding], rule: str) -> list[str]:
    """The one-line messages (``path: message``) of the findings of one rule."""
    return [str(f) for f in findings if f.rule == rule]
