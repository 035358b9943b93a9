"""Grafana dashboards: typed builder JSON that round-trips, small snapshots, sidecar ConfigMaps,
and metric names consistent with the alert rules and the scrape configs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from conftest import REPO
from promtool_cases import PROMTOOL, promtool
from servespec.emit.dashboards import DASHBOARD_ANNOTATIONS
from servespec.metrics import MODEL_SERVER_PORT, QUEUE_PROXY_PORT_NAME, SOURCES, MetricNames

ENVS = ("dev", "staging", "prod")
_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _dashboards(env: str) -> dict[Path, tuple[dict[str, Any], str]]:
    """Rendered dashboard ConfigMaps of an environment: path -> (ConfigMap, JSON text)."""
    folder = REPO / "rendered" / env
    paths = sorted(folder.glob("models/*/dashboard.yaml")) + [folder / "common" / "monitoring" / "overview-dashboard.yaml"]
    out = {}
    for p in paths:
        if (p.parent / "llminferenceservice.yaml").exists():
            continue  # an LLM's dashboard (vLLM's metrics): tests/test_llm_monitoring.py
        cm = _load(p)
        (text,) = cm["data"].values()
        out[p] = (cm, text)
    return out


def _panels(text: str) -> list[dict[str, Any]]:
    return json.loads(text)["panels"]


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (every selector here has a ``{...}``)."""
    return set(_METRIC.findall(expr))


def _field(name: str, m: MetricNames) -> str | None:
    """The MetricNames field a (possibly suffixed) series name belongs to."""
    for field in SOURCES:
        base = getattr(m, field)
        if name == base or name in (f"{base}_bucket", f"{base}_count", f"{base}_sum"):
            return field
    return None


def scraped_sources(model_dir: Path) -> set[str]:
    """What the rendered scrape config of a model collects: from its PodMonitor's endpoints, or
    from its InferenceService's scrape annotations."""
    pm = model_dir / "podmonitor.yaml"
    if pm.exists():
        out = {"target"}
        for ep in _load(pm)["spec"]["podMetricsEndpoints"]:
            if ep.get("port") == QUEUE_PROXY_PORT_NAME:
                out.add("queue-proxy")
            if ep.get("targetPort") == MODEL_SERVER_PORT:
                out.add("model-server")
        return out
    ann = _load(model_dir / "inferenceservice.yaml")["metadata"]["annotations"]
    out = set()
    if ann.get("prometheus.io/scrape") == "true":
        out.add("target")
        if ann.get("serving.kserve.io/enable-prometheus-scraping") == "true":
            out.add("queue-proxy")
            if ann.get("serving.kserve.io/enable-metric-aggregation") == "true":
                out.add("model-server")
        elif ann.get("prometheus.io/port") == str(MODEL_SERVER_PORT):
            out.add("model-server")
    return out


def rule_metrics(env: str) -> set[str]:
    names: set[str] = set()
    for p in sorted((REPO / "rendered" / env / "models").glob("*/*.yaml")):
        obj = _load(p)
        if obj["kind"] == "PrometheusRule":
            groups = obj["spec"]["groups"]
        elif p.name == "prometheus-rules.yaml":
            groups = yaml.safe_load(next(iter(obj["data"].values())))["groups"]
        else:
            continue
        for g in groups:
            for r in g["rules"]:
                names |= metric_names(r["expr"])
    return names


def inconsistent(panel_metrics: set[str], rules: set[str], scraped: set[str], m: MetricNames) -> list[str]:
    """Panel metrics no rule uses, or that come from an endpoint the scrape config skips."""
    problems = []
    for name in sorted(panel_metrics):
        field = _field(name, m)
        if field is None:
            problems.append(f"{name}: not a name of servespec.metrics")
            continue
        if name not in rules:
            problems.append(f"{name}: no alert rule uses it")
        if SOURCES[field] not in scraped:
            problems.append(f"{name}: its source {SOURCES[field]} is not scraped")
    return problems


@pytest.mark.parametrize("env", ENVS)
def test_dashboards_round_trip_through_the_builder(env: str) -> None:
    for path, (_, text) in _dashboards(env).items():
        model = DashboardModel.from_json(json.loads(text))
        assert json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n" == text, path


