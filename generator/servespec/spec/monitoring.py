"""Monitoring of a model: scraping, service-level objectives and dashboards; and of an
environment: how Prometheus finds the pods, where dashboards go, the inference-log sink."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, field_validator

from ..metrics import MetricNames
from .base import LabelMap, Name, PromDuration, SpecModel

__all__ = [
    "Monitoring", "EnvMonitoring", "ErrorRateObjective", "LatencyObjective", "CanaryObjective",
    "TrafficObjective", "MessageDumper", "MESSAGE_DUMPER_IMAGE", "message_dumper_url",
]

MESSAGE_DUMPER_IMAGE = (
    "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
    "@sha256:610234e4319b767b187398085971d881956da660a4e0fab65a763e0f81881d82"
)
"""Knative's CloudEvents event-display image (the seed's "message dumper"), pinned by the digest
knative/func's tests pull; no version tag of this image could be confirmed (only ``latest``)."""


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"expected a fraction between 0 and 1 (0.01 = 1%), found {value}")
    return value


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"expected a number > 0, found {value}")
    return value


Fraction = Annotated[float, AfterValidator(_fraction)]
PositiveFloat = Annotated[float, AfterValidator(_positive)]


class ErrorRateObjective(SpecModel):
    """Share of requests answered with a 5xx (queue-proxy; Knative mode)."""

    enabled: bool = True
    """Alert ``ModelErrorRateHigh`` when the error ratio stays above ``objective``."""
    objective: Fraction = 0.01
    """Highest acceptable error ratio (0.01 = 1%)."""
    window: PromDuration = "5m"
    """Rate window."""
    for_duration: PromDuration = "10m"
    """How long the ratio must stay above the objective before the alert fires."""


class LatencyObjective(SpecModel):
    """p99 request latency (queue-proxy in Knative mode, predict time in Standard mode)."""

    enabled: bool = True
    """Alert ``ModelLatencyP99High`` when the p99 latency stays above ``p99_ms``."""
    p99_ms: PositiveFloat = 1000.0
    """Highest acceptable p99 latency, in milliseconds."""
    window: PromDuration = "5m"
    """Rate window."""
    for_duration: PromDuration = "10m"
    """How long p99 must stay above the objective before the alert fires."""


class CanaryObjective(SpecModel):
    """While two or more revisions serve traffic (a rollout), no revision may be much worse
    than the best one (compared per ``revision_name``; Knative mode)."""

    enabled: bool = True
    """Alert ``ModelCanaryErrorRateWorse`` / ``ModelCanaryLatencyWorse``."""
    error_margin: Fraction = 0.01
    """A revision's error ratio may exceed the best revision's by at most this much."""
    latency_factor: PositiveFloat = 1.5
    """A revision's p99 may be at most this many times the best revision's."""
    window: PromDuration = "5m"
    """Rate window."""
    for_duration: PromDuration = "5m"
    """How long a revision must stay worse before the alert fires."""

    @field_validator("latency_factor")
    @classmethod
    def _factor(cls, value: float) -> float:
        if value < 1:
            raise ValueError(f"expected a factor >= 1, found {value}")
        return value


class TrafficObjective(SpecModel):
    """No traffic at all where traffic is expected."""

    expected: bool | None = None
    """Alert ``ModelNoTraffic`` when no request arrives; unset means expected unless the model
    scales to zero (``min_replicas: 0``)."""
    window: PromDuration = "15m"
    """Rate window."""
    for_duration: PromDuration = "15m"
    """How long traffic must be zero before the alert fires."""


class Monitoring(SpecModel):
    """Per-model monitoring settings."""

    enabled: bool = True
    """Scrape, alert on and chart this model."""
    error_rate: ErrorRateObjective = ErrorRateObjective()
    """Error-rate objective."""
    latency: LatencyObjective = LatencyObjective()
    """Latency objective."""
    canary: CanaryObjective = CanaryObjective()
    """Canary-versus-stable comparison during rollouts."""
    traffic: TrafficObjective = TrafficObjective()
    """No-traffic alert."""
    replicas_alert: bool = True
    """Alert ``ModelReplicasBelowMinimum`` when fewer pods than ``min_replicas`` are up."""
    severity: Literal["critical", "warning", "info"] = "warning"
    """``severity`` label of every alert of this model."""
    dashboard: bool = True
    """Render this model's Grafana dashboard."""


class MessageDumper(SpecModel):
    """An in-cluster CloudEvents sink that prints every logged request and response."""

    enabled: bool = False
    """Render a Deployment and Service ``message-dumper``; the environment's default
    ``loggerUrl`` then points at it."""
    name: Name = "message-dumper"
    """Name of the Deployment and Service."""
    image: str = MESSAGE_DUMPER_IMAGE
    """Image; pin a tag or a digest."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if "@" not in last and (":" not in last or last.endswith(":latest")):
            raise ValueError(f"expected an image pinned by a tag other than latest or by a digest, found {value!r}")
        return value


class EnvMonitoring(SpecModel):
    """Per-environment monitoring settings (overlay key ``monitoring``)."""

    enabled: bool = True
    """Render monitoring objects in this environment."""
    prometheus_operator: bool = True
    """The cluster runs prometheus-operator: scrape with a PodMonitor and alert with a
    PrometheusRule per model. Without it, pods get the scrape annotations KServe understands and
    the rules ship as plain rule files in ConfigMaps."""
    aggregate_metrics: bool = True
    """Without prometheus-operator: ask KServe to serve queue-proxy and model-server metrics on
    one port (``serving.kserve.io/enable-metric-aggregation``; needs KServe's qpext image)."""
    labels: LabelMap = {}
    """Labels on PodMonitors and PrometheusRules (e.g. ``release: kube-prometheus-stack``)."""
    scrape_interval: PromDuration | None = None
    """PodMonitor scrape interval; unset uses Prometheus' own."""
    dashboards: bool = True
    """Render Grafana dashboards (per model and one overview)."""
    dashboard_labels: LabelMap = {"grafana_dashboard": "1"}
    """Labels the Grafana dashboard sidecar selects ConfigMaps by."""
    dashboard_namespace: Name | None = None
    """Namespace of the dashboard ConfigMaps; unset is the environment's."""
    datasource: str = "prometheus"
    """Default Prometheus datasource of the dashboards' ``datasource`` variable."""
    metrics: MetricNames = MetricNames()
    """Metric and label names, when this cluster's differ from today's KServe/Knative ones."""
    message_dumper: MessageDumper = MessageDumper()
    """Inference-log sink of this environment."""

    def default_logger_url(self, namespace: str) -> str | None:
        """The message dumper's URL when this environment renders one."""
        if not self.message_dumper.enabled:
            return None
        return message_dumper_url(self.message_dumper.name, namespace)


def message_dumper_url(name: str, namespace: str) -> str:
    """In-cluster URL of the message dumper Service."""
    return f"http://{name}.{namespace}.svc.cluster.local"
