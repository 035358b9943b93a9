"""Parts of an InferenceService every API version shares: resources in canonical form, the
model spec, containers, the logger, the ServiceAccount and the metadata."""

from __future__ import annotations

from typing import Any

from ...quantity import parse
from ...spec import KSERVE_DEFAULT_RESOURCES, Container, Model, Resources
from ...spec.container import env_list
from ..context import AZURE_USE_LABEL, EnvContext, base_labels, model_identity, scrape_annotations

__all__ = ["resources", "predictor_model", "logger_spec", "service_account", "container", "metadata", "mode_annotation",
           "custom_predictor", "pod_labels", "AUTOSCALER_CLASS"]

AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
STORAGE_URI_ENV = "STORAGE_URI"
"""The variable KServe reads a custom predictor's storage URI from (``CustomSpecStorageUriEnvVarKey``)."""
PROTOCOL_ENV = "PROTOCOL"
"""The variable KServe validates a custom predictor's protocol in (``CustomSpecProtocolEnvVarKey``, v1 or v2)."""

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
NOT_SECRET = "serving.servespec.io/not-secret"
"""Env var names reviewed as not secret (``Model.not_secret``), read by ``validate/secrets.py``."""


def mode_annotation(ctx: EnvContext, model: Model) -> dict[str, str]:
    """``serving.kserve.io/deploymentMode`` in the words of the env's KServe version
    (``Serverless``/``RawDeployment`` before 0.16, ``Knative``/``Standard`` from 0.16), always
    explicit except for Knative mode on 0.19, where an explicit non-Standard mode blocks the
    controller (``Features.explicit_knative_mode``)."""
    k = ctx.kserve
    if model.deployment_mode == "Knative":
        return {MODE_ANNOTATION: k.knative_mode} if k.explicit_knative_mode else {}
    return {MODE_ANNOTATION: k.standard_mode}


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
    for key, value in res.fixed().items():  # extended resources and hugepages: request = limit (spec/resources.py)
        requests[key] = limits[key] = value
    return {"requests": dict(sorted(requests.items())), "limits": dict(sorted(limits.items()))}


def predictor_model(model: Model, storage_uri: str | None = None, runtime: str | None = None) -> dict[str, Any]:
    """``spec.predictor.model`` (ModelSpec) of a model, optionally at another storage URI and runtime."""
    p = model.predictor
    fmt: dict[str, Any] = {"name": p.model_format}
    if p.model_format_version:
        fmt["version"] = p.model_format_version
    body: dict[str, Any] = {
        **p.container_body(),
        "modelFormat": fmt,
        "protocolVersion": p.effective_protocol,
        "resources": resources(p.resources),
    }
    uri = storage_uri or p.storage_uri
    if uri:
        body["storageUri"] = uri
    if p.storage_spec is not None:
        body["storage"] = p.storage_spec.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    runtime = runtime or p.runtime_name
    if runtime:
        body["runtime"] = runtime
    if p.runtime_version:
        body["runtimeVersion"] = p.runtime_version
    if p.image:
        body["image"] = p.image
    return body


def custom_predictor(model: Model, storage_uri: str | None = None) -> dict[str, Any]:
    """``containers[0]`` of a custom predictor: the image, its storage URI as ``STORAGE_URI`` (KServe then
    runs its storage initializer) and its protocol as ``PROTOCOL``."""
    p = model.predictor
    assert p.container is not None  # spec/model.py: a custom predictor has one
    body = container(p.container)
    extra = {k: v for k, v in ((STORAGE_URI_ENV, storage_uri or p.storage_uri), (PROTOCOL_ENV, p.protocol)) if v}
    if extra:
        body["env"] = env_list({**p.container.env, **extra})
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


def container(c: Container) -> dict[str, Any]:
    """A container of your own, named ``kserve-container``."""
    body: dict[str, Any] = {**c.container_body(), "name": "kserve-container", "image": c.image, "resources": resources(c.resources)}
    if c.image_pull_policy:
        body["imagePullPolicy"] = c.image_pull_policy
    return body


def pod_labels(ctx: EnvContext, model: Model, own: dict[str, str]) -> dict[str, str]:
    """A component's pod labels: its own, plus Azure Workload Identity's ``use`` label when the model's
    ServiceAccount is bound to an Azure identity (the identity webhook injects the token only then)."""
    identity = model_identity(ctx, model)
    if identity is not None and identity.provider == "azure":
        return {**own, AZURE_USE_LABEL: "true"}
    return own


def metadata(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """Name, namespace, labels and annotations (deploymentMode explicit, see :func:`mode_annotation`; scrape
    annotations, where the environment scrapes by annotation, under the user's own)."""
    annotations = {**scrape_annotations(ctx, model), **model.annotations, **mode_annotation(ctx, model)}
    if model.predictor.autoscaler_class:
        annotations[AUTOSCALER_CLASS] = model.predictor.autoscaler_class
    if model.not_secret:
        annotations[NOT_SECRET] = ",".join(sorted(model.not_secret))
    return {
        "name": model.name,
        "namespace": ctx.namespace,
        "labels": {**base_labels(model.name), **model.labels},
        "annotations": annotations,
    }
