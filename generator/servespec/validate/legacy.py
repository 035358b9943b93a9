"""A hand-written JSON Schema for KFServing's ``serving.kubeflow.org/v1alpha2`` InferenceService.

There is no upstream CRD for it in ``../shared/crds`` (KServe >= 0.7 dropped the group), so
``validate`` falls back to this schema, written from KSERVE.md §10 (KFServing v0.4.1-v0.6.1
``pkg/apis/serving/v1alpha2/inferenceservice_types.go``) and covering exactly what servespec
renders for that API: closed objects, so a typo is still caught. It is servespec's reading of
the Go types, not the real CRD; ``validate`` says so when it uses it. A ``--crds`` folder holding
the real v1alpha2 CRD takes precedence.
"""

from __future__ import annotations

from typing import Any

__all__ = ["V1ALPHA2_INFERENCESERVICE", "PACKAGED_SCHEMAS"]

_QUANTITY: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": _QUANTITY},
    "limits": {"type": "object", "additionalProperties": _QUANTITY}}}
_FRAMEWORK = {"type": "object", "additionalProperties": False, "required": ["storageUri"], "properties": {
    "storageUri": {"type": "string"}, "runtimeVersion": {"type": "string"}, "resources": _RESOURCES}}
_ENV = {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["name"],
                                   "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}}
_CONTAINER = {"type": "object", "additionalProperties": False, "required": ["image"], "properties": {
    "name": {"type": "string"}, "image": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}},
    "env": _ENV, "resources": _RESOURCES}}
_DEPLOYMENT = {
    "serviceAccountName": {"type": "string"},
    "minReplicas": {"type": "integer", "minimum": 0},
    "maxReplicas": {"type": "integer", "minimum": 0},
    "parallelism": {"type": "integer", "minimum": 0},
    "logger": {"type": "object", "additionalProperties": False, "properties": {
        "url": {"type": "string"}, "mode": {"enum": ["all", "request", "response"]}}},
    "batcher": {"type": "object", "additionalProperties": False, "properties": {
        "maxBatchSize": {"type": "integer"}, "maxLatency": {"type": "integer"}, "timeout": {"type": "integer"}}},
}
_FRAMEWORKS = ("tensorflow", "triton", "xgboost", "lightgbm", "sklearn", "onnx", "pytorch", "pmml")
_PREDICTOR = {"type": "object", "additionalProperties": False,
              "properties": {**_DEPLOYMENT, **{f: _FRAMEWORK for f in _FRAMEWORKS},
                             "custom": {"type": "object", "additionalProperties": False, "required": ["container"],
                                        "properties": {"container": _CONTAINER}}},
              "oneOf": [{"required": [f]} for f in (*_FRAMEWORKS, "custom")]}
_TRANSFORMER = {"type": "object", "additionalProperties": False, "required": ["custom"],
                "properties": {**_DEPLOYMENT, "custom": {"type": "object", "additionalProperties": False,
                                                         "required": ["container"], "properties": {"container": _CONTAINER}}}}
_ENDPOINT = {"type": "object", "additionalProperties": False, "required": ["predictor"],
             "properties": {"predictor": _PREDICTOR, "transformer": _TRANSFORMER}}

V1ALPHA2_INFERENCESERVICE: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "description": "servespec's hand-written schema of serving.kubeflow.org/v1alpha2 InferenceService (not an upstream CRD)",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "serving.kubeflow.org/v1alpha2"},
        "kind": {"const": "InferenceService"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "additionalProperties": False, "required": ["default"], "properties": {
            "default": _ENDPOINT, "canary": _ENDPOINT,
            "canaryTrafficPercent": {"type": "integer", "minimum": 0, "maximum": 100}}},
    },
}

PACKAGED_SCHEMAS = {("serving.kubeflow.org/v1alpha2", "InferenceService"): V1ALPHA2_INFERENCESERVICE}
"""(apiVersion, kind) -> schema used when no CRD in ``--crds`` defines the kind."""
