"""Grafana dashboards, built with the typed grafana-foundation-sdk (TOOLCHAIN.md §6).

One dashboard per monitored model (``models/<name>/dashboard.yaml``: request rate, error rate,
latency percentiles, predict time and replicas, each split by revision so canary and stable sit
side by side) and one overview per environment (``monitoring/overview-dashboard.yaml``). Each is
a ConfigMap labelled for Grafana's dashboard sidecar (``monitoring.dashboardLabels``), annotated
for server-side apply in Argo CD (large ConfigMaps overflow client-side apply's annotation) and
against Flux's ``${...}`` variable substitution (the dashboards use ``${datasource}``).

The SDK assigns no panel ids and leaves ``refId`` empty: both are set here. The JSON is
deterministic (sorted keys, two-space indent) and written as a YAML literal block. Queries come
from :class:`~servespec.promql.Queries`, the same builder as the alert rules.
"""

from __future__ import annotations

import hashlib
import orjson
from typing import Any

from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos, VariableOption

from ..spec import Model
from ..promql import GroupQueries, Queries
from .context import EnvContext, Output, base_labels, monitored_models

__all__ = ["emit", "emit_model", "model_dashboard", "overview_dashboard", "dashboard_json", "DASHBOARD_ANNOTATIONS", "RATE"]

DASHBOARD_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "ServerSideApply=true",
    "kustomize.toolkit.fluxcd.io/substitute": "disabled",
}
"""On every dashboard ConfigMap: server-side apply in Argo CD, no Flux ``${...}`` substitution."""

RATE = "$__rate_interval"
"""Rate window of dashboard queries (Grafana's built-in)."""

_DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
_WIDTH, _HEIGHT = 12, 8


def _uid(*parts: str) -> str:
    uid = "-".join(parts)
    if len(uid) <= 40:  # Grafana's limit
        return uid
    return f"{uid[:31]}-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"


