"""InferenceGraphs: steps reference models by spec object, KServe's webhook rules hold by construction,
the graph renders valid on every KServe release servespec ships, and it has its own monitoring: a
PodMonitor of its router's queue-proxy and alerts promtool accepts and that fire on a bad series only."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from promtool_cases import PROMTOOL
from servespec.emit.graph import graph_rule_group
from servespec.project import Project
from servespec.resolve import build_context
from surface_cases import MINORS, make_repo, obj, overlay, problems, render, schema_errors

MODELS = '''IRIS = Model(name="iris", predictor=Predictor(model_format="sklearn", storage_uri="gs://b/iris"))
XGB = Model(name="xgb", predictor=Predictor(model_format="xgboost", storage_uri="gs://b/xgb"))
'''
GRAPH = MODELS + '''GRAPH = InferenceGraph(name="g", nodes={nodes}{extra})
'''
SPLITTER = '{"root": GraphNode(router_type="Splitter", steps=[GraphStep(model=IRIS, weight=20), GraphStep(model=XGB, weight=80)])}'
ALL_ROUTERS = ('{"root": GraphNode(router_type="Sequence", steps=[GraphStep(name="pick", node="switch"), GraphStep(name="both", '
               'node="ensemble", data="$response")]), "switch": GraphNode(router_type="Switch", steps=[GraphStep(model=IRIS, '
               'condition="[@this].#(kind==\\"iris\\")"), GraphStep(service_url="http://fallback.ml.svc.cluster.local/v1/models/x:predict", '
               'dependency="Hard")]), "ensemble": GraphNode(router_type="Ensemble", steps=[GraphStep(name="a", model=IRIS), '
               'GraphStep(name="b", model=XGB)])}')


@pytest.mark.parametrize("kserve", MINORS)
def test_every_router_type_renders_valid_on_every_release(tmp_path: Path, kserve: str) -> None:
    repo = make_repo(tmp_path, GRAPH.format(nodes=ALL_ROUTERS, extra=", min_replicas=1, max_replicas=3, timeout=30"),
                     {"dev": overlay(kserve)})
    files = render(repo)
    graph = obj(files, "common/graphs/g/inferencegraph.yaml")
    assert graph["spec"]["nodes"]["root"] == {"routerType": "Sequence", "steps": [
        {"name": "pick", "nodeName": "switch"}, {"name": "both", "nodeName": "ensemble", "data": "$response"}]}
    assert graph["spec"]["nodes"]["switch"]["steps"][0] == {"serviceName": "iris", "condition": '[@this].#(kind=="iris")'}
    assert graph["spec"]["nodes"]["ensemble"]["steps"] == [{"name": "a", "serviceName": "iris"}, {"name": "b", "serviceName": "xgb"}]
    assert {k: graph["spec"][k] for k in ("minReplicas", "maxReplicas", "timeout")} == {"minReplicas": 1, "maxReplicas": 3, "timeout": 30}
    mode = "Serverless" if kserve < "0.16" else "Knative"
    assert graph["metadata"].get("annotations", {}).get("serving.kserve.io/deploymentMode") == (None if kserve == "0.19" else mode)
    assert schema_errors(repo, "dev", files) == []


# kserve/kserve@v0.20.0:pkg/apis/serving/v1alpha1/inference_graph_validation.go: validateInferenceGraphRouterRoot (:168-177),
# validateInferenceGraphStepNameUniqueness (:119-134), validateInferenceGraphSingleStepTargets (:137-161),
# validateInferenceGraphSplitterWeight (:180-198); and a node a step names must exist
WEBHOOK_RULES = {
    "no-root": ('{"main": GraphNode(router_type="Sequence", steps=[GraphStep(model=IRIS)])}',
                "specs/main.py:4: InferenceGraph: expected a node named 'root' (KServe's router starts there), found main"),
    "duplicate-step-name": ('{"root": GraphNode(router_type="Ensemble", steps=[GraphStep(name="a", model=IRIS), GraphStep(name="a", model=XGB)])}',
                            "specs/main.py:4: GraphNode: expected unique step names, found a twice"),
    "two-targets": ('{"root": GraphNode(router_type="Sequence", steps=[GraphStep(model=IRIS, service_url="http://x")])}',
                    "specs/main.py:4: GraphStep: expected exactly one of model, node or service_url, found model, service_url"),
    "no-target": ('{"root": GraphNode(router_type="Sequence", steps=[GraphStep(name="a")])}',
                  "specs/main.py:4: GraphStep: expected exactly one of model, node or service_url, found none"),
    "splitter-weight-missing": ('{"root": GraphNode(router_type="Splitter", steps=[GraphStep(model=IRIS, weight=100), GraphStep(model=XGB)])}',
                                "specs/main.py:4: GraphNode: expected a weight on every step of a Splitter, found none on step 1"),
    "splitter-weights-not-100": ('{"root": GraphNode(router_type="Splitter", steps=[GraphStep(model=IRIS, weight=20), GraphStep(model=XGB, weight=70)])}',
                                 "specs/main.py:4: GraphNode: expected the Splitter's weights to sum to 100, found 90"),
    "unknown-node": ('{"root": GraphNode(router_type="Sequence", steps=[GraphStep(node="nope")])}',
                     "specs/main.py:4: InferenceGraph: nodes.root.steps[0].node: expected one of root, found 'nope'"),
}


@pytest.mark.parametrize("case", list(WEBHOOK_RULES))
def test_kserves_graph_rules_hold_by_construction(tmp_path: Path, case: str) -> None:
    nodes, message = WEBHOOK_RULES[case]
    assert problems(make_repo(tmp_path, GRAPH.format(nodes=nodes, extra=""))) == [message]


ENV_MISUSE = {
    "model-disabled": (SPLITTER, "", "models:\n  xgb: {enabled: false}\n",
                       ["specs/main.py: g.nodes.root.steps[1].model: xgb is disabled in env 'dev': expected it enabled, or "
                        "graphs.g.enabled: false in overlays/dev.yaml"]),
    # the router exports no metrics: kserve/kserve@v0.20.0:cmd/router has no /metrics handler
    "standard-mode-monitoring": (SPLITTER, ', deployment_mode="Standard"', "",
                                 ["specs/main.py: g.monitoring: expected monitoring=GraphMonitoring(enabled=False) in Standard mode "
                                  "(KServe's router exports no metrics; Knative mode's queue-proxy does), found it enabled"]),
    "unknown-graph-in-overlay": (SPLITTER, "", "graphs:\n  h: {enabled: false}\n",
                                 ["overlays/dev.yaml:6: graphs.h: unknown InferenceGraph (declared: g)"]),
}


@pytest.mark.parametrize("case", list(ENV_MISUSE))
def test_graph_misuse_in_an_env(tmp_path: Path, case: str) -> None:
    nodes, extra, env_extra, expected = ENV_MISUSE[case]
    assert problems(make_repo(tmp_path, GRAPH.format(nodes=nodes, extra=extra), {"dev": overlay("0.20", env_extra)})) == expected


def test_a_graph_named_like_a_model_or_calling_an_undeclared_model(tmp_path: Path) -> None:
    spec = MODELS + (
        'GRAPH = InferenceGraph(name="iris", nodes={"root": GraphNode(router_type="Sequence", steps=[GraphStep(model=Model(name="ghost", '
        'predictor=Predictor(model_format="sklearn", storage_uri="gs://b/g")))])})\n')
    assert problems(make_repo(tmp_path, spec)) == [
        "specs/main.py: iris.name: expected a name no model has (the graph's and the model's hostnames would collide), found 'iris'",
        "specs/main.py: iris.nodes.root.steps[0].model: expected a Model declared at module level in specs/, found 'ghost', which is not"]


def test_graph_overrides_per_env(tmp_path: Path) -> None:
    envs = {"dev": overlay("0.20", "models:\n  xgb: {enabled: false}\ngraphs:\n  g: {enabled: false}\n"),
            "prod": overlay("0.20", "graphs:\n  g: {minReplicas: 2, maxReplicas: 4}\n")}
    repo = make_repo(tmp_path, GRAPH.format(nodes=SPLITTER, extra=""), envs)
    assert not [p for p in render(repo, "dev") if p.startswith("common/graphs/")]
    spec = obj(render(repo, "prod"), "common/graphs/g/inferencegraph.yaml")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 4)


# -- monitoring --------------------------------------------------------------------------------------------
def _monitored(tmp_path: Path, operator: bool) -> tuple[Path, dict[str, bytes]]:
    mon = "monitoring: {prometheusOperator: %s}\n" % ("true" if operator else "false")
    text = overlay("0.20").replace("monitoring: {enabled: false}\n", mon)
    repo = make_repo(tmp_path, GRAPH.format(nodes=SPLITTER, extra=""), {"dev": text})
    return repo, render(repo)


def test_with_the_operator_a_podmonitor_of_the_routers_queue_proxy_and_rules(tmp_path: Path) -> None:
    repo, files = _monitored(tmp_path, operator=True)
    pm = obj(files, "common/graphs/g/podmonitor.yaml")
    assert pm["spec"] == {"selector": {"matchLabels": {"serving.kserve.io/inferencegraph": "g"}},
                          "podMetricsEndpoints": [{"port": "http-usermetric", "path": "/metrics", "honorLabels": True}]}
    rule = obj(files, "common/graphs/g/prometheusrule.yaml")
    assert [r["alert"] for r in rule["spec"]["groups"][0]["rules"]] == ["GraphErrorRateHigh", "GraphLatencyP99High"]
    assert schema_errors(repo, "dev", files) == []


def test_without_the_operator_scrape_annotations_and_a_rule_file(tmp_path: Path) -> None:
    repo, files = _monitored(tmp_path, operator=False)
    graph = obj(files, "common/graphs/g/inferencegraph.yaml")
    assert graph["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9091",
                                                "prometheus.io/path": "/metrics", "serving.kserve.io/deploymentMode": "Knative"}
    cm = obj(files, "common/graphs/g/prometheus-rules.yaml")
    assert list(cm["data"]) == ["graph-g.rules.yaml"] and schema_errors(repo, "dev", files) == []


def _group(tmp_path: Path) -> dict[str, Any]:
    repo, _files = _monitored(tmp_path, operator=True)
    ctx = build_context(Project.load(repo, ["dev"]), "dev")
    return graph_rule_group(ctx, ctx.graphs["g"])


@pytest.mark.slow
@pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")
@pytest.mark.parametrize(("errors", "slow", "fired"), [(0, False, []), (30, False, ["GraphErrorRateHigh"]), (0, True, ["GraphLatencyP99High"])],
                         ids=["healthy", "errors", "slow"])
def test_graph_alerts_fire_on_a_bad_series_only(tmp_path: Path, errors: int, slow: bool, fired: list[str]) -> None:
    group = _group(tmp_path)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    check = subprocess.run([PROMTOOL, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS: 2 rules found" in check.stdout, check.stdout + check.stderr
    base = 'namespace="ml",service_name="g",revision_name="g-00001"'
    le = "5000" if slow else "100"
    series = [
        {"series": f'revision_app_request_count{{{base},response_code_class="2xx"}}', "values": f"0+{600 - errors}x70"},
        {"series": f'revision_app_request_count{{{base},response_code_class="5xx"}}', "values": f"0+{errors}x70"},
        {"series": f'revision_app_request_latencies_bucket{{{base},le="{le}"}}', "values": "0+600x70"},
        {"series": f'revision_app_request_latencies_bucket{{{base},le="+Inf"}}', "values": "0+600x70"},
    ]
    labels = {"graph": "g", "namespace": "ml", "severity": "warning"}
    annotations = {r["alert"]: r["annotations"] for r in group["rules"]}
    tests = [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "40m", "alertname": name,
         "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations[name]}] if name in fired else []}
        for name in ("GraphErrorRateHigh", "GraphLatencyP99High")]}]
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": tests}))
    res = subprocess.run([PROMTOOL, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
