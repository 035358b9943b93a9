"""Scraping (PodMonitor or pod annotations) and the inference-log sink, rendered per environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conftest import CRDS, run_cli


def _obj(root: Path, env: str, rel: str) -> dict[str, Any]:
    return yaml.safe_load((root / "rendered" / env / rel).read_text())


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_operator_envs_get_a_pod_monitor_for_queue_proxy_and_model_server(example_repo: Path) -> None:
    assert _obj(example_repo, "staging", "models/census-income/podmonitor.yaml")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    pm = _obj(example_repo, "prod", "models/census-income/podmonitor.yaml")
    assert pm["spec"]["selector"] == {"matchLabels": {"component": "predictor", "serving.kserve.io/inferenceservice": "census-income"}}
    assert pm["spec"]["podTargetLabels"] == ["serving.servespec.io/version"]
    endpoints = pm["spec"]["podMetricsEndpoints"]
    assert [(e.get("port"), e.get("targetPort"), e["path"], e.get("honorLabels")) for e in endpoints] == [
        ("http-usermetric", None, "/metrics", True), (None, 8080, "/metrics", None)]
    assert all(e["relabelings"][0]["targetLabel"] == "revision_name" for e in endpoints)
    # Standard mode: no queue-proxy, no revisions
    pm = _obj(example_repo, "prod", "models/fraud-detector/podmonitor.yaml")
    assert pm["spec"]["podMetricsEndpoints"] == [{"path": "/metrics", "targetPort": 8080}]
    # no scrape annotations are added where the operator scrapes; the user's own stay
    isvc = _obj(example_repo, "prod", "models/census-income/inferenceservice.yaml")
    assert isvc["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "serving.kserve.io/deploymentMode": "Knative",
                                               "sidecar.istio.io/inject": "false"}
    assert "prometheus.io/scrape" not in _obj(example_repo, "prod", "models/sklearn-iris/inferenceservice.yaml")["metadata"]["annotations"]


def test_envs_without_the_operator_scrape_by_annotation(example_repo: Path) -> None:
    ann = _obj(example_repo, "dev", "models/sklearn-iris/inferenceservice.yaml")["metadata"]["annotations"]
    assert ann["serving.kserve.io/enable-prometheus-scraping"] == "true"
    assert ann["serving.kserve.io/enable-metric-aggregation"] == "true"
    assert ann["prometheus.io/scrape"] == "true"
    ann = _obj(example_repo, "dev", "models/fraud-detector/inferenceservice.yaml")["metadata"]["annotations"]
    assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == ("true", "8080", "/metrics")
    assert not (example_repo / "rendered" / "dev" / "models" / "census-income" / "podmonitor.yaml").exists()
    rules = _obj(example_repo, "dev", "models/census-income/prometheus-rules.yaml")
    assert rules["kind"] == "ConfigMap"
    assert yaml.safe_load(rules["data"]["census-income.rules.yaml"])["groups"][0]["name"] == "servespec.dev.census-income"


def test_the_users_scrape_annotation_wins(example_repo: Path) -> None:
    _edit(example_repo / "overlays" / "dev.yaml", "storage:\n", "models:\n  census-income:\n    annotations:\n"
          "      prometheus.io/scrape: \"false\"\n      prometheus.io/port: \"9000\"\nstorage:\n")
    assert run_cli("render", "--env", "dev", "--root", example_repo).exit_code == 0
    ann = _obj(example_repo, "dev", "models/census-income/inferenceservice.yaml")["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "false"
    assert ann["prometheus.io/port"] == "9000"
    assert ann["serving.kserve.io/enable-prometheus-scraping"] == "true"


def test_monitoring_can_be_switched_off_per_env_and_per_model(example_repo: Path) -> None:
    _append(example_repo / "overlays" / "prod.yaml", "monitoring:\n  enabled: false\n")
    spec = example_repo / "specs" / "fraud_detector.py"
    _edit(spec, "from servespec.spec import Batcher,", "from servespec.spec import Monitoring, Batcher,")
    _edit(spec, '    labels={"team": "risk"},', '    labels={"team": "risk"},\n    monitoring=Monitoring(enabled=False),')
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0, result.stderr
    prod = example_repo / "rendered" / "prod"
    assert not list(prod.glob("models/*/podmonitor.yaml")) and not (prod / "common" / "monitoring").exists()
    staging = example_repo / "rendered" / "staging"
    assert not (staging / "models" / "fraud-detector" / "podmonitor.yaml").exists()
    assert (staging / "models" / "census-income" / "podmonitor.yaml").exists()
    assert "fraud-detector" not in (staging / "common" / "monitoring" / "overview-dashboard.yaml").read_text()
    assert run_cli("validate", "--crds", CRDS, "--root", example_repo).exit_code == 0


def test_the_message_dumper_is_rendered_when_asked_and_becomes_the_logger_sink(example_repo: Path) -> None:
    dep = _obj(example_repo, "dev", "common/logging/message-dumper-deployment.yaml")
    svc = _obj(example_repo, "dev", "common/logging/message-dumper-service.yaml")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("gcr.io/knative-releases/knative.dev/eventing/cmd/event_display@sha256:")
    assert (svc["metadata"]["name"], svc["metadata"]["namespace"]) == ("message-dumper", "anonymous")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    # dev's overlay sets no loggerUrl: the dumper is the default sink
    logger = _obj(example_repo, "dev", "models/census-income/inferenceservice.yaml")["spec"]["predictor"]["logger"]
    assert logger == {"mode": "all", "url": "http://message-dumper.anonymous.svc.cluster.local"}
    # prod has no dumper and keeps its explicit loggerUrl
    assert not (example_repo / "rendered" / "prod" / "common" / "logging").exists()
    kustomization = _obj(example_repo, "dev", "common/kustomization.yaml")["resources"]
    assert "logging/message-dumper-deployment.yaml" in kustomization


def test_an_explicit_logger_url_beats_the_message_dumper(example_repo: Path) -> None:
    _edit(example_repo / "overlays" / "staging.yaml", "defaults: {minReplicas: 2}", "defaults: {minReplicas: 2, loggerUrl: http://kafka-bridge.logs:8080}")
    assert run_cli("render", "--env", "staging", "--root", example_repo).exit_code == 0
    logger = _obj(example_repo, "staging", "models/census-income/inferenceservice.yaml")["spec"]["predictor"]["logger"]
    assert logger["url"] == "http://kafka-bridge.logs:8080"
    assert (example_repo / "rendered" / "staging" / "common" / "logging" / "message-dumper-service.yaml").exists()


def test_a_model_server_metrics_port_from_the_annotation(example_repo: Path) -> None:
    _edit(example_repo / "overlays" / "prod.yaml", "  fraud-detector:\n", "  fraud-detector:\n    annotations: {prometheus.kserve.io/port: \"8002\"}\n")
    assert run_cli("render", "--env", "prod", "--root", example_repo).exit_code == 0
    pm = _obj(example_repo, "prod", "models/fraud-detector/podmonitor.yaml")
    assert pm["spec"]["podMetricsEndpoints"] == [{"path": "/metrics", "targetPort": 8002}]
    # a port name instead of a number: tests/testdata/overlay-bad-metrics-port-annotation


def test_dashboard_namespace_scrape_interval_and_datasource_come_from_the_overlay(example_repo: Path) -> None:
    _append(example_repo / "overlays" / "prod.yaml", "monitoring:\n  dashboardNamespace: grafana\n  scrapeInterval: 15s\n  datasource: thanos\n")
    assert run_cli("render", "--env", "prod", "--root", example_repo).exit_code == 0
    dash = _obj(example_repo, "prod", "models/census-income/dashboard.yaml")
    assert dash["metadata"]["namespace"] == "grafana"
    assert '"text": "thanos"' in dash["data"]["prod-census-income.json"]
    pm = _obj(example_repo, "prod", "models/census-income/podmonitor.yaml")
    assert {e["interval"] for e in pm["spec"]["podMetricsEndpoints"]} == {"15s"}
    valid = run_cli("validate", "--env", "prod", "--crds", CRDS, "--root", example_repo)
    assert valid.exit_code == 0, valid.stderr
