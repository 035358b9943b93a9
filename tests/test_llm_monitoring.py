"""LLM monitoring: alert rules on vLLM's metrics pass ``promtool check rules`` and ``promtool test
rules`` proves each alert fires on a bad series and stays silent on a good one; the dashboard's
panels are split by service (stable vs canary) and use only the metric names servespec knows; the
PodMonitor selects the pods KServe labels."""

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
from llm_repo import LLM_SPEC, make_repo
from promtool_cases import PROMTOOL, _expected, eval_time, promtool
from servespec.emit import emit_env
from servespec.emit.llm_dashboards import PANELS
from servespec.emit.llm_monitoring import LLM_ALERTS
from servespec.metrics import LLMMetricNames
from servespec.project import Project
from servespec.resolve import build_context

needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")
slow = pytest.mark.slow
SAMPLES = 70
PER_MIN = 600
NS = "ml-prod"


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


class LLMCases:
    """Bad and good series for every LLM alert, in the metric names of ``m``."""

    def __init__(self, llm: str, m: LLMMetricNames, objectives: Any):
        self.llm, self.m, self.o = llm, m, objectives

    def sel(self, member: str, **extra: str) -> dict[str, str]:
        return {self.m.target_namespace_label: NS, self.m.member_label: member, "model_name": "qwen", **extra}

    def finished(self, member: str, ok: float, errors: float = 0) -> list[dict[str, str]]:
        m = self.m
        return [{"series": f"{m.requests_finished}{_labels(self.sel(member, **{m.finished_reason_label: 'stop'}))}",
                 "values": f"0+{ok:g}x{SAMPLES}"},
                {"series": f"{m.requests_finished}{_labels(self.sel(member, **{m.finished_reason_label: m.error_reason}))}",
                 "values": f"0+{errors:g}x{SAMPLES}"}]

    def histogram(self, metric: str, member: str, bounds: list[float], slow_from: int) -> list[dict[str, str]]:
        """All observations in bucket ``slow_from`` (0-based) and above."""
        return [{"series": f"{metric}_bucket{_labels(self.sel(member, le=le))}", "values": f"0+{PER_MIN if i >= slow_from else 0}x{SAMPLES}"}
                for i, le in enumerate([*[f"{b:g}" for b in bounds], "+Inf"])]

    def gauge(self, metric: str, value: float) -> list[dict[str, str]]:
        return [{"series": f"{metric}{_labels(self.sel(self.llm, pod=f'{self.llm}-0'))}", "values": f"{value:g}+0x{SAMPLES}"},
                {"series": f"{metric}{_labels(self.sel(self.llm, pod=f'{self.llm}-1'))}", "values": f"0+0x{SAMPLES}"}]

    def scenario(self, alert: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        m, o, llm = self.m, self.o, self.llm
        if alert == "LLMErrorRateHigh":
            bad, good = min(0.9, o.error_ratio * 3), o.error_ratio / 3
            return self.finished(llm, PER_MIN * (1 - bad), PER_MIN * bad), self.finished(llm, PER_MIN * (1 - good), PER_MIN * good)
        if alert in ("LLMTimeToFirstTokenHigh", "LLMTimePerOutputTokenHigh"):
            metric, t = ((m.time_to_first_token, o.ttft_p99_seconds) if alert == "LLMTimeToFirstTokenHigh"
                         else (m.time_per_output_token, o.tpot_p99_seconds))
            bounds = [t / 10, t * 2, t * 5]
            return self.histogram(metric, llm, bounds, 2), self.histogram(metric, llm, bounds, 0)
        if alert == "LLMQueueDepthHigh":
            return self.gauge(m.requests_waiting, o.queue_depth * 2), self.gauge(m.requests_waiting, o.queue_depth // 2)
        if alert == "LLMKVCacheNearlyFull":
            assert o.kv_cache_usage < 1, "an objective of 1 could never fire"
            return self.gauge(m.kv_cache_usage, (o.kv_cache_usage + 1) / 2), self.gauge(m.kv_cache_usage, o.kv_cache_usage / 2)
        if alert == "LLMCanaryTimeToFirstTokenWorse":
            f = o.canary_ttft_factor
            bounds = [0.05, 0.05 * f * 2, 0.05 * f * 10]
            fast = self.histogram(m.time_to_first_token, llm, bounds, 0)
            return (fast + self.histogram(m.time_to_first_token, f"{llm}-canary", bounds, 2),
                    fast + self.histogram(m.time_to_first_token, f"{llm}-canary", bounds, 0))
        raise AssertionError(f"no scenario for {alert}")


def _groups(project: Project, env: str) -> dict[str, dict[str, Any]]:
    """The rule group of each LLM of ``env``, as rendered (PrometheusRule or rule-file ConfigMap)."""
    ctx = build_context(project, env)
    out = {}
    for o in emit_env(ctx):
        if o.model not in ctx.llms:
            continue
        if o.obj["kind"] == "PrometheusRule":
            (out[o.model],) = o.obj["spec"]["groups"]
        elif o.obj["kind"] == "ConfigMap" and o.path.endswith("/prometheus-rules.yaml"):
            (text,) = o.obj["data"].values()
            (out[o.model],) = yaml.safe_load(text)["groups"]
    return out


def _suite(folder: Path, name: str, project: Project, env: str, group: dict[str, Any]) -> Path:
    llm = build_context(project, env).llms[name]
    cases = LLMCases(name, llm.monitoring.metrics, llm.monitoring)
    tests = []
    for rule in group["rules"]:
        bad, good = cases.scenario(rule["alert"])
        at = eval_time(rule)
        tests.append({"interval": "1m", "input_series": bad,
                      "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"], "exp_alerts": [_expected(rule, {})]}]})
        tests.append({"interval": "1m", "input_series": good,
                      "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"], "exp_alerts": []}]})
    (folder / f"{name}.rules.yaml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    test = folder / f"{name}.test.yaml"
    test.write_text(yaml.safe_dump({"rule_files": [f"{name}.rules.yaml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False))
    return test


@pytest.fixture(scope="module")
def example() -> Project:
    return Project.load(REPO)


@slow
@needs_promtool
def test_every_llm_alert_fires_on_bad_series_and_stays_silent_on_good(example: Project, tmp_path: Path) -> None:
    groups = _groups(example, "prod")
    assert sorted(groups) == ["chat-assistant"]
    assert [r["alert"] for r in groups["chat-assistant"]["rules"]] == list(LLM_ALERTS)  # prod's plan has canary steps
    test = _suite(tmp_path, "chat-assistant", example, "prod", groups["chat-assistant"])
    checked = promtool("check", "rules", "chat-assistant.rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0 and "SUCCESS: 6 rules found" in checked.stdout, checked.stdout + checked.stderr
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.count("SUCCESS") == 1, result.stdout + result.stderr


@slow
@needs_promtool
def test_a_broken_threshold_is_caught(example: Project, tmp_path: Path) -> None:
    group = _groups(example, "prod")["chat-assistant"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert rules["LLMTimeToFirstTokenHigh"]["expr"].endswith(" > 2") and rules["LLMKVCacheNearlyFull"]["expr"].endswith(" > 0.95")
    test = _suite(tmp_path, "chat-assistant", example, "prod", group)  # generated from the spec's objectives
    rules["LLMTimeToFirstTokenHigh"]["expr"] = rules["LLMTimeToFirstTokenHigh"]["expr"].replace(" > 2", " > 200")
    (tmp_path / "chat-assistant.rules.yaml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 1 and "LLMTimeToFirstTokenHigh" in result.stdout + result.stderr


@slow
@needs_promtool
def test_without_prometheus_operator_and_without_canary_steps(tmp_path: Path) -> None:
    """A rule-file ConfigMap instead of a PrometheusRule; no canary alert with the plan [100];
    objectives and metric names from the spec."""
    extra = ('rollout=RolloutPlan(steps=[100]), monitoring=LLMMonitoring(ttft_p99_seconds=0.5, queue_depth=4, '
             'metrics=LLMMetricNames(kv_cache_usage="vllm:gpu_cache_usage_perc")),')
    spec = ("from servespec.spec import RolloutPlan, LLMMonitoring\nfrom servespec.metrics import LLMMetricNames\n"
            + LLM_SPEC % {"extra": extra})
    project = Project.load(make_repo(tmp_path / "repo", overlay="monitoring: {prometheusOperator: false}\n", spec=spec))
    kinds = sorted(o.obj["kind"] for o in emit_env(build_context(project, "prod")) if o.model == "chat")
    assert kinds == ["ConfigMap", "ConfigMap", "ExternalSecret", "LLMInferenceService", "ServiceAccount"]
    group = _groups(project, "prod")["chat"]
    assert [r["alert"] for r in group["rules"]] == [a for a in LLM_ALERTS if a != "LLMCanaryTimeToFirstTokenWorse"]
    assert "vllm:gpu_cache_usage_perc{" in group["rules"][4]["expr"]
    test = _suite(tmp_path, "chat", project, "prod", group)
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _dashboard() -> tuple[dict[str, Any], str]:
    cm = yaml.safe_load((REPO / "rendered/prod/models/chat-assistant/dashboard.yaml").read_text())
    (text,) = cm["data"].values()
    return cm, text


def test_dashboard_panels_are_split_by_service_on_known_metric_names() -> None:
    cm, text = _dashboard()
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(text)
    assert [p["title"] for p in board["panels"]] == list(PANELS)
    assert [p["id"] for p in board["panels"]] == list(range(1, len(PANELS) + 1))
    known = {v for k, v in LLMMetricNames().model_dump().items() if isinstance(v, str) and v.startswith("vllm:")}
    for p in board["panels"]:
        refs = [t["refId"] for t in p["targets"]]
        assert all(refs) and len(set(refs)) == len(refs), p["title"]
        for t in p["targets"]:
            assert 'app_kubernetes_io_name=~"chat-assistant|chat-assistant-canary"' in t["expr"], (p["title"], t["expr"])
            assert "{{app_kubernetes_io_name}}" in t["legendFormat"] and "by (" in t["expr"], (p["title"], t["expr"])
            names = {n.removesuffix("_bucket") for n in re.findall(r"(vllm:[a-z0-9_:]+)\{", t["expr"])}
            assert names and names <= known, (p["title"], names - known)
    model = DashboardModel.from_json(board)
    assert json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n" == text


def test_pod_monitor_selects_the_workload_pods_of_stable_and_canary() -> None:
    pm = yaml.safe_load((REPO / "rendered/prod/models/chat-assistant/podmonitor.yaml").read_text())
    # kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/workload.go:166-171 (and @v0.16.0 v1alpha1/llmisvc/workload.go:131-136)
    assert pm["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/part-of": "llminferenceservice", "kserve.io/component": "workload"},
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["chat-assistant", "chat-assistant-canary"]}],
    }
    assert pm["spec"]["podTargetLabels"] == ["app.kubernetes.io/name"]
    # vLLM's port in KServe's presets: kserve/kserve@v0.20.0:config/llmisvcconfig/config-llm-template.yaml:14
    assert pm["spec"]["podMetricsEndpoints"] == [{"path": "/metrics", "scheme": "http", "targetPort": 8000}]
