"""Scraping and alert rules of every monitored model.

With prometheus-operator (``monitoring.prometheusOperator: true``, the default) each model gets
``models/<name>/podmonitor.yaml`` (queue-proxy and model-server metrics of its predictor pods)
and ``models/<name>/prometheusrule.yaml`` (its SLO alerts). Without it, the InferenceService gets
the scrape annotations KServe understands (:func:`scrape_annotations`, merged *under* the user's
own annotations, so a user's ``prometheus.io/scrape: "true"`` always stays) and the same rule
group ships as a plain rule file in ``models/<name>/prometheus-rules.yaml`` (a ConfigMap to mount
into Prometheus' ``rule_files``).

Every PromQL expression is built by :class:`Queries` from the environment's
:class:`~servespec.metrics.MetricNames`; the dashboards use the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..metrics import (
    MODEL_SERVER_PATH,
    MODEL_SERVER_PORT,
    QUEUE_PROXY_PORT_NAME,
    MetricNames,
)
from ..errors import Problem, RenderError
from ..overlay import ModelOverride
from ..spec import Model
from ..yamlio import dump
from .context import EnvContext, Output, base_labels

__all__ = [
    "emit_model", "Queries", "GroupQueries", "monitored_models", "scrape_annotations", "rule_group", "ALERTS",
    "REPLICAS_FOR", "model_server_endpoint",
]

ALERTS = (
    "ModelErrorRateHigh", "ModelLatencyP99High", "ModelCanaryErrorRateWorse",
    "ModelCanaryLatencyWorse", "ModelNoTraffic", "ModelReplicasBelowMinimum",
)
"""Every alert servespec can render (a model gets those its mode and SLOs call for)."""

REPLICAS_FOR = "10m"
"""How long fewer pods than ``min_replicas`` must be up before ``ModelReplicasBelowMinimum``."""

MONITORING_API = "monitoring.coreos.com/v1"


def monitored_models(ctx: EnvContext, models: Iterable[Model] | None = None) -> list[Model]:
    """Models of the environment (or of ``models``) that get monitoring objects."""
    if not ctx.env.overlay.monitoring.enabled:
        return []
    return [m for m in (ctx.models.values() if models is None else models) if m.monitoring.enabled]


def _num(value: float) -> str:
    return f"{value:g}"


def _agg(op: str, by: Iterable[str], inner: str) -> str:
    labels = ", ".join(by)
    return f"{op} by ({labels}) ({inner})" if labels else f"{op}({inner})"


@dataclass(frozen=True)
class Queries:
    """PromQL for one model in one namespace, from the environment's metric names.

    Knative mode reads Knative's queue-proxy (requests, errors, end-to-end latency per
    revision); Standard mode has no queue-proxy, so requests and latency come from the model
    server's predict histogram and there is no error ratio.
    """

    model: Model
    namespace: str
    m: MetricNames

    @property
    def knative(self) -> bool:
        return self.model.deployment_mode == "Knative"

    @property
    def service(self) -> str:
        """Knative Service (and Deployment name prefix) of the predictor."""
        return f"{self.model.name}-predictor"

    def _qp(self, *extra: str) -> str:
        m = self.m
        return "{" + ",".join([f'{m.target_namespace_label}="{self.namespace}"', f'{m.service_label}="{self.service}"', *extra]) + "}"

    def _ms(self) -> str:
        m = self.m
        return "{" + f'{m.target_namespace_label}="{self.namespace}",{m.model_name_label}="{self.model.name}"' + "}"

    def _pods(self) -> str:
        m = self.m
        return "{" + f'{m.target_namespace_label}="{self.namespace}",{m.pod_label}=~"{self.service}-.*"' + "}"

    def request_rate(self, window: str, by: tuple[str, ...] = ()) -> str:
        """Requests per second."""
        if self.knative:
            return _agg("sum", by, f"rate({self.m.request_count}{self._qp()}[{window}])")
        return _agg("sum", by, f"rate({self.m.predict_seconds}_count{self._ms()}[{window}])")

    def error_ratio(self, window: str, by: tuple[str, ...] = ()) -> str | None:
        """Share of requests answered with an error (Knative mode only)."""
        if not self.knative:
            return None
        m = self.m
        error_matcher = f'{m.response_code_class_label}="{m.error_class}"'
        errors = _agg("sum", by, f"rate({m.request_count}{self._qp(error_matcher)}[{window}])")
        return f"{errors} / {self.request_rate(window, by)}"

    def latency_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A request-latency quantile, in :meth:`latency_unit`."""
        if self.knative:
            inner = f"rate({self.m.request_latencies}_bucket{self._qp()}[{window}])"
        else:
            inner = f"rate({self.m.predict_seconds}_bucket{self._ms()}[{window}])"
        return f"histogram_quantile({_num(q)}, {_agg('sum', ('le', *by), inner)})"

    @property
    def latency_unit(self) -> str:
        """``ms`` or ``s``: the unit of :meth:`latency_quantile`."""
        return self.m.request_latencies_unit if self.knative else "s"

    def ms_to_latency_unit(self, ms: float) -> float:
        """A threshold in milliseconds, in the unit of :meth:`latency_quantile`."""
        return ms if self.latency_unit == "ms" else ms / 1000.0

    def predict_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A quantile of the model server's predict time, in seconds."""
        inner = f"rate({self.m.predict_seconds}_bucket{self._ms()}[{window}])"
        return f"histogram_quantile({_num(q)}, {_agg('sum', ('le', *by), inner)})"

    def replicas(self, by: tuple[str, ...] = ()) -> str:
        """Pods of the predictor whose metrics are being scraped (one ``up`` series per target)."""
        per_pod = _agg("count", (*by, self.m.pod_label), f"{self.m.up}{self._pods()} == 1")
        return _agg("count", by, per_pod)


