"""Scraping and alert rules of every monitored model.

With prometheus-operator (``monitoring.prometheusOperator: true``, the default) each model gets
``models/<name>/podmonitor.yaml`` (queue-proxy and model-server metrics of its predictor pods)
and ``models/<name>/prometheusrule.yaml`` (its SLO alerts). Without it, the InferenceService gets
the scrape annotations KServe understands (``context.scrape_annotations``, merged *under* the user's
own annotations, so a user's ``prometheus.io/scrape: "true"`` always stays) and the same rule
group ships as a plain rule file in ``models/<name>/prometheus-rules.yaml`` (a ConfigMap to mount
into Prometheus' ``rule_files``).

Every PromQL expression comes from :class:`~servespec.promql.Queries`, the builder the
dashboards and the default gates use too.
"""

from __future__ import annotations

from typing import Any

from ..metrics import QUEUE_PROXY_PORT_NAME
from ..promql import Queries, num
from ..spec import Model
from ..yamlwriter import dump
from .context import EnvContext, Output, base_labels, model_server_endpoint

__all__ = ["emit_model", "rule_group", "pod_monitor", "traffic_expected", "ALERTS", "REPLICAS_FOR"]

ALERTS = (
    "ModelErrorRateHigh", "ModelLatencyP99High", "ModelCanaryErrorRateWorse",
    "ModelCanaryLatencyWorse", "ModelNoTraffic", "ModelReplicasBelowMinimum",
)
"""Every alert servespec can render (a model gets those its mode and SLOs call for)."""

REPLICAS_FOR = "10m"
"""How long fewer pods than ``min_replicas`` must be up before ``ModelReplicasBelowMinimum``."""

MONITORING_API = "monitoring.coreos.com/v1"


def traffic_expected(model: Model) -> bool:
    """Whether ``ModelNoTraffic`` applies: asked for, or by default unless it scales to zero."""
    expected = model.monitoring.traffic.expected
    return model.predictor.min_replicas > 0 if expected is None else expected


def rule_group(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The Prometheus rule group of one model (``spec.groups[0]`` of its PrometheusRule)."""
    mon = model.monitoring
    q = Queries(model.name, model.deployment_mode, ctx.namespace, ctx.env.overlay.monitoring.metrics)
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
        alert("ModelErrorRateHigh", f"{ratio} > {num(er.objective)}", er.for_duration,
              f"{model.name}: error rate above {num(er.objective * 100)}%",
              f"More than {num(er.objective * 100)}% of the requests to {where} failed ({q.m.error_class}) "
              f"over {er.window}, for {er.for_duration}.")
    lat = mon.latency
    if lat.enabled:
        alert("ModelLatencyP99High",
              f"{q.latency_quantile(0.99, lat.window)} > {num(q.ms_to_latency_unit(lat.p99_ms))}", lat.for_duration,
              f"{model.name}: p99 latency above {num(lat.p99_ms)} ms",
              f"The 99th percentile latency of {where} has been above {num(lat.p99_ms)} ms "
              f"over {lat.window}, for {lat.for_duration}.")
    can = mon.canary
    if can.enabled and q.knative:
        rollout = f"count({q.request_rate(can.window, (rev,))} > 0) > 1"
        per_rev = q.error_ratio(can.window, (rev,))
        alert("ModelCanaryErrorRateWorse",
              f"({per_rev} > on () group_left () (min({per_rev}) + {num(can.error_margin)})) and on () ({rollout})",
              can.for_duration,
              f"{model.name}: revision {{{{ $labels.{rev} }}}} fails more often than the best revision",
              f"While several revisions of {where} serve traffic, revision {{{{ $labels.{rev} }}}} has an "
              f"error ratio more than {num(can.error_margin * 100)} percentage points above the best revision's, "
              f"for {can.for_duration}: the canary is worse than stable.")
        p99 = q.latency_quantile(0.99, can.window, (rev,))
        alert("ModelCanaryLatencyWorse",
              f"({p99} > on () group_left () (min({p99}) * {num(can.latency_factor)})) and on () ({rollout})",
              can.for_duration,
              f"{model.name}: revision {{{{ $labels.{rev} }}}} is slower than the best revision",
              f"While several revisions of {where} serve traffic, the p99 latency of revision "
              f"{{{{ $labels.{rev} }}}} is more than {num(can.latency_factor)} times the best revision's, "
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


def _labels(ctx: EnvContext, model: Model) -> dict[str, str]:
    return {**base_labels(model.name), **ctx.env.overlay.monitoring.labels}


def pod_monitor(ctx: EnvContext, model: Model) -> dict[str, Any]:
    """The PodMonitor of a model's predictor pods."""
    mon = ctx.env.overlay.monitoring
    port, path = model_server_endpoint(model)
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