def _ref(i: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


class _Layout:
    """Assigns panel ids and grid positions, two panels per row."""

    def __init__(self) -> None:
        self.count = 0

    def panel(self, title: str, unit: str, targets: list[tuple[str, str]], description: str = "") -> timeseries.Panel:
        i = self.count
        self.count += 1
        panel = (timeseries.Panel().id(i + 1).title(title).unit(unit).datasource(_DS)
                 .grid_pos(GridPos(h=_HEIGHT, w=_WIDTH, x=(i % 2) * _WIDTH, y=(i // 2) * _HEIGHT)))
        if description:
            panel = panel.description(description)
        for n, (expr, legend) in enumerate(targets):
            panel = panel.with_target(prometheus.Dataquery().ref_id(_ref(n)).expr(expr).legend_format(legend).datasource(_DS))
        return panel


def _dashboard(ctx: EnvContext, title: str, uid: str, tags: list[str]) -> Dashboard:
    ds = ctx.env.overlay.monitoring.datasource
    return (Dashboard(title).uid(uid).tags(tags).refresh("30s").time("now-6h", "now").timezone("browser")
            .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus")
                           .current(VariableOption(selected=True, text=ds, value=ds))))


def model_dashboard(ctx: EnvContext, model: Model) -> Dashboard:
    """The dashboard of one model: every panel split by revision (canary vs stable)."""
    q = Queries(model.name, model.deployment_mode, ctx.namespace, ctx.env.overlay.monitoring.metrics)
    rev = (q.m.revision_label,)
    legend = "{{" + q.m.revision_label + "}}"
    dash = _dashboard(ctx, f"{model.name} ({ctx.env.name})", _uid(ctx.env.name, model.name),
                      ["servespec", "kserve", ctx.env.name])
    lay = _Layout()
    dash = dash.with_panel(lay.panel("Request rate by revision", "reqps", [(q.request_rate(RATE, rev), legend)]))
    ratio = q.error_ratio(RATE, rev)
    if ratio:
        dash = dash.with_panel(lay.panel("Error rate by revision", "percentunit", [(ratio, legend)],
                                         f"Share of requests answered {q.m.error_class}."))
    dash = dash.with_panel(lay.panel(
        "Latency percentiles by revision", q.latency_unit,
        [(q.latency_quantile(p, RATE, rev), f"p{int(p * 100)} {legend}") for p in (0.5, 0.9, 0.99)],
        "End-to-end latency at the queue-proxy." if q.knative else "Predict time (Standard mode has no queue-proxy)."))
    dash = dash.with_panel(lay.panel(
        "Predict time by revision", "s",
        [(q.predict_quantile(p, RATE, rev), f"p{int(p * 100)} {legend}") for p in (0.5, 0.99)],
        "Time spent in the model server's predict handler."))
    dash = dash.with_panel(lay.panel("Replicas by revision", "short", [(q.replicas(rev), legend)],
                                     "Predictor pods being scraped successfully."))
    return dash


def overview_dashboard(ctx: EnvContext) -> Dashboard:
    """One line per model (request rate, error rate, p99 latency, replicas), with at most two
    targets per panel (Knative and Standard models), so it stays small with many models."""
    names = ctx.env.overlay.monitoring.metrics
    models = monitored_models(ctx)
    groups = [GroupQueries(tuple(m.name for m in ms), ms[0].deployment_mode, ctx.namespace, names) for ms in (
        [m for m in models if m.deployment_mode == "Knative"], [m for m in models if m.deployment_mode != "Knative"]) if ms]
    legend = "{{model}}"
    dash = _dashboard(ctx, f"Models ({ctx.env.name})", _uid(ctx.env.name, "overview"), ["servespec", "kserve", ctx.env.name])
    lay = _Layout()
    dash = dash.with_panel(lay.panel("Request rate", "reqps", [(g.request_rate(RATE), legend) for g in groups]))
    errors = [(r, legend) for g in groups if (r := g.error_ratio(RATE))]
    if errors:
        dash = dash.with_panel(lay.panel("Error rate", "percentunit", errors, "Knative-mode models (queue-proxy)."))
    dash = dash.with_panel(lay.panel("p99 latency", "s", [(g.latency_p99_seconds(RATE), legend) for g in groups],
                                     "End-to-end in Knative mode, predict time in Standard mode."))
    dash = dash.with_panel(lay.panel("Replicas", "short", [(GroupQueries(tuple(m.name for m in models), models[0].deployment_mode, ctx.namespace, names).replicas(), legend)]))
    return dash


def dashboard_json(dash: Dashboard) -> str:
    """Deterministic JSON of a dashboard (sorted keys, trailing newline)."""
    # orjson: the same bytes as ``json.dumps(..., sort_keys=True, indent=2)`` with the SDK's
    # encoder, at C speed (the stdlib's indenting encoder is pure Python: 2 ms a dashboard).
    return orjson.dumps(dash.build(), default=_to_json, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def _to_json(obj: Any) -> Any:
    """What the SDK's ``cog.encoder.JSONEncoder`` does: builder models know their JSON."""
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"cannot serialise {type(obj).__name__} in a dashboard")


def _configmap(ctx: EnvContext, name: str, key: str, dash: Dashboard, model: str | None) -> dict[str, Any]:
    mon = ctx.env.overlay.monitoring
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": mon.dashboard_namespace or ctx.namespace,
            "labels": {**base_labels(model), **mon.dashboard_labels},
            "annotations": dict(DASHBOARD_ANNOTATIONS),
        },
        "data": {key: dashboard_json(dash)},
    }


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """The dashboard ConfigMap of a monitored model."""
    if not (ctx.env.overlay.monitoring.dashboards and model in monitored_models(ctx, [model]) and model.monitoring.dashboard):
        return []
    return [Output(f"models/{model.name}/dashboard.yaml",
                   _configmap(ctx, f"{model.name}-dashboard", f"{ctx.env.name}-{model.name}.json", model_dashboard(ctx, model),
                              model.name), model.name)]


def emit(ctx: EnvContext) -> list[Output]:
    """The environment's overview dashboard, when any model is monitored."""
    if not ctx.env.overlay.monitoring.dashboards or not monitored_models(ctx):
        return []
    return [Output("monitoring/overview-dashboard.yaml",
                   _configmap(ctx, "servespec-overview-dashboard", f"{ctx.env.name}-overview.json",
                              overview_dashboard(ctx), None))]
