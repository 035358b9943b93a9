"""Parts of an InferenceService every API version shares: resources in canonical form, the
model spec, containers, the logger, the ServiceAccount and the metadata."""

from __future__ import annotations

from typing import Any

from ...quantity import parse
from ...spec import KSERVE_DEFAULT_RESOURCES, Container, Model, Resources
from ..context import EnvContext, base_labels, scrape_annotations

__all__ = ["resources", "predictor_model", "logger_spec", "service_account", "container", "metadata", "mode_annotation"]

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
    body: dict[str, Any] = {"name": "kserve-container", "image": c.image, "resources": resources(c.resources)}
    if c.args:
        body["args"] = list(c.args)
    if c.env:
        body["env"] = [{"name": k, "value": v} for k, v in sorted(c.env.items())]
    return body


def metadata(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """Name, namespace, labels and annotations (deploymentMode explicit, see :func:`mode_annotation`; scrape
    annotations, where the environment scrapes by annotation, under the user's own)."""
    annotations = {**scrape_annotations(ctx, model), **model.annotations, **mode_annotation(ctx, model)}
    if model.not_secret:
        annotations[NOT_SECRET] = ",".join(sorted(model.not_secret))
    return {
        "name": model.name,
        "namespace": ctx.namespace,
        "labels": {**base_labels(model.name), **model.labels},
        "annotations": annotations,
    }