@dataclass(frozen=True)
class GroupQueries:
    """PromQL over several models of one namespace and one deployment mode, one series per
    model, labelled ``model`` (the overview dashboard: two targets per panel at most, whatever
    the number of models)."""

    models: tuple[Model, ...]
    namespace: str
    m: MetricNames

    @property
    def knative(self) -> bool:
        return self.models[0].deployment_mode == "Knative"

    def _names(self, suffix: str = "") -> str:
        return "|".join(f"{model.name}{suffix}" for model in self.models)

    def _by_model(self, expr: str) -> str:
        """``expr`` with a ``model`` label (from the Knative service name or the model label)."""
        if self.knative:
            return f'label_replace({expr}, "model", "$1", "{self.m.service_label}", "(.+)-predictor")'
        return f'label_replace({expr}, "model", "$1", "{self.m.model_name_label}", "(.+)")'

    @property
    def _key(self) -> str:
        return self.m.service_label if self.knative else self.m.model_name_label

    def _sel(self, *extra: str) -> str:
        m = self.m
        if self.knative:
            base = [f'{m.target_namespace_label}="{self.namespace}"', f'{m.service_label}=~"{self._names("-predictor")}"']
        else:
            base = [f'{m.target_namespace_label}="{self.namespace}"', f'{m.model_name_label}=~"{self._names()}"']
        return "{" + ",".join([*base, *extra]) + "}"

    def _rate(self, window: str, *extra: str) -> str:
        if self.knative:
            return _agg("sum", (self._key,), f"rate({self.m.request_count}{self._sel(*extra)}[{window}])")
        return _agg("sum", (self._key,), f"rate({self.m.predict_seconds}_count{self._sel(*extra)}[{window}])")

    def request_rate(self, window: str) -> str:
        """Requests per second of each model."""
        return self._by_model(self._rate(window))

    def error_ratio(self, window: str) -> str | None:
        """Error ratio of each model (Knative mode only)."""
        if not self.knative:
            return None
        return self._by_model(f"{self._rate(window, self._error())} / {self._rate(window)}")

    def _error(self) -> str:
        return f'{self.m.response_code_class_label}="{self.m.error_class}"'

    def latency_p99_seconds(self, window: str) -> str:
        """p99 latency of each model, in seconds."""
        if self.knative:
            inner = f"rate({self.m.request_latencies}_bucket{self._sel()}[{window}])"
            scale = "" if self.m.request_latencies_unit == "s" else " / 1000"
        else:
            inner = f"rate({self.m.predict_seconds}_bucket{self._sel()}[{window}])"
            scale = ""
        return self._by_model(f"histogram_quantile(0.99, {_agg('sum', ('le', self._key), inner)}){scale}")

    def replicas(self) -> str:
        """Scraped pods of each model."""
        m = self.m
        up = (f'label_replace({m.up}{{{m.target_namespace_label}="{self.namespace}",{m.pod_label}=~"({self._names()})-predictor-.*"}} == 1, '
              f'"model", "$1", "{m.pod_label}", "(.+)-predictor-.*")')
        return _agg("count", ("model",), _agg("count", ("model", m.pod_label), up))


