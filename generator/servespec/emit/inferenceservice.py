"""The ``serving.kserve.io/v1beta1`` InferenceService of each model, in KServe's current schema.

Nothing here is something KServe's defaulting webhook would rewrite (KSERVE.md §3):
``predictor.model.modelFormat`` (never a legacy framework key), an explicit
``serving.kserve.io/deploymentMode`` with the new mode names, an explicit ``protocolVersion``,
an explicit ``logger.mode``, and cpu/memory requests and limits always present in canonical form.
"""

from __future__ import annotations

from typing import Any

from ..errors import Problem, RenderError
from ..metrics import DEFAULT_METRICS, version_id
from ..quantity import parse
from ..spec import KSERVE_DEFAULT_RESOURCES, ArtExplainer, Container, Model, Resources
from .context import EnvContext, Output, base_labels
from .monitoring import scrape_annotations

__all__ = ["emit_model", "isvc_object", "resources", "predictor_model", "component_extension"]

API_VERSION = "serving.kserve.io/v1beta1"


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """The model's InferenceService."""
    if ctx.env.overlay.require_resource_limits:
        problems = _missing_limits(ctx, model)
        if problems:
            raise RenderError(problems)
    return [Output(f"models/{model.name}/inferenceservice.yaml", isvc_object(ctx, model), model.name)]


def _missing_limits(ctx: EnvContext, model: Model) -> list[Problem]:
    origin = ctx.project.specs.origin[("model", model.name)]
    found = []
    parts: list[tuple[str, Resources]] = [("predictor.resources", model.predictor.resources)]
    if model.transformer:
        parts.append(("transformer.container.resources", model.transformer.container.resources))
    for field, res in parts:
        missing = [k for k in ("cpu", "memory") if k not in res.limits]
        if missing:
            found.append(Problem(origin, None, f"{model.name}.{field}.limits",
                                 f"env {ctx.env.name!r} requires resource limits: expected cpu and memory, missing {', '.join(missing)}"))
    return found


def resources(res: Resources) -> dict[str, dict[str, str]]:
    """Requests and limits with cpu/memory always present (KServe's defaults where unset).

    A missing limit becomes the larger of the request and KServe's default, a missing request
    the smaller of the limit and KServe's default, so requests never exceed limits.
    """
    requests, limits = dict(res.requests), dict(res.limits)
    for key, default in KSERVE_DEFAULT_RESOURCES.items():
        req, lim = requests.get(key), limits.get(key)
        if req is None:
            requests[key] = default if lim is None else min(lim, default, key=lambda q: parse(q)[0])
        if lim is None:
            limits[key] = max(requests[key], default, key=lambda q: parse(q)[0])
    return {"requests": dict(sorted(requests.items())), "limits": dict(sorted(limits.items()))}


def predictor_model(model: Model, storage_uri: str | None = None) -> dict[str, Any]:
    """``spec.predictor.model`` (ModelSpec) of a model, optionally at another storage URI."""
    p = model.predictor
    fmt: dict[str, Any] = {"name": p.model_format}
    if p.model_format_version:
        fmt["version"] = p.model_format_version
    body: dict[str, Any] = {
        "modelFormat": fmt,
        "protocolVersion": p.effective_protocol,
        "storageUri": storage_uri or p.storage_uri,
        "resources": resources(p.resources),
    }
    if p.runtime:
        body["runtime"] = p.runtime
    if p.runtime_version:
        body["runtimeVersion"] = p.runtime_version
    if p.env:
        body["env"] = [{"name": k, "value": v} for k, v in sorted(p.env.items())]
    return body


