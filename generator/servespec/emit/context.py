"""What every emitter gets (``EnvContext``, built by ``resolve.py``) and returns (``Output``), and the small helpers
several emitters share (labels, kustomization objects, which models are monitored and how their
pods are scraped). Nothing here raises: ``resolve.py`` checked the context before emitters run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..metrics import MODEL_SERVER_PATH, MODEL_SERVER_PORT
from ..resolve import EnvContext
from ..spec import AwsIamRole, AzureManagedIdentity, GcpServiceAccount, Model

__all__ = ["EnvContext", "Output", "MANAGED_BY", "COMMON", "base_labels", "KIND_RANK", "kustomization", "monitored_models",
           "model_server_endpoint", "scrape_annotations", "identity_annotations", "model_identity", "AZURE_USE_LABEL"]

AZURE_USE_LABEL = "azure.workload.identity/use"
"""The pod label Azure Workload Identity's webhook acts on."""

MANAGED_BY = {"app.kubernetes.io/managed-by": "servespec"}

COMMON = "common"
"""The delivery unit of the objects that belong to no model (``emit/layout.py``)."""

KIND_RANK = {
    "Namespace": 0, "Secret": 1, "ExternalSecret": 1, "SealedSecret": 1, "ServiceAccount": 2,
    "ConfigMap": 3, "Service": 4, "Deployment": 4, "ClusterServingRuntime": 4, "ServingRuntime": 4,
    "InferenceService": 5, "InferenceGraph": 5, "PodMonitor": 6, "PrometheusRule": 6,
    "LLMInferenceServiceConfig": 3, "LocalModelCache": 4, "LocalModelNamespaceCache": 4, "LLMInferenceService": 5,
}
"""Listing order of kinds in a kustomization; unknown kinds come after these."""


@dataclass(frozen=True)
class Output:
    """One object to write at ``path`` (relative to ``rendered/<env>/``)."""

    path: str
    obj: dict[str, Any]
    """The object; only ``{"kind": ...}`` when ``data`` came from the render cache."""
    model: str | None = None
    """The model the object belongs to, if any (for incremental renders and diffs)."""
    data: bytes | None = None
    """The object serialized, when already known (a render-cache hit)."""

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])


def base_labels(model: str | None = None) -> dict[str, str]:
    """Labels servespec puts on what it renders."""
    labels = dict(MANAGED_BY)
    if model:
        labels["app.kubernetes.io/name"] = model
    return labels


def kustomization(path: str, outputs: list[Output], prefix: str = "") -> Output:
    """A kustomization at ``path`` listing ``outputs`` (paths relative to ``prefix``) by kind rank, then path."""
    ordered = sorted(outputs, key=lambda o: (KIND_RANK.get(o.kind, 50), o.path))
    return Output(path, {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [o.path[len(prefix):] for o in ordered],
    })


def monitored_models(ctx: EnvContext, models: Iterable[Model] | None = None) -> list[Model]:
    """Models of the environment (or of ``models``) that get monitoring objects."""
    if not ctx.env.overlay.monitoring.enabled:
        return []
    return [m for m in (ctx.models.values() if models is None else models) if m.monitoring.enabled]


def model_server_endpoint(model: Model) -> tuple[int, str]:
    """Port and path of the model server's metrics (``prometheus.kserve.io/*`` annotations win;
    ``resolve.py`` checked the port)."""
    port = model.annotations.get("prometheus.kserve.io/port", str(MODEL_SERVER_PORT))
    return int(port), model.annotations.get("prometheus.kserve.io/path", MODEL_SERVER_PATH)


def scrape_annotations(ctx: EnvContext, model: Model) -> dict[str, str]:
    """Pod-scrape annotations for the InferenceService, in environments without
    prometheus-operator (empty otherwise). KServe copies them to the pods; its webhook turns
    ``enable-prometheus-scraping`` into ``prometheus.io/port``/``path`` (queue-proxy 9091, or
    9088 with aggregation) but does not set ``prometheus.io/scrape``, so that is set too."""
    mon = ctx.env.overlay.monitoring
    if mon.prometheus_operator or not mon.enabled or not model.monitoring.enabled:
        return {}
    if model.deployment_mode == "Knative":
        out = {"prometheus.io/scrape": "true", "serving.kserve.io/enable-prometheus-scraping": "true"}
        if mon.aggregate_metrics:
            out["serving.kserve.io/enable-metric-aggregation"] = "true"
        return out
    port, path = model_server_endpoint(model)
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


Identity = AwsIamRole | GcpServiceAccount | AzureManagedIdentity


def identity_annotations(identity: Identity | None) -> dict[str, str]:
    """The ServiceAccount annotations that bind it to a cloud identity: IRSA's role ARN, GKE Workload
    Identity's Google service account, Azure Workload Identity's client (and tenant) id."""
    if isinstance(identity, AwsIamRole):
        return {"eks.amazonaws.com/role-arn": identity.role_arn}
    if isinstance(identity, GcpServiceAccount):
        return {"iam.gke.io/gcp-service-account": identity.service_account}
    if isinstance(identity, AzureManagedIdentity):
        out = {"azure.workload.identity/client-id": identity.client_id}
        if identity.tenant_id:
            out["azure.workload.identity/tenant-id"] = identity.tenant_id
        return out
    return {}


def model_identity(ctx: EnvContext, model: Model) -> Identity | None:
    """The cloud identity the model's pods act as: its own ServiceAccount's (declared in the overlay),
    else its storage endpoint's."""
    if model.service_account_name:
        sa = ctx.env.overlay.service_accounts.get(model.service_account_name)
        return sa.identity if sa is not None else None
    if model.storage and model.storage in ctx.storage:
        return ctx.storage[model.storage].identity
    return None
