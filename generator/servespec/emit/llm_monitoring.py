"""Scraping and alert rules of every monitored LLM, on vLLM's own metrics.

With prometheus-operator each LLM gets ``models/<llm>/podmonitor.yaml`` (vLLM's ``/metrics`` on
port 8000 of its stable and canary pods, the pods' ``app.kubernetes.io/name`` copied onto every
series so canary and stable are told apart) and ``models/<llm>/prometheusrule.yaml``; without
it, the same rule group ships as a rule-file ConfigMap (``prometheus-rules.yaml``), like models.

Alerts (:data:`LLM_ALERTS`): error share (requests vLLM finished with ``error``), p99 time to first
token, p99 time per output token, queue depth (``vllm:num_requests_waiting`` of the busiest pod),
KV-cache use of the fullest pod, and, where the plan has canary steps, a canary whose p99 TTFT is
worse than stable's by the spec's factor. Every expression comes from
:class:`~servespec.promql.LLMQueries`, the builder the LLM dashboard and gates use too.
"""

from __future__ import annotations

from typing import Any

from ..metrics import VLLM_PORT
from ..promql import LLMQueries, num
from ..resolve_llm import canary_name, llm_plan
from ..spec import LLM
from ..yamlwriter import dump
from .context import EnvContext, Output, base_labels

__all__ = ["emit_llm", "llm_queries", "llm_rule_group", "llm_pod_monitor", "LLM_ALERTS", "monitored"]

LLM_ALERTS = (
    "LLMErrorRateHigh", "LLMTimeToFirstTokenHigh", "LLMTimePerOutputTokenHigh", "LLMQueueDepthHigh",
    "LLMKVCacheNearlyFull", "LLMCanaryTimeToFirstTokenWorse",
)
"""Every alert servespec can render for an LLM."""

MONITORING_API = "monitoring.coreos.com/v1"
WORKLOAD_LABELS = {"app.kubernetes.io/part-of": "llminferenceservice", "kserve.io/component": "workload"}
"""Labels KServe puts on every workload pod of an LLMInferenceService, with ``app.kubernetes.io/name``
(the service's name): ``kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/workload.go:166-171``
(the same at ``@v0.16.0:pkg/controller/v1alpha1/llmisvc/workload.go:131-136``)."""


def monitored(ctx: EnvContext, llm: LLM) -> bool:
    """Whether the LLM gets monitoring objects."""
    return ctx.env.overlay.monitoring.enabled and llm.monitoring.enabled


def llm_queries(ctx: EnvContext, llm: LLM) -> LLMQueries:
    """The PromQL builder of an LLM: its stable and canary services' series."""
    return LLMQueries(llm.name, ctx.namespace, (llm.name, canary_name(llm.name)), llm.monitoring.metrics)