def traffic_expected(model: Model) -> bool:
    """Whether ``ModelNoTraffic`` applies: asked for, or by default unless it scales to zero."""
    expected = model.monitoring.traffic.expected
    return model.predictor.min_replicas > 0 if expected is None else expected


def rule_group(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The Prometheus rule group of one model (``spec.groups[0]`` of its PrometheusRule)."""
    mon = model.monitoring
    q = Queries(model, ctx.namespace, ctx.env.overlay.monitoring.metrics)
    rev = q.m.revision_label
    labels = {"model": model.name, "namespace": ctx.namespace, "severity": mon.severity}
    rules: list[dict[str, Any]] = []

    def alert(name: str, expr: str, for_: str, summary: str, description: str) -> None:
        rules.append({
            "alert": name, "expr": expr, "for": for_, "labels": dict(labels),
            "annotations": {"summary": summary, "description": description},
        })

    where = f"{model.name} in {ctx.namespace}"
    er = mon.error_rate
    ratio = q.error_ratio(er.window)
    if er.enabled and ratio:
        alert("ModelErrorRateHigh", f"{ratio} > {_num(er.objective)}", er.for_duration,
              f"{model.name}: error rate above {_num(er.objective * 100)}%",
              f"More than {_num(er.objective * 100)}% of the requests to {where} failed ({q.m.error_class}) "
              f"over {er.window}, for {er.for_duration}.")
    lat = mon.latency
    if lat.enabled:
        alert("ModelLatencyP99High",
              f"{q.latency_quantile(0.99, lat.window)} > {_num(q.ms_to_latency_unit(lat.p99_ms))}", lat.for_duration,
              f"{model.name}: p99 latency above {_num(lat.p99_ms)} ms",
              f"The 99th percentile latency of {where} has been above {_num(lat.p99_ms)} ms "
              f"over {lat.window}, for {lat.for_duration}.")
    can = mon.canary
    if can.enabled and q.knative:
        rollout = f"count({q.request_rate(can.window, (rev,))} > 0) > 1"
        per_rev = q.error_ratio(can.window, (rev,))
        alert("ModelCanaryErrorRateWorse",
              f"({per_rev} > on () group_left () (min({per_rev}) + {_num(can.error_margin)})) and on () ({rollout})",
              can.for_duration,
              f"{model.name}: revision {{{{ $labels.{rev} }}}} fails more often than the best revision",
              f"While several revisions of {where} serve traffic, revision {{{{ $labels.{rev} }}}} has an "
              f"error ratio more than {_num(can.error_margin * 100)} percentage points above the best revision's, "
              f"for {can.for_duration}: the canary is worse than stable.")
        p99 = q.latency_quantile(0.99, can.window, (rev,))
        alert("ModelCanaryLatencyWorse",
              f"({p99} > on () group_left () (min({p99}) * {_num(can.latency_factor)})) and on () ({rollout})",
              can.for_duration,
              f"{model.name}: revision {{{{ $labels.{rev} }}}} is slower than the best revision",
              f"While several revisions of {where} serve traffic, the p99 latency of revision "
              f"{{{{ $labels.{rev} }}}} is more than {_num(can.latency_factor)} times the best revision's, "
              f"for {can.for_duration}: the canary is worse than stable.")
    tr = mon.traffic
    if traffic_expected(model):
        alert("ModelNoTraffic", f"({q.request_rate(tr.window)} or vector(0)) == 0", tr.for_duration,
              f"{model.name}: no traffic",
              f"{where} received no request over {tr.window}, for {tr.for_duration}, "
              f"although traffic is expected.")
    if mon.replicas_alert and model.predictor.min_replicas > 0:
        alert("ModelReplicasBelowMinimum",
              f"({q.replicas()} or vector(0)) < {model.predictor.min_replicas}", REPLICAS_FOR,
              f"{model.name}: fewer than {model.predictor.min_replicas} replicas up",
              f"Fewer than min_replicas ({model.predictor.min_replicas}) pods of {where} have been "
              f"scraped successfully for {REPLICAS_FOR}.")
    return {"name": f"servespec.{ctx.env.name}.{model.name}", "rules": rules}


_NO_OVERRIDE = ModelOverride()


def model_server_endpoint(ctx: EnvContext, model: Model) -> tuple[int, str]:
    """Port and path of the model server's metrics (``prometheus.kserve.io/*`` annotations win)."""
    port = model.annotations.get("prometheus.kserve.io/port", str(MODEL_SERVER_PORT))
    path = model.annotations.get("prometheus.kserve.io/path", MODEL_SERVER_PATH)
    if not port.isdigit() or not 0 < int(port) < 65536:
        key = "prometheus.kserve.io/port"
        overlay = ctx.env.overlay
        if key in overlay.models.get(model.name, _NO_OVERRIDE).annotations:
            file, line = ctx.env.where("models", model.name, "annotations", key)
        elif key in overlay.defaults.annotations:
            file, line = ctx.env.where("defaults", "annotations", key)
        else:
            file, line = ctx.project.specs.origin[("model", model.name)], None
        raise RenderError(Problem(file, line, f"{model.name}.annotations.{key}",
                                  f"expected a port number (env {ctx.env.name}), found {port!r}"))
    return int(port), path


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
    port, path = model_server_endpoint(ctx, model)
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def _labels(ctx: EnvContext, model: Model) -> dict[str, str]:
    return {**base_labels(model.name), **ctx.env.overlay.monitoring.labels}


def pod_monitor(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The PodMonitor of a model's predictor pods."""
    mon = ctx.env.overlay.monitoring
    port, path = model_server_endpoint(ctx, model)
    relabel = [{
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_label_serving_knative_dev_revision"],
        "targetLabel": mon.metrics.revision_label,
    }]
    endpoints: list[dict[str, Any]] = []
    if model.deployment_mode == "Knative":
        # honorLabels: queue-proxy's own revision_name (the same value) is kept as is rather than
        # renamed exported_revision_name; it exports no namespace/pod/job/instance labels
        endpoints.append({"port": QUEUE_PROXY_PORT_NAME, "path": "/metrics", "honorLabels": True, "relabelings": relabel})
    model_ep: dict[str, Any] = {"targetPort": port, "path": path}
    if model.deployment_mode == "Knative":
        model_ep["relabelings"] = relabel
    endpoints.append(model_ep)
    if mon.scrape_interval:
        for ep in endpoints:
            ep["interval"] = mon.scrape_interval
    return {
        "apiVersion": MONITORING_API,
        "kind": "PodMonitor",
        "metadata": {"name": model.name, "namespace": ctx.namespace, "labels": _labels(ctx, model)},
        "spec": {
            "selector": {"matchLabels": {"component": "predictor", "serving.kserve.io/inferenceservice": model.name}},
            "podTargetLabels": [mon.metrics.version_pod_label],
            "podMetricsEndpoints": endpoints,
        },
    }


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """PodMonitor + PrometheusRule of a monitored model, or a rule-file ConfigMap without the operator."""
    out: list[Output] = []
    operator = ctx.env.overlay.monitoring.prometheus_operator
    if ctx.env.overlay.monitoring.enabled and model.monitoring.enabled:
        group = rule_group(ctx, model)
        base = f"models/{model.name}"
        if operator:
            out.append(Output(f"{base}/podmonitor.yaml", pod_monitor(ctx, model), model.name))
            out.append(Output(f"{base}/prometheusrule.yaml", {
                "apiVersion": MONITORING_API,
                "kind": "PrometheusRule",
                "metadata": {"name": model.name, "namespace": ctx.namespace, "labels": _labels(ctx, model)},
                "spec": {"groups": [group]},
            }, model.name))
        else:
            out.append(Output(f"{base}/prometheus-rules.yaml", {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{model.name}-prometheus-rules", "namespace": ctx.namespace,
                             "labels": _labels(ctx, model)},
                "data": {f"{model.name}.rules.yaml": dump({"groups": [group]})},
            }, model.name))
    return out
