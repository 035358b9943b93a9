"""InferenceGraphs (``graphs/<name>/inferencegraph.yaml`` in the env's ``common/`` unit) and their own
monitoring: in Knative mode the router runs as a Knative Service named like the graph, whose pods carry
``serving.kserve.io/inferencegraph: <name>`` (kserve/kserve@v0.20.0:pkg/controller/v1alpha1/inferencegraph/
knative_reconciler.go:190-206), so its queue-proxy's request, error and latency metrics are the graph's.
With prometheus-operator: a PodMonitor and a PrometheusRule; without: the scrape annotations on the graph
and the rule group in a ConfigMap. Every PromQL expression comes from ``promql.Queries``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..metrics import QUEUE_PROXY_PORT, QUEUE_PROXY_PORT_NAME
from ..promql import Queries, num
from ..spec import InferenceGraph
from ..spec.graph import GraphStep
from ..spec.container import to_k8s
from ..yamlwriter import dump
from .context import EnvContext, Output, base_labels
from .isvc.common import MODE_ANNOTATION

__all__ = ["emit", "graph_object", "graph_rule_group", "GraphQueries", "API_VERSION", "GRAPH_LABEL", "ALERTS"]

API_VERSION = "serving.kserve.io/v1alpha1"
GRAPH_LABEL = "serving.kserve.io/inferencegraph"
ALERTS = ("GraphErrorRateHigh", "GraphLatencyP99High")
MONITORING_API = "monitoring.coreos.com/v1"


@dataclass(frozen=True)
class GraphQueries(Queries):
    """``Queries`` of a graph's router: its Knative Service has the graph's own name."""

    @property
    def service(self) -> str:
        return self.model


def _step(step: GraphStep) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if step.name:
        body["name"] = step.name
    if step.model is not None:
        body["serviceName"] = step.model.name
    if step.node is not None:
        body["nodeName"] = step.node
    if step.service_url is not None:
        body["serviceUrl"] = step.service_url
    for key, value in (("data", step.data), ("condition", step.condition), ("weight", step.weight),
                       ("dependency", step.dependency)):
        if value is not None:
            body[key] = value
    return body


def _scrape(ctx: EnvContext, g: InferenceGraph) -> dict[str, str]:
    """Pod-scrape annotations where the env scrapes by annotation: the router's queue-proxy port. KServe's
    pod webhook (which turns ``enable-prometheus-scraping`` into these for InferenceServices) only acts on
    pods labelled ``serving.kserve.io/inferenceservice`` (kserve/kserve@v0.20.0:config/webhook/manifests.yaml:41-44),
    so the annotations are spelled out; the graph's annotations reach its revision template
    (knative_reconciler.go:203-206)."""
    mon = ctx.env.overlay.monitoring
    if mon.prometheus_operator or not mon.enabled or not g.monitoring.enabled or g.deployment_mode != "Knative":
        return {}
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(QUEUE_PROXY_PORT), "prometheus.io/path": "/metrics"}


def graph_object(ctx: EnvContext, g: InferenceGraph) -> dict[str, Any]:
    """The InferenceGraph of one graph spec (deployment mode explicit as for InferenceServices)."""
    k = ctx.kserve
    mode = k.standard_mode if g.deployment_mode == "Standard" else (k.knative_mode if k.explicit_knative_mode else None)
    annotations = {**_scrape(ctx, g), **g.annotations, **({MODE_ANNOTATION: mode} if mode else {})}
    meta: dict[str, Any] = {"name": g.name, "namespace": ctx.namespace, "labels": {**base_labels(g.name), **g.labels}}
    if annotations:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"nodes": {name: {"routerType": node.router_type, "steps": [_step(s) for s in node.steps]}
                                      for name, node in sorted(g.nodes.items())}}
    for key, value in (("minReplicas", g.min_replicas), ("maxReplicas", g.max_replicas), ("scaleTarget", g.scale_target),
                       ("scaleMetric", g.scale_metric), ("timeout", g.timeout)):
        if value is not None:
            spec[key] = value
    if g.resources is not None:
        requests = {**g.resources.requests, **g.resources.fixed()}
        spec["resources"] = {k2: dict(sorted(v.items())) for k2, v in (("requests", requests), ("limits", g.resources.limits)) if v}
    if g.affinity is not None:
        spec["affinity"] = to_k8s(g.affinity)
    return {"apiVersion": API_VERSION, "kind": "InferenceGraph", "metadata": meta, "spec": spec}


def graph_rule_group(ctx: EnvContext, g: InferenceGraph) -> dict[str, Any]:
    """The rule group of a graph: its router's error ratio and p99 latency."""
    q = GraphQueries(g.name, "Knative", ctx.namespace, ctx.env.overlay.monitoring.metrics)
    mon = g.monitoring
    labels = {"graph": g.name, "namespace": ctx.namespace, "severity": mon.severity}
    where = f"InferenceGraph {g.name} in {ctx.namespace}"
    rules: list[dict[str, Any]] = []
    er, lat = mon.error_rate, mon.latency
    ratio = q.error_ratio(er.window)
    if er.enabled and ratio:
        rules.append({"alert": "GraphErrorRateHigh", "expr": f"{ratio} > {num(er.objective)}", "for": er.for_duration,
                      "labels": dict(labels), "annotations": {
                          "summary": f"{g.name}: error rate above {num(er.objective * 100)}%",
                          "description": f"More than {num(er.objective * 100)}% of the requests to {where} failed "
                                         f"({q.m.error_class}) over {er.window}, for {er.for_duration}."}})
    if lat.enabled:
        rules.append({"alert": "GraphLatencyP99High",
                      "expr": f"{q.latency_quantile(0.99, lat.window)} > {num(q.ms_to_latency_unit(lat.p99_ms))}",
                      "for": lat.for_duration, "labels": dict(labels), "annotations": {
                          "summary": f"{g.name}: p99 latency above {num(lat.p99_ms)} ms",
                          "description": f"The 99th percentile latency of {where} has been above {num(lat.p99_ms)} ms "
                                         f"over {lat.window}, for {lat.for_duration}."}})
    return {"name": f"servespec.{ctx.env.name}.graph.{g.name}", "rules": rules}