def component_extension(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """Predictor-level fields: replicas, scaling, concurrency, timeout, batcher, logger, SA."""
    p = model.predictor
    body: dict[str, Any] = {"minReplicas": p.min_replicas}
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
    if model.logger:
        body["logger"] = logger_spec(model)
    sa = service_account(ctx, model)
    if sa:
        body["serviceAccountName"] = sa
    return body


def logger_spec(model: Model) -> dict[str, Any]:
    """``logger``: the mode always (KServe rejects an empty one), the sink when known."""
    assert model.logger is not None
    logger: dict[str, Any] = {"mode": model.logger.mode}
    if model.logger.url:
        logger["url"] = model.logger.url
    return logger


def service_account(ctx: EnvContext, model: Model) -> str | None:
    """The ServiceAccount a model's pods run as."""
    if model.service_account_name:
        return model.service_account_name
    if model.storage:
        return ctx.storage[model.storage].effective_service_account_name
    return None


def _container(c: Container) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "kserve-container", "image": c.image, "resources": resources(c.resources)}
    if c.args:
        body["args"] = list(c.args)
    if c.env:
        body["env"] = [{"name": k, "value": v} for k, v in sorted(c.env.items())]
    return body


def metadata(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """Name, namespace, labels and annotations (deploymentMode always explicit; scrape
    annotations, where the environment scrapes by annotation, under the user's own)."""
    annotations = {**scrape_annotations(ctx, model), **model.annotations,
                   "serving.kserve.io/deploymentMode": model.deployment_mode}
    return {
        "name": model.name,
        "namespace": ctx.namespace,
        "labels": {**base_labels(model.name), **model.labels},
        "annotations": annotations,
    }


def isvc_object(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The whole InferenceService of one model (legacy v1alpha2 where the overlay asks for it)."""
    if ctx.env.overlay.kserve_api == kfserving.API_VERSION:
        return kfserving.isvc_object(ctx, model)
    predictor = component_extension(ctx, model)
    predictor["model"] = predictor_model(model)
    spec: dict[str, Any] = {"predictor": predictor}
    sa = predictor.get("serviceAccountName")
    if model.transformer:
        t = model.transformer
        transformer: dict[str, Any] = {
            "minReplicas": t.min_replicas if t.min_replicas is not None else model.predictor.min_replicas,
            "containers": [_container(t.container)],
        }
        max_r = t.max_replicas if t.max_replicas is not None else model.predictor.max_replicas
        if max_r:
            transformer["maxReplicas"] = max_r
        if sa:
            transformer["serviceAccountName"] = sa
        spec["transformer"] = transformer
    if model.explainer:
        e = model.explainer
        if isinstance(e, ArtExplainer):
            art: dict[str, Any] = {"type": e.art_type, "resources": resources(e.resources)}
            if e.config:
                art["config"] = dict(e.config)
            spec["explainer"] = {"art": art}
        else:
            spec["explainer"] = {"containers": [_container(e.container)]}
    _apply_rollout(ctx, model, spec)
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": metadata(ctx, model), "spec": spec}


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
    """
    from ..rollout import STANDARD_CANARY_MIN

    state = ctx.rollout.get(model.name)
    if state is None:
        return
    key = DEFAULT_METRICS.version_pod_label
    pred = spec["predictor"]
    if model.deployment_mode == "Knative":
        uri, pct = {"canary": (state.candidate, state.traffic), "rolled-back": (state.stable, 0)}.get(state.phase, (state.stable, None))
        pred["model"]["storageUri"] = uri
        pred.setdefault("labels", {})[key] = version_id(uri)
        if pct is not None:
            pred["canaryTrafficPercent"] = pct
        return
    pred["model"]["storageUri"] = state.stable
    pred.setdefault("labels", {})[key] = version_id(state.stable)
    new_api = ctx.env.overlay.kserve_version_tuple >= STANDARD_CANARY_MIN
    if new_api:
        pred["name"] = version_id(state.stable)
    if state.phase != "canary":
        return
    if not new_api:
        file, line = ctx.env.where("kserveVersion")
        raise RenderError(Problem(file, line, "kserveVersion", f"{model.name} (Standard mode) has a canary in overlays/{ctx.env.name}.rollout.yaml: "
                                  f"spec.canary[] needs KServe >= 0.20, found {ctx.env.overlay.kserve_version}"))
    cand = state.candidate
    canary_model = {"name": "kserve-container", **predictor_model(model, cand)}  # the CRD requires a container name here
    spec["canary"] = [{
        "predictor": {"name": version_id(cand), "labels": {key: version_id(cand)}, "model": canary_model},
        "trafficPercent": state.traffic,
    }]


from . import kfserving  # noqa: E402  (imports this module's helpers)