def llm_rule_group(ctx: EnvContext, llm: LLM) -> dict[str, Any]:
    """The Prometheus rule group of one LLM."""
    mon = llm.monitoring
    q = llm_queries(ctx, llm)
    labels = {"model": llm.name, "namespace": ctx.namespace, "severity": mon.severity}
    where = f"{llm.name} in {ctx.namespace}"
    over = f"over {mon.window}, for {mon.for_duration}"
    rules: list[dict[str, Any]] = []

    def alert(name: str, expr: str, summary: str, description: str) -> None:
        rules.append({"alert": name, "expr": expr, "for": mon.for_duration, "labels": dict(labels),
                      "annotations": {"summary": summary, "description": description}})

    alert("LLMErrorRateHigh", f"{q.error_ratio(mon.window)} > {num(mon.error_ratio)}",
          f"{llm.name}: more than {num(mon.error_ratio * 100)}% of requests end in an error",
          f"More than {num(mon.error_ratio * 100)}% of the requests to {where} finished with an error {over}.")
    alert("LLMTimeToFirstTokenHigh", f"{q.ttft_quantile(0.99, mon.window)} > {num(mon.ttft_p99_seconds)}",
          f"{llm.name}: p99 time to first token above {num(mon.ttft_p99_seconds)} s",
          f"The 99th percentile time to first token of {where} has been above {num(mon.ttft_p99_seconds)} s {over}.")
    alert("LLMTimePerOutputTokenHigh", f"{q.tpot_quantile(0.99, mon.window)} > {num(mon.tpot_p99_seconds)}",
          f"{llm.name}: p99 time per output token above {num(mon.tpot_p99_seconds)} s",
          f"The 99th percentile time between output tokens of {where} has been above {num(mon.tpot_p99_seconds)} s {over}.")
    alert("LLMQueueDepthHigh", f"{q.queue_depth()} > {mon.queue_depth}",
          f"{llm.name}: more than {mon.queue_depth} requests waiting in a pod",
          f"A pod of {where} has had more than {mon.queue_depth} requests waiting for the engine for {mon.for_duration}: add replicas.")
    alert("LLMKVCacheNearlyFull", f"{q.kv_cache_usage()} > {num(mon.kv_cache_usage)}",
          f"{llm.name}: KV cache above {num(mon.kv_cache_usage * 100)}%",
          f"A pod of {where} has used more than {num(mon.kv_cache_usage * 100)}% of its KV cache for {mon.for_duration}: "
          "requests are being preempted or queued.")
    if len(llm_plan(llm, ctx.env, ctx.kserve).traffic) > 1:
        alert("LLMCanaryTimeToFirstTokenWorse", f"{q.canary_ttft_ratio(0.99, mon.window)} > {num(mon.canary_ttft_factor)}",
              f"{llm.name}: the canary's time to first token is worse than stable's",
              f"While {canary_name(llm.name)} serves part of the traffic to {where}, its p99 time to first token has been "
              f"more than {num(mon.canary_ttft_factor)} times stable's {over}.")
    return {"name": f"servespec.{ctx.env.name}.{llm.name}", "rules": rules}


def _labels(ctx: EnvContext, llm: LLM) -> dict[str, str]:
    return {**base_labels(llm.name), **ctx.env.overlay.monitoring.labels}


def llm_pod_monitor(ctx: EnvContext, llm: LLM) -> dict[str, Any]:
    """The PodMonitor of an LLM's stable and canary workload pods (vLLM's ``/metrics``)."""
    mon = ctx.env.overlay.monitoring
    m = llm.monitoring.metrics
    endpoint: dict[str, Any] = {"targetPort": VLLM_PORT, "path": "/metrics", "scheme": llm.monitoring.scheme}
    if llm.monitoring.scheme == "https":  # KServe's self-signed serving certificate
        endpoint["tlsConfig"] = {"insecureSkipVerify": True}
    if mon.scrape_interval:
        endpoint["interval"] = mon.scrape_interval
    return {
        "apiVersion": MONITORING_API,
        "kind": "PodMonitor",
        "metadata": {"name": llm.name, "namespace": ctx.namespace, "labels": _labels(ctx, llm)},
        "spec": {
            "selector": {
                "matchLabels": dict(WORKLOAD_LABELS),
                "matchExpressions": [{"key": m.member_pod_label, "operator": "In", "values": [llm.name, canary_name(llm.name)]}],
            },
            "podTargetLabels": [m.member_pod_label],
            "podMetricsEndpoints": [endpoint],
        },
    }


def emit_llm(ctx: EnvContext, llm: LLM) -> list[Output]:
    """PodMonitor + PrometheusRule of a monitored LLM, or a rule-file ConfigMap without the operator."""
    if not monitored(ctx, llm):
        return []
    group = llm_rule_group(ctx, llm)
    base = f"models/{llm.name}"
    if ctx.env.overlay.monitoring.prometheus_operator:
        return [
            Output(f"{base}/podmonitor.yaml", llm_pod_monitor(ctx, llm), llm.name),
            Output(f"{base}/prometheusrule.yaml", {
                "apiVersion": MONITORING_API, "kind": "PrometheusRule",
                "metadata": {"name": llm.name, "namespace": ctx.namespace, "labels": _labels(ctx, llm)},
                "spec": {"groups": [group]},
            }, llm.name),
        ]
    return [Output(f"{base}/prometheus-rules.yaml", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{llm.name}-prometheus-rules", "namespace": ctx.namespace, "labels": _labels(ctx, llm)},
        "data": {f"{llm.name}.rules.yaml": dump({"groups": [group]})},
    }, llm.name)]