def _monitoring(ctx: EnvContext, g: InferenceGraph) -> list[Output]:
    mon = ctx.env.overlay.monitoring
    if not (mon.enabled and g.monitoring.enabled and g.deployment_mode == "Knative"):
        return []
    base, labels = f"graphs/{g.name}", {**base_labels(g.name), **mon.labels}
    meta = {"name": f"graph-{g.name}", "namespace": ctx.namespace, "labels": labels}
    group = graph_rule_group(ctx, g)
    if not mon.prometheus_operator:
        return [Output(f"{base}/prometheus-rules.yaml", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": f"graph-{g.name}-prometheus-rules"},
            "data": {f"graph-{g.name}.rules.yaml": dump({"groups": [group]})}})]
    endpoint: dict[str, Any] = {"port": QUEUE_PROXY_PORT_NAME, "path": "/metrics", "honorLabels": True}
    if mon.scrape_interval:
        endpoint["interval"] = mon.scrape_interval
    return [
        Output(f"{base}/podmonitor.yaml", {"apiVersion": MONITORING_API, "kind": "PodMonitor", "metadata": meta, "spec": {
            "selector": {"matchLabels": {GRAPH_LABEL: g.name}}, "podMetricsEndpoints": [endpoint]}}),
        Output(f"{base}/prometheusrule.yaml", {"apiVersion": MONITORING_API, "kind": "PrometheusRule", "metadata": meta,
                                               "spec": {"groups": [group]}}),
    ]


def emit(ctx: EnvContext) -> list[Output]:
    """Every graph of the environment and its monitoring."""
    out: list[Output] = []
    for g in ctx.graphs.values():
        out.append(Output(f"graphs/{g.name}/inferencegraph.yaml", graph_object(ctx, g)))
        out.extend(_monitoring(ctx, g))
    return out