@pytest.mark.parametrize("env", ENVS)
def test_dashboard_configmaps_are_for_the_sidecar_and_safe_to_sync(env: str) -> None:
    dashboards = _dashboards(env)
    assert len(dashboards) == 6  # five models and the overview
    for path, (cm, text) in dashboards.items():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1", path
        assert cm["metadata"]["annotations"] == DASHBOARD_ANNOTATIONS
        assert "${datasource}" in text  # why Flux must not substitute
        assert path.read_text().count("|\n") == 1  # the JSON is one literal block
        panels = _panels(text)
        assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
        for p in panels:
            refs = [t["refId"] for t in p["targets"]]
            assert all(refs) and len(set(refs)) == len(refs), (path, p["title"])


def test_model_dashboards_split_every_panel_by_revision() -> None:
    for path, (_, text) in _dashboards("prod").items():
        if "overview" in path.name:
            continue
        titles = [p["title"] for p in _panels(text)]
        assert {"Request rate by revision", "Latency percentiles by revision", "Predict time by revision",
                "Replicas by revision"} <= set(titles)
        for p in _panels(text):
            for t in p["targets"]:
                assert "revision_name" in t["expr"] and "{{revision_name}}" in t["legendFormat"], (path, p["title"])


def _summary(text: str) -> list[Any]:
    return [[p["id"], p["title"], p["fieldConfig"]["defaults"]["unit"], [[t["refId"], t["legendFormat"], t["expr"]] for t in p["targets"]]]
            for p in _panels(text)]


def test_dashboard_snapshots(snapshot: Any) -> None:
    rendered = REPO / "rendered"
    picks = [("staging", "models/census-income/dashboard.yaml"), ("prod", "models/fraud-detector/dashboard.yaml"),
             ("dev", "common/monitoring/overview-dashboard.yaml")]
    out = {}
    for env, rel in picks:
        cm = _load(rendered / env / rel)
        (text,) = cm["data"].values()
        out[f"{env}/{rel}"] = {"title": json.loads(text)["title"], "uid": json.loads(text)["uid"], "panels": _summary(text)}
    assert out == snapshot


@pytest.mark.parametrize("env", ENVS)
def test_every_panel_metric_is_alerted_on_and_scraped(env: str) -> None:
    m = MetricNames()
    rules = rule_metrics(env)
    assert rules
    checked = 0
    for path, (_, text) in _dashboards(env).items():
        dirs = [path.parent] if path.parent.parent.name == "models" else sorted((REPO / "rendered" / env / "models").iterdir())
        for p in _panels(text):
            for t in p["targets"]:
                names = metric_names(t["expr"])
                assert names, (path, p["title"], t["expr"])
                # an overview target covers several models: each of them must be consistent
                covered = [d for d in dirs if d.name in t["expr"]]
                assert covered, (path, p["title"], t["expr"])
                for model_dir in covered:
                    assert inconsistent(names, rules, scraped_sources(model_dir), m) == [], (path, p["title"], model_dir.name)
                    checked += 1
    assert checked > 20


def test_the_consistency_check_can_fail() -> None:
    m = MetricNames()
    assert inconsistent({"revision_app_request_count", "request_predict_seconds_bucket", "made_up_total"},
                        {"revision_app_request_count"}, {"queue-proxy", "target"}, m) == [
        "made_up_total: not a name of servespec.metrics",
        "request_predict_seconds_bucket: no alert rule uses it",
        "request_predict_seconds_bucket: its source model-server is not scraped",
    ]


needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")


