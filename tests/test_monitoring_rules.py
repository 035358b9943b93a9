"""Alert rules: every generated group passes ``promtool check rules``, and ``promtool test rules``
proves each alert fires on a bad series and stays silent on a good one (Debian's promtool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import copy_example
from promtool_cases import PROMTOOL, promtool, write_suite
from servespec.emit import emit_env
from servespec.resolve import build_context
from servespec.resolve import EnvContext
from servespec.emit.monitoring import ALERTS
from servespec.project import Project

pytestmark = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")


def _groups(ctx: EnvContext) -> dict[str, dict[str, Any]]:
    """Rule group of each model, as rendered: PrometheusRule ``spec`` or the ConfigMap's rule file."""
    out = {}
    for o in emit_env(ctx):
        if o.model not in ctx.models:
            continue  # an LLM's rules (vLLM's metrics): tests/test_llm_monitoring.py
        if o.obj["kind"] == "PrometheusRule":
            (group,) = o.obj["spec"]["groups"]
            out[o.model] = group
        elif o.obj["kind"] == "ConfigMap" and o.path.endswith("/prometheus-rules.yaml"):
            (text,) = o.obj["data"].values()
            (group,) = yaml.safe_load(text)["groups"]
            out[o.model] = group
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(copy_example(tmp_path_factory.mktemp("rules") / "repo"))


@pytest.mark.slow
def test_every_model_of_every_env_has_rules_that_promtool_accepts(project: Project, tmp_path: Path) -> None:
    files = []
    for env in project.envs:
        ctx = build_context(project, env)
        groups = _groups(ctx)
        assert sorted(groups) == sorted(ctx.models), env
        for model, group in groups.items():
            path = tmp_path / f"{env}-{model}.yaml"
            path.write_text(yaml.safe_dump({"groups": [group]}))
            files.append(path)
    result = promtool("check", "rules", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files) == 15


@pytest.mark.slow
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_alert_fires_on_bad_series_and_stays_silent_on_good(project: Project, env: str, tmp_path: Path) -> None:
    ctx = build_context(project, env)
    tests = [write_suite(tmp_path, name, ctx, ctx.models[name], group) for name, group in _groups(ctx).items()]
    result = promtool("test", "rules", *tests, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests) == 5


def test_the_example_exercises_every_alert(project: Project) -> None:
    seen = {r["alert"] for env in project.envs for g in _groups(build_context(project, env)).values() for r in g["rules"]}
    assert seen == set(ALERTS)


@pytest.mark.slow
def test_a_broken_threshold_is_caught(project: Project, tmp_path: Path) -> None:
    ctx = build_context(project, "staging")
    group = _groups(ctx)["census-income"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert rules["ModelErrorRateHigh"]["expr"].endswith(" > 0.01")
    assert rules["ModelLatencyP99High"]["expr"].endswith(" > 1000")
    # the tests are generated from the SLOs in the spec; break the rendered thresholds
    test = write_suite(tmp_path, "census-income", ctx, ctx.models["census-income"], group)
    rules["ModelErrorRateHigh"]["expr"] = rules["ModelErrorRateHigh"]["expr"].replace(" > 0.01", " > 0.5")
    rules["ModelLatencyP99High"]["expr"] = rules["ModelLatencyP99High"]["expr"].replace(" > 1000", " > 100000")
    (tmp_path / "census-income.rules.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 1
    assert 'alertname: ModelErrorRateHigh' in result.stderr + result.stdout
    assert 'alertname: ModelLatencyP99High' in result.stderr + result.stdout
    assert "FAILED" in result.stderr + result.stdout


@pytest.mark.slow
def test_overridden_metric_names_reach_rules_and_pass_their_tests(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    staging = root / "overlays" / "staging.yaml"
    staging.write_text(staging.read_text().replace(
        "monitoring: {", "monitoring: {metrics: {requestCount: request_count, requestLatencies: request_latencies}, ", 1))
    project = Project.load(root, ["staging"])
    ctx = build_context(project, "staging")
    group = _groups(ctx)["census-income"]
    exprs = " ".join(r["expr"] for r in group["rules"])
    assert "request_count{" in exprs and "revision_request_count" not in exprs
    assert "request_latencies_bucket{" in exprs and "revision_request_latencies" not in exprs
    test = write_suite(tmp_path, "census-income", ctx, ctx.models["census-income"], group)
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_slo_thresholds_from_the_spec_reach_the_rules(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    spec = root / "specs" / "census_income.py"
    spec.write_text(spec.read_text()
                    .replace("from servespec.spec import Logger,", "from servespec.spec import ErrorRateObjective, LatencyObjective, Monitoring, Logger,")
                    .replace('    logger=Logger(mode="all"),', '    logger=Logger(mode="all"),\n    monitoring=Monitoring(error_rate=ErrorRateObjective(objective=0.05), latency=LatencyObjective(p99_ms=250), severity="critical"),'))
    project = Project.load(root, ["staging"])
    ctx = build_context(project, "staging")
    group = _groups(ctx)["census-income"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert rules["ModelErrorRateHigh"]["expr"].endswith(" > 0.05")
    assert rules["ModelLatencyP99High"]["expr"].endswith(" > 250")
    assert rules["ModelNoTraffic"]["labels"]["severity"] == "critical"
    test = write_suite(tmp_path, "census-income", ctx, ctx.models["census-income"], group)
    result = promtool("test", "rules", test, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scale_to_zero_models_expect_no_traffic_unless_asked(project: Project) -> None:
    ctx = build_context(project, "prod")
    groups = _groups(ctx)
    assert ctx.models["sklearn-iris"].predictor.min_replicas == 0
    assert "ModelNoTraffic" not in {r["alert"] for r in groups["sklearn-iris"]["rules"]}
    assert "ModelReplicasBelowMinimum" not in {r["alert"] for r in groups["sklearn-iris"]["rules"]}
    assert "ModelNoTraffic" in {r["alert"] for r in groups["census-income"]["rules"]}
    # Standard mode has no queue-proxy: no error ratio, no canary comparison
    assert {r["alert"] for r in groups["fraud-detector"]["rules"]} == {"ModelLatencyP99High", "ModelNoTraffic", "ModelReplicasBelowMinimum"}
