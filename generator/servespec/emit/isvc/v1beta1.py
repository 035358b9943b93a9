"""The ``serving.kserve.io/v1beta1`` InferenceService of each model, in KServe's current schema.

Nothing here is something KServe's defaulting webhook would rewrite (KSERVE.md §3):
``predictor.model.modelFormat`` (never a legacy framework key), an explicit
``serving.kserve.io/deploymentMode`` in the mode names of the env's KServe version, an explicit ``protocolVersion``,
an explicit ``logger.mode``, and cpu/memory requests and limits always present in canonical form.
"""

from __future__ import annotations

from typing import Any

from ...metrics import DEFAULT_METRICS, version_id
from ...spec import ArtExplainer, Model
from ...spec.container import to_k8s
from ..context import EnvContext
from .common import container, custom_predictor, logger_spec, metadata, pod_labels, predictor_model, resources, service_account

__all__ = ["API_VERSION", "isvc_object", "component_extension"]

API_VERSION = "serving.kserve.io/v1beta1"


def component_extension(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """Predictor-level fields: replicas, scaling, concurrency, timeout, batcher, logger, SA, and the pod's
    scheduling, security, volumes, labels/annotations, deployment strategy, autoScaling, workerSpec."""
    p = model.predictor
    body: dict[str, Any] = {**p.pod_body(), "minReplicas": p.min_replicas}
    if p.max_replicas:
        body["maxReplicas"] = p.max_replicas
    if p.scale_target is not None:
        body["scaleTarget"] = p.scale_target
    if p.scale_metric:
        body["scaleMetric"] = p.scale_metric
    if p.container_concurrency is not None:
        body["containerConcurrency"] = p.container_concurrency
    if p.timeout is not None:
        body["timeout"] = p.timeout
    if p.batcher:
        body["batcher"] = p.batcher.model_dump(by_alias=True, exclude_none=True)
    if p.auto_scaling is not None:
        body["autoScaling"] = to_k8s(p.auto_scaling)
    if p.worker_spec is not None:
        body["workerSpec"] = to_k8s(p.worker_spec)
    if model.logger:
        body["logger"] = logger_spec(model)
    sa = service_account(ctx, model)
    if sa:
        body["serviceAccountName"] = sa
    _labels(ctx, model, body)
    return body


def _labels(ctx: EnvContext, model: Model, body: dict[str, Any]) -> None:
    labels = pod_labels(ctx, model, body.get("labels", {}))
    if labels:
        body["labels"] = dict(sorted(labels.items()))


def _transformer(ctx: EnvContext, model: Model, sa: str | None) -> dict[str, Any]:
    assert model.transformer is not None
    t = model.transformer
    body: dict[str, Any] = {
        **t.pod_body(),
        "minReplicas": t.min_replicas if t.min_replicas is not None else model.predictor.min_replicas,
        "containers": [container(t.container)],
    }
    max_r = t.max_replicas if t.max_replicas is not None else model.predictor.max_replicas
    if max_r:
        body["maxReplicas"] = max_r
    if sa:
        body["serviceAccountName"] = sa
    _labels(ctx, model, body)
    return body


def _explainer(ctx: EnvContext, model: Model) -> dict[str, Any]:
    e = model.explainer
    assert e is not None
    body = e.pod_body()
    if isinstance(e, ArtExplainer):
        art: dict[str, Any] = {"type": e.art_type, "resources": resources(e.resources)}
        if e.config:
            art["config"] = dict(e.config)
        body["art"] = art
    else:
        body["containers"] = [container(e.container)]
    _labels(ctx, model, body)
    return body


def isvc_object(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The whole InferenceService of one model (legacy v1alpha2 where the overlay asks for it)."""
    predictor = component_extension(ctx, model)
    if model.predictor.container is not None:
        predictor["containers"] = [custom_predictor(model)]
    else:
        predictor["model"] = predictor_model(model)
    spec: dict[str, Any] = {"predictor": predictor}
    if model.transformer:
        spec["transformer"] = _transformer(ctx, model, predictor.get("serviceAccountName"))
    if model.explainer:
        spec["explainer"] = _explainer(ctx, model)
    _apply_rollout(ctx, model, spec)
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": metadata(ctx, model), "spec": spec}


def _version(model: Model, pred: dict[str, Any], uri: str, runtime: str | None) -> None:
    """Point a rendered predictor at ``uri`` (and a pinned ``runtime``)."""
    if model.predictor.container is not None:
        pred["containers"] = [custom_predictor(model, uri)]
        return
    pred["model"] = predictor_model(model, uri, runtime)


def _apply_rollout(ctx: EnvContext, model: Model, spec: dict[str, Any]) -> None:
    """Render the model's rollout state (``overlays/<env>.rollout.yaml``) into its spec.

    Every managed predictor carries the pod label ``serving.servespec.io/version`` (the gates'
    canary selector, ``metrics.py``). Knative mode (KSERVE.md §6): a canary is the candidate's
    storageUri with ``canaryTrafficPercent``; stable drops the field (promotion). A rollback
    renders the *stable* storageUri with ``canaryTrafficPercent: 0``: on a live cluster KServe
    sends 100% at once to ``latestRolledoutRevision`` (the stable revision, still running), while
    the new stable-spec revision starts with 0%; on a rebuilt cluster (no rolled-out revision)
    the field is ignored and the stable spec gets 100%. Git names the stable model either way.
    Standard mode (KSERVE.md §7): ``spec.canary[]`` with ``trafficPercent``, KServe >= 0.20 only.
    A runtime the state pins (``runtime``, ``candidate_runtime``) is rendered instead of the spec's.
    """
    state = ctx.rollout.get(model.name)
    if state is None:
        return
    key = DEFAULT_METRICS.version_pod_label
    pred = spec["predictor"]
    if model.deployment_mode == "Knative":
        uri, pct, runtime = {"canary": (state.candidate or state.stable, state.traffic, state.candidate_runtime),
                             "rolled-back": (state.stable, 0, state.runtime)}.get(state.phase, (state.stable, None, state.runtime))
        _version(model, pred, uri, runtime)
        pred.setdefault("labels", {})[key] = version_id(uri)
        if pct is not None:
            pred["canaryTrafficPercent"] = pct
        return
    _version(model, pred, state.stable, state.runtime)
    pred.setdefault("labels", {})[key] = version_id(state.stable)
    new_api = ctx.kserve.predictor_name
    if new_api:
        pred["name"] = version_id(state.stable)
    if state.phase != "canary" or not ctx.kserve.standard_canary:  # resolve.py refused a canary KServe does not route
        return
    cand = state.candidate
    assert cand is not None  # resolve.check_state: a canary has a candidate
    canary: dict[str, Any] = {"name": version_id(cand), "labels": {key: version_id(cand)}}
    if model.predictor.container is not None:
        canary["containers"] = [custom_predictor(model, cand)]
    else:  # the CRD requires a container name here
        canary["model"] = {"name": "kserve-container", **predictor_model(model, cand, state.candidate_runtime)}
    spec["canary"] = [{"predictor": canary, "trafficPercent": state.traffic}]
