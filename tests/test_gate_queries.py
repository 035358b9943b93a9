"""The gates' PromQL (``promql.py``): ``$stable``, the traffic checks and the canary-vs-stable
defaults, for both deployment modes; their behaviour on real series is in test_gates_prometheus.py."""

from __future__ import annotations

import pytest

from servespec.metrics import DEFAULT_METRICS, MetricNames, version_id
from servespec.promql import default_gate_queries, fill, traffic_queries
from servespec.rollout.gates import effective_gates, traffic_window
from servespec.spec import CanaryObjective, Gate, Model, Monitoring, Predictor, RolloutPlan

V2 = "s3://m/v2"
VID = version_id(V2)


@pytest.mark.parametrize("mode, stable", [
    ("Knative", f'service_name="m-predictor",serving_servespec_io_version!="{VID}"'),
    ("Standard", f'model_name="m",serving_servespec_io_version!="{VID}"'),
])
def test_stable_is_the_models_series_that_are_not_the_canarys(mode: str, stable: str) -> None:
    q = fill("up{namespace=\"$namespace\",$stable} / up{$canary}", "ml", "m", "5m", V2, deployment_mode=mode)
    assert q == f'up{{namespace="ml",{stable}}} / up{{serving_servespec_io_version="{VID}"}}'


def test_traffic_queries_per_mode_and_metric_names() -> None:
    k = traffic_queries("Knative", "ml", "m", V2, "10m")
    assert k.share == (f'(sum(rate(revision_app_request_count{{namespace_name="ml",serving_servespec_io_version="{VID}"}}[10m])) or vector(0))'
                       ' / sum(rate(revision_app_request_count{namespace_name="ml",service_name="m-predictor"}[10m]))')
    assert k.requests == f'sum(increase(revision_app_request_count{{namespace_name="ml",serving_servespec_io_version="{VID}"}}[10m])) or vector(0)'
    names = MetricNames.model_validate({"predictSeconds": "predict_s", "targetNamespaceLabel": "ns"}, by_alias=True)
    s = traffic_queries("Standard", "ml", "m", V2, "5m", names)
    assert s.share == (f'(sum(rate(predict_s_count{{ns="ml",serving_servespec_io_version="{VID}"}}[5m])) or vector(0))'
                       ' / sum(rate(predict_s_count{ns="ml",model_name="m"}[5m]))')


def test_default_gates_compare_canary_with_stable() -> None:
    knative = default_gate_queries("Knative", DEFAULT_METRICS, error_margin=0.02, latency_factor=1.3)
    assert [(g.name, g.max) for g in knative] == [("error-rate-increase", 0.02), ("latency-p99-ratio", 1.3)]
    assert knative[0].query.count("$canary") == 2 and knative[0].query.count("$stable") == 2
    assert " - " in knative[0].query and ") / histogram_quantile(" in knative[1].query
    (standard,) = default_gate_queries("Standard")
    assert standard.query == ('histogram_quantile(0.99, sum by (le) (rate(request_predict_seconds_bucket{namespace="$namespace",$canary}[$window])))'
                              ' / histogram_quantile(0.99, sum by (le) (rate(request_predict_seconds_bucket{namespace="$namespace",$stable}[$window])))')


def test_default_gate_thresholds_are_the_models_canary_alert_thresholds() -> None:
    model = Model(name="m", predictor=Predictor(model_format="sklearn", storage_uri="s3://m/v1"),
                  monitoring=Monitoring(canary=CanaryObjective(error_margin=0.005, latency_factor=1.2)))
    assert [(g.name, g.max) for g in effective_gates(RolloutPlan(), model)] == [("error-rate-increase", 0.005), ("latency-p99-ratio", 1.2)]
    assert effective_gates(RolloutPlan(gates=[]), model) == []


def test_traffic_window_is_the_longest_gate_window() -> None:
    gates = [Gate(name="a", query="up", max=1, window="5m"), Gate(name="b", query="up", max=1, window="1h")]
    assert traffic_window(gates) == "1h" and traffic_window([]) == "5m"
