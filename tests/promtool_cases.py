"""``promtool test rules`` suites generated for the rule group of a model.

For every alert of the group, one test feeds a *bad* series and expects the alert to fire (with
its exact labels and annotations), and one feeds a *good* series and expects silence. Series are
written with the environment's metric names (``servespec.metrics.MetricNames``), so an
environment that overrides names is tested with its own names.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from servespec.resolve import EnvContext
from servespec.promql import Queries
from servespec.spec import Model

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SAMPLES = 70
"""Length of every generated series, in minutes (enough for windows and ``for``s up to 30m each)."""
PER_MIN = 600
"""Requests per minute of the generated series (10/s)."""


def _num(value: float) -> str:
    return f"{value:g}"


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def _counter(per_min: float) -> str:
    return f"0+{_num(per_min)}x{SAMPLES}"


class Cases:
    """Series builders for one model in one environment."""

    def __init__(self, ctx: EnvContext, model: Model):
        self.q = Queries(model.name, model.deployment_mode, ctx.namespace, ctx.env.overlay.monitoring.metrics)
        self.m = self.q.m
        self.model = model
        self.rev1 = f"{model.name}-predictor-00001"
        self.rev2 = f"{model.name}-predictor-00002"

    # -- series ------------------------------------------------------------------------------
    def _qp(self, rev: str, **extra: str) -> dict[str, str]:
        m = self.m
        return {m.target_namespace_label: self.q.namespace, m.service_label: self.q.service, m.revision_label: rev, **extra}

    def requests(self, rev: str, ok: float, errors: float = 0) -> list[dict[str, str]]:
        """Request counters of one revision (Knative: queue-proxy; Standard: predict count)."""
        m = self.m
        if not self.q.knative:
            sel = {m.target_namespace_label: self.q.namespace, m.model_name_label: self.model.name}
            return [{"series": f"{m.predict_seconds}_count{_labels(sel)}", "values": _counter(ok + errors)}]
        out = [{"series": f"{m.request_count}{_labels(self._qp(rev, **{m.response_code_class_label: '2xx'}))}", "values": _counter(ok)}]
        out.append({"series": f"{m.request_count}{_labels(self._qp(rev, **{m.response_code_class_label: m.error_class}))}",
                    "values": _counter(errors)})
        return out

    def latency(self, rev: str, bounds: list[float], slow_from: int) -> list[dict[str, str]]:
        """A latency histogram whose observations all fall in bucket ``slow_from`` (0-based)."""
        m = self.m
        if self.q.knative:
            name, sel = f"{m.request_latencies}_bucket", self._qp(rev)
        else:
            name, sel = f"{m.predict_seconds}_bucket", {m.target_namespace_label: self.q.namespace, m.model_name_label: self.model.name}
        out = []
        for i, le in enumerate([*[_num(b) for b in bounds], "+Inf"]):
            out.append({"series": f"{name}{_labels({**sel, 'le': le})}", "values": _counter(PER_MIN if i >= slow_from else 0)})
        return out

    def pods(self, up: int, down: int) -> list[dict[str, str]]:
        m = self.m
        out = []
        for i in range(up + down):
            sel = {m.target_namespace_label: self.q.namespace, m.pod_label: f"{self.rev1}-deployment-{i}"}
            out.append({"series": f"{m.up}{_labels(sel)}", "values": f"{1 if i < up else 0}+0x{SAMPLES}"})
        return out

    # -- scenarios: (bad series, good series, extra labels of the firing alert) ----------------
    def scenario(self, alert: str) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, str]]:
        mon = self.model.monitoring
        if alert == "ModelErrorRateHigh":
            bad = min(0.95, mon.error_rate.objective * 3)
            good = mon.error_rate.objective / 3
            return (self.requests(self.rev1, PER_MIN * (1 - bad), PER_MIN * bad),
                    self.requests(self.rev1, PER_MIN * (1 - good), PER_MIN * good), {})
        if alert == "ModelLatencyP99High":
            t = self.q.ms_to_latency_unit(mon.latency.p99_ms)
            bounds = [t / 10, t * 2, t * 5]
            return (self.latency(self.rev1, bounds, 2) + self.requests(self.rev1, PER_MIN),
                    self.latency(self.rev1, bounds, 0) + self.requests(self.rev1, PER_MIN), {})
        if alert == "ModelCanaryErrorRateWorse":
            bad = min(0.95, mon.canary.error_margin * 3)
            stable = self.requests(self.rev1, PER_MIN)
            return (stable + self.requests(self.rev2, PER_MIN * (1 - bad), PER_MIN * bad),
                    stable + self.requests(self.rev2, PER_MIN), {self.m.revision_label: self.rev2})
        if alert == "ModelCanaryLatencyWorse":
            f = mon.canary.latency_factor
            base = self.q.ms_to_latency_unit(10)
            bounds = [base, base * f * 2, base * f * 10]
            both = self.requests(self.rev1, PER_MIN) + self.requests(self.rev2, PER_MIN)
            fast = self.latency(self.rev1, bounds, 0)
            return (both + fast + self.latency(self.rev2, bounds, 2),
                    both + fast + self.latency(self.rev2, bounds, 0), {self.m.revision_label: self.rev2})
        if alert == "ModelNoTraffic":
            flat = [{**s, "values": f"600+0x{SAMPLES}"} for s in self.requests(self.rev1, PER_MIN)]
            return flat, self.requests(self.rev1, PER_MIN), {}
        if alert == "ModelReplicasBelowMinimum":
            n = self.model.predictor.min_replicas
            return self.pods(n - 1, 1), self.pods(n, 0), {}
        raise AssertionError(f"no scenario for {alert}")


def _minutes(duration: str) -> int:
    total = 0
    for number, unit in re.findall(r"(\d+)(ms|[smhdwy])", duration):
        total += int(number) * {"ms": 0, "s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}[unit]
    return math.ceil(total)


def eval_time(rule: dict[str, Any]) -> str:
    """Soon after the alert can fire: its longest range plus its ``for``, plus two minutes
    (each test evaluates every rule of the group once a minute up to here: keep it short)."""
    ranges = [_minutes(r) for r in re.findall(r"\[([0-9a-z]+)\]", rule["expr"])]
    minutes = max(ranges, default=0) + _minutes(rule["for"]) + 2
    assert minutes < SAMPLES, f"{rule['alert']}: lengthen SAMPLES to cover {minutes}m"
    return f"{minutes}m"


def _expected(rule: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    annotations = dict(rule["annotations"])
    for key, label in extra.items():
        annotations = {k: v.replace(f"{{{{ $labels.{key} }}}}", label) for k, v in annotations.items()}
    return {"exp_labels": {**rule["labels"], **extra}, "exp_annotations": annotations}


def suite_for(ctx: EnvContext, model: Model, group: dict[str, Any], rule_file: str) -> dict[str, Any]:
    """A promtool test file for ``group``: a firing and a silent test per alert."""
    cases = Cases(ctx, model)
    tests = []
    for rule in group["rules"]:
        bad, good, extra = cases.scenario(rule["alert"])
        at = eval_time(rule)
        tests.append({"interval": "1m", "input_series": bad, "alert_rule_test": [
            {"eval_time": at, "alertname": rule["alert"], "exp_alerts": [_expected(rule, extra)]}]})
        tests.append({"interval": "1m", "input_series": good, "alert_rule_test": [
            {"eval_time": at, "alertname": rule["alert"], "exp_alerts": []}]})
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def write_suite(folder: Path, name: str, ctx: EnvContext, model: Model, group: dict[str, Any]) -> Path:
    """Write the rule file (the plain ``groups:`` a PrometheusRule wraps) and its test file."""
    rules = folder / f"{name}.rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    test = folder / f"{name}.test.yaml"
    test.write_text(yaml.safe_dump(suite_for(ctx, model, group, rules.name), sort_keys=False))
    return test


def promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
