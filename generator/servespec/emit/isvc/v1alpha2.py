"""The legacy KFServing ``serving.kubeflow.org/v1alpha2`` InferenceService (KSERVE.md §10).

For clusters still on KFServing <= 0.6 (overlay ``kserveApi: serving.kubeflow.org/v1alpha2``):
``spec.default`` (an EndpointSpec: ``predictor`` with one framework key such as
``tensorflow: {storageUri, runtimeVersion, resources}`` plus the inline DeploymentSpec fields,
optional ``transformer.custom.container``), and during a canary ``spec.canary`` (the same shape,
the candidate's storageUri) with ``spec.canaryTrafficPercent``. Promotion moves the candidate
into ``default`` and drops ``canary``; a rollback drops ``canary`` (the default endpoint never
stopped serving). What v1alpha2 cannot express (ServingRuntimes, Standard mode, ART explainers,
the v2 protocol outside Triton) is refused by ``resolve.py``, never dropped silently.
"""

from __future__ import annotations

from typing import Any

from ...resolve import LEGACY_API
from ...spec import Model
from ..context import EnvContext
from .common import container, logger_spec, metadata, resources, service_account

__all__ = ["API_VERSION", "isvc_object"]

API_VERSION = LEGACY_API


def _deployment(ctx: EnvContext, model: Model) -> dict[str, Any]:
    p = model.predictor
    body: dict[str, Any] = {"minReplicas": p.min_replicas}
    if p.max_replicas:
        body["maxReplicas"] = p.max_replicas
    if p.container_concurrency is not None:
        body["parallelism"] = p.container_concurrency
    if p.batcher:
        body["batcher"] = p.batcher.model_dump(by_alias=True, exclude_none=True)
    if model.logger:
        body["logger"] = logger_spec(model)
    sa = service_account(ctx, model)
    if sa:
        body["serviceAccountName"] = sa
    return body


def _endpoint(ctx: EnvContext, model: Model, uri: str) -> dict[str, Any]:
    p = model.predictor
    framework: dict[str, Any] = {"storageUri": uri, "resources": resources(p.resources)}
    if p.runtime_version:
        framework["runtimeVersion"] = p.runtime_version
    endpoint: dict[str, Any] = {"predictor": {**_deployment(ctx, model), (p.model_format or "").lower(): framework}}
    if model.transformer:
        t = model.transformer
        custom = container(t.container)
        custom.pop("name", None)
        body: dict[str, Any] = {"minReplicas": t.min_replicas if t.min_replicas is not None else p.min_replicas,
                                "custom": {"container": custom}}
        max_r = t.max_replicas if t.max_replicas is not None else p.max_replicas
        if max_r:
            body["maxReplicas"] = max_r
        endpoint["transformer"] = body
    return endpoint


def isvc_object(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The v1alpha2 InferenceService of one model, canary included."""
    state = ctx.rollout.get(model.name)
    stable = state.stable if state else model.predictor.storage_uri
    spec: dict[str, Any] = {"default": _endpoint(ctx, model, stable)}
    if state is not None and state.phase == "canary" and state.candidate is not None:
        spec["canary"] = _endpoint(ctx, model, state.candidate)
        spec["canaryTrafficPercent"] = state.traffic
    meta = metadata(ctx, model)
    meta["annotations"].pop("serving.kserve.io/deploymentMode", None)
    if not meta["annotations"]:
        del meta["annotations"]
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": meta, "spec": spec}