@pytest.mark.slow
@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = []
    for env in ENVS:
        for _path, (_, text) in _dashboards(env).items():
            for p in _panels(text):
                for t in p["targets"]:
                    rules.append({"record": f"panel:{len(rules)}", "expr": t["expr"].replace("$__rate_interval", "5m")})
    (tmp_path / "panels.yaml").write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = promtool("check", "rules", "panels.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def _promtool_expects(tmp_path: Path, series: list[dict[str, str]], checks: list[dict[str, Any]]) -> None:
    """promtool evaluates each check's expression over ``series`` and finds exactly its samples."""
    tests = {"rule_files": [], "evaluation_interval": "1m", "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}]}
    (tmp_path / "overview.test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", "overview.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@needs_promtool
def test_overview_queries_give_one_series_per_model(tmp_path: Path) -> None:
    """The overview's label_replace/regex queries, evaluated by promtool on made-up series."""
    _, text = _dashboards("dev")[REPO / "rendered" / "dev" / "common" / "monitoring" / "overview-dashboard.yaml"]
    panels = {p["title"]: [t["expr"].replace("$__rate_interval", "5m") for t in p["targets"]] for p in _panels(text)}
    qp = 'revision_app_request_count{namespace="%s",service_name="census-income-predictor",revision_name="%s",response_code_class="%s"}'
    series = [
        {"series": qp % ("anonymous", "census-income-predictor-00001", "2xx"), "values": "0+60x10"},
        {"series": qp % ("anonymous", "census-income-predictor-00002", "5xx"), "values": "0+60x10"},
        {"series": qp % ("other", "census-income-predictor-00001", "2xx"), "values": "0+600x10"},
        {"series": 'request_predict_seconds_count{namespace="anonymous",model_name="fraud-detector"}', "values": "0+120x10"},
        {"series": 'up{namespace="anonymous",pod="census-income-predictor-00001-deployment-a"}', "values": "1x10"},
        {"series": 'up{namespace="anonymous",pod="census-income-predictor-00002-deployment-b"}', "values": "1x10"},
        {"series": 'up{namespace="anonymous",pod="fraud-detector-predictor-5d9c-x"}', "values": "1x10"},
        {"series": 'up{namespace="anonymous",pod="fraud-detector-predictor-5d9c-y"}', "values": "0x10"},
    ]
    knative_rate, standard_rate = panels["Request rate"]
    census = '{model="census-income",service_name="census-income-predictor"}'
    checks = [
        {"expr": knative_rate, "eval_time": "10m", "exp_samples": [{"labels": census, "value": 2}]},
        {"expr": standard_rate, "eval_time": "10m", "exp_samples": [{"labels": '{model="fraud-detector",model_name="fraud-detector"}', "value": 2}]},
        {"expr": panels["Error rate"][0], "eval_time": "10m", "exp_samples": [{"labels": census, "value": 0.5}]},
        {"expr": panels["Replicas"][0], "eval_time": "10m", "exp_samples": [
            {"labels": '{model="census-income"}', "value": 2}, {"labels": '{model="fraud-detector"}', "value": 1}]},
    ]
    _promtool_expects(tmp_path, series, checks)


def test_overview_names_models_up_to_the_list_limit() -> None:
    from servespec.promql import LIST_LIMIT, GroupQueries

    few = GroupQueries(("census-income", "fraud-detector"), "Knative", "ml-prod", MetricNames())
    assert 'service_name=~"census-income-predictor|fraud-detector-predictor"' in few.request_rate("5m")
    many = GroupQueries(tuple(f"model-{i:05d}" for i in range(LIST_LIMIT + 1)), "Knative", "ml-prod", MetricNames())
    for expr in (many.request_rate("5m"), many.error_ratio("5m") or "", many.latency_p99_seconds("5m"), many.replicas()):
        assert "model-00000" not in expr and ".+" in expr, expr
    assert len(many.request_rate("5m")) == len(GroupQueries(("x",) * (LIST_LIMIT + 5000), "Knative", "ml-prod", MetricNames()).request_rate("5m"))


@pytest.mark.slow
@needs_promtool
def test_overview_queries_past_the_list_limit_give_one_series_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the limit the selector is the namespace's every model: still one series per model,
    other namespaces left out (promtool on made-up series)."""
    import servespec.promql as promql

    monkeypatch.setattr(promql, "LIST_LIMIT", 1)
    knative = promql.GroupQueries(("census-income", "sklearn-iris"), "Knative", "ml-prod", MetricNames())
    standard = promql.GroupQueries(("fraud-detector", "text-embedder"), "Standard", "ml-prod", MetricNames())
    qp = 'revision_app_request_count{namespace="%s",service_name="%s-predictor",revision_name="%s-predictor-00001",response_code_class="2xx"}'
    series = [
        {"series": qp % ("ml-prod", "census-income", "census-income"), "values": "0+60x10"},
        {"series": qp % ("ml-prod", "sklearn-iris", "sklearn-iris"), "values": "0+120x10"},
        {"series": qp % ("ml-dev", "census-income", "census-income"), "values": "0+600x10"},
        {"series": 'request_predict_seconds_count{namespace="ml-prod",model_name="fraud-detector"}', "values": "0+120x10"},
        {"series": 'request_predict_seconds_count{namespace="ml-dev",model_name="text-embedder"}', "values": "0+120x10"},
    ]
    checks = [
        {"expr": knative.request_rate("5m"), "eval_time": "10m", "exp_samples": [
            {"labels": '{model="census-income",service_name="census-income-predictor"}', "value": 1},
            {"labels": '{model="sklearn-iris",service_name="sklearn-iris-predictor"}', "value": 2}]},
        {"expr": standard.request_rate("5m"), "eval_time": "10m", "exp_samples": [
            {"labels": '{model="fraud-detector",model_name="fraud-detector"}', "value": 2}]},
    ]
    _promtool_expects(tmp_path, series, checks)
