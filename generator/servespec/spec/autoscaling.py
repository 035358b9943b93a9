"""KServe's ``autoScaling`` (metrics and behavior for the HPA or KEDA autoscaler of Standard mode, KServe
0.15+) and the multi-node ``workerSpec``, in the shape of KServe's CRD (dumped as is by
``container.to_k8s``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import PositiveInt, Quantity, SpecModel, SubdomainName

__all__ = ["MetricTarget", "ResourceMetric", "ExternalMetricQuery", "AuthenticationRef", "ExternalAuthentication",
           "ExternalMetric", "PodMetricQuery", "PodMetric", "ScalingMetric", "ScalingPolicy", "ScalingRules",
           "ScalingBehavior", "AutoScaling", "WorkerSpec"]


class MetricTarget(SpecModel):
    """The value the autoscaler holds a metric at."""

    type: Literal["Utilization", "Value", "AverageValue"]
    """``Utilization`` (percent of the request; cpu/memory), ``Value`` or ``AverageValue`` (per pod)."""
    average_utilization: PositiveInt | None = None
    """Percent (``Utilization``)."""
    value: Quantity | None = None
    """Total value (``Value``)."""
    average_value: Quantity | None = None
    """Per-pod value (``AverageValue``)."""

    @model_validator(mode="after")
    def _matches_type(self) -> MetricTarget:
        field = {"Utilization": "average_utilization", "Value": "value", "AverageValue": "average_value"}[self.type]
        if getattr(self, field) is None:
            raise ValueError(f"expected {field} with type {self.type}, found none")
        return self


class ResourceMetric(SpecModel):
    """Scale on the pods' cpu or memory."""

    name: Literal["cpu", "memory"]
    """The resource."""
    target: MetricTarget
    """Its target."""


class ExternalMetricQuery(SpecModel):
    """A query KEDA runs against a metrics backend."""

    backend: Literal["prometheus", "graphite"] = "prometheus"
    """Backend kind."""
    server_address: str
    """Backend URL, e.g. ``http://prometheus-operated.monitoring.svc:9090``."""
    query: str
    """The query, e.g. vLLM's waiting requests."""
    namespace: str | None = None
    """Tenant namespace of the backend (Thanos, Cortex)."""


class AuthenticationRef(SpecModel):
    """A KEDA TriggerAuthentication."""

    name: SubdomainName
    """Its name."""


class ExternalAuthentication(SpecModel):
    """How KEDA authenticates to the backend (KServe 0.16+)."""

    authentication_ref: AuthenticationRef
    """The TriggerAuthentication."""
    auth_modes: str | None = None
    """KEDA ``authModes``, e.g. ``bearer``."""


class ExternalMetric(SpecModel):
    """A metric from outside the cluster's metrics API (KEDA)."""

    metric: ExternalMetricQuery
    """The query."""
    target: MetricTarget
    """Its target (``Value`` or ``AverageValue``)."""
    authentication_ref: ExternalAuthentication | None = None
    """Backend authentication (KServe 0.16+)."""


class PodMetricQuery(SpecModel):
    """An OpenTelemetry metric of the pods (KEDA's otel add-on)."""

    backend: Literal["opentelemetry"] = "opentelemetry"
    """Backend kind."""
    metric_names: list[str] = []
    """Metric names the collector scrapes."""
    query: str | None = None
    """Query over them."""
    operation_over_time: str | None = None
    """``last_one``, ``avg``, ``max``, ``min``, ``rate``, ``count``."""
    server_address: str | None = None
    """Collector address."""


class PodMetric(SpecModel):
    """A per-pod metric (KEDA with OpenTelemetry)."""

    metric: PodMetricQuery
    """The metric."""
    target: MetricTarget
    """Its target."""


class ScalingMetric(SpecModel):
    """One metric of ``autoScaling``: exactly the source its ``type`` names."""

    type: Literal["Resource", "External", "PodMetric"]
    """``Resource`` (cpu/memory, HPA or KEDA), ``External`` (a query, KEDA), ``PodMetric`` (OpenTelemetry, KEDA)."""
    resource: ResourceMetric | None = None
    """With ``Resource``."""
    external: ExternalMetric | None = None
    """With ``External``."""
    podmetric: PodMetric | None = Field(default=None, alias="podmetric")
    """With ``PodMetric`` (the CRD spells it ``podmetric``)."""

    @model_validator(mode="after")
    def _source_matches_type(self) -> ScalingMetric:
        want = {"Resource": "resource", "External": "external", "PodMetric": "podmetric"}[self.type]
        found = [f for f in ("resource", "external", "podmetric") if getattr(self, f) is not None]
        if found != [want]:
            raise ValueError(f"expected only {want} with type {self.type}, found {', '.join(found) or 'none'}")
        return self


class ScalingPolicy(SpecModel):
    """A limit on how fast to scale."""

    type: Literal["Pods", "Percent"]
    """Count pods or percent."""
    value: PositiveInt
    """How many (or percent)."""
    period_seconds: PositiveInt
    """Over how long."""


class ScalingRules(SpecModel):
    """Scale-up or scale-down rules."""

    stabilization_window_seconds: int | None = None
    """Look back this long before scaling."""
    select_policy: Literal["Max", "Min", "Disabled"] | None = None
    """Which policy wins."""
    policies: list[ScalingPolicy] | None = None
    """The limits."""


class ScalingBehavior(SpecModel):
    """The HPA's scaling behavior (KServe 0.16+)."""

    scale_up: ScalingRules | None = None
    """Scaling up."""
    scale_down: ScalingRules | None = None
    """Scaling down (e.g. a long window for GPU models that load slowly)."""


class AutoScaling(SpecModel):
    """KServe ``autoScaling`` (0.15+): metrics for the HPA or KEDA (annotation
    ``serving.kserve.io/autoscalerClass``, set from ``autoscaler_class``), Standard mode only."""

    metrics: list[ScalingMetric]
    """What to scale on."""
    behavior: ScalingBehavior | None = None
    """How fast (KServe 0.16+)."""


class WorkerSpec(SpecModel):
    """Multi-node serving (one head, ``pipeline_parallel_size - 1`` worker pods; a ``*-multinode`` runtime)."""

    pipeline_parallel_size: PositiveInt | None = None
    """Nodes (pipeline stages), KServe 0.15+."""
    tensor_parallel_size: PositiveInt | None = None
    """GPUs per node, KServe 0.15+."""
