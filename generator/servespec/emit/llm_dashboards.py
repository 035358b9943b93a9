"""The Grafana dashboard of every monitored LLM, built with the typed grafana-foundation-sdk.

``models/<llm>/dashboard.yaml``: requests and error share, time to first token, time per output
token, end-to-end latency, queue depth and running batch, KV-cache use and token throughput, every
panel split by service (``<llm>`` is stable, ``<llm>-canary`` the canary), so a canary sits beside
stable on each graph. A ConfigMap labelled for Grafana's sidecar, like the models' dashboards
(same annotations, same deterministic JSON: sorted keys, panel ids and ``refId`` set here). Queries
come from :class:`~servespec.promql.LLMQueries`, the builder of the LLM alerts and gates.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos, VariableOption

from ..promql import LLMQueries
from ..resolve_llm import canary_name
from ..spec import LLM
from .context import EnvContext, Output, base_labels

__all__ = ["emit_llm", "llm_dashboard", "PANELS"]

RATE = "$__rate_interval"
_DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
ANNOTATIONS = {"argocd.argoproj.io/sync-options": "ServerSideApply=true", "kustomize.toolkit.fluxcd.io/substitute": "disabled"}
"""The same as the models' dashboards (``emit/dashboards.py``): server-side apply, no Flux substitution."""
PANELS = ("Requests by service", "Error share by service", "Time to first token", "Time per output token",
          "End-to-end latency", "Queue depth and running requests", "KV-cache use", "Tokens per second")
"""The dashboard's panels, in order."""


def _uid(env: str, llm: str) -> str:
    uid = f"{env}-llm-{llm}"
    return uid if len(uid) <= 40 else f"{uid[:31]}-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"


def _panel(i: int, title: str, unit: str, targets: list[tuple[str, str]], description: str) -> timeseries.Panel:
    panel = (timeseries.Panel().id(i + 1).title(title).unit(unit).datasource(_DS).description(description)
             .grid_pos(GridPos(h=8, w=12, x=(i % 2) * 12, y=(i // 2) * 8)))
    for n, (expr, legend) in enumerate(targets):
        panel = panel.with_target(prometheus.Dataquery().ref_id(chr(65 + n)).expr(expr).legend_format(legend).datasource(_DS))
    return panel


def llm_dashboard(ctx: EnvContext, llm: LLM) -> Dashboard:
    """The dashboard of one LLM: every panel split by service (stable vs canary)."""
    q = LLMQueries(llm.name, ctx.namespace, (llm.name, canary_name(llm.name)), llm.monitoring.metrics)
    by = (q.member,)
    svc = "{{" + q.member + "}}"
    ds = ctx.env.overlay.monitoring.datasource

    def pct(fn: Any, qs: tuple[float, ...]) -> list[tuple[str, str]]:
        return [(fn(p, RATE, by), f"p{int(p * 100)} {svc}") for p in qs]

    panels = [
        ("reqps", [(q.request_rate(RATE, by), svc)], "Requests vLLM finished, per second."),
        ("percentunit", [(q.error_ratio(RATE, by), svc)], "Share of requests vLLM finished with an error (answered 500)."),
        ("s", pct(q.ttft_quantile, (0.5, 0.9, 0.99)), "From arrival to the first generated token (queueing and prefill)."),
        ("s", pct(q.tpot_quantile, (0.5, 0.99)), "Between consecutive output tokens (decode speed)."),
        ("s", pct(q.e2e_quantile, (0.5, 0.99)), "Whole request, as vLLM measures it."),
        ("short", [(q.queue_depth(by), f"waiting (busiest pod) {svc}"), (q.running(by), f"running {svc}")],
         "Requests queued in the engine, and in the running batches."),
        ("percentunit", [(q.kv_cache_usage(by), svc)], "KV-cache use of the fullest pod."),
        ("short", [(q.token_rate(RATE, by), f"generated {svc}"), (q.token_rate(RATE, by, prompt=True), f"prompt {svc}")],
         "Tokens per second."),
    ]
    dash = (Dashboard(f"{llm.name} (LLM, {ctx.env.name})").uid(_uid(ctx.env.name, llm.name))
            .tags(["servespec", "kserve", "llm", ctx.env.name]).refresh("30s").time("now-6h", "now").timezone("browser")
            .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus")
                           .current(VariableOption(selected=True, text=ds, value=ds))))
    for i, (title, (unit, targets, description)) in enumerate(zip(PANELS, panels, strict=True)):
        dash = dash.with_panel(_panel(i, title, unit, targets, description))
    return dash


def _to_json(obj: Any) -> Any:
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"cannot serialise {type(obj).__name__} in a dashboard")


def emit_llm(ctx: EnvContext, llm: LLM) -> list[Output]:
    """The dashboard ConfigMap of a monitored LLM."""
    mon = ctx.env.overlay.monitoring
    if not (mon.enabled and mon.dashboards and llm.monitoring.enabled and llm.monitoring.dashboard):
        return []
    text = orjson.dumps(llm_dashboard(ctx, llm).build(), default=_to_json, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{llm.name}-dashboard", "namespace": mon.dashboard_namespace or ctx.namespace,
                     "labels": {**base_labels(llm.name), **mon.dashboard_labels}, "annotations": dict(ANNOTATIONS)},
        "data": {f"{ctx.env.name}-{llm.name}.json": text},
    }
    return [Output(f"models/{llm.name}/dashboard.yaml", obj, llm.name)]
