"""Evaluate rollout gates against Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

One gate = one query with its placeholders filled in. ``samples: 1`` is one instant query now;
``samples: N`` is a range query over the last ``(N-1) * interval`` at step ``interval``, each
point one check (a point where no series has a value is a no-data check). Every value of every
series at a point must be within ``[min, max]``; NaN counts as no data; no data counts as a
failure unless ``onNoData: pass``. The gate passes when at most ``failureLimit`` checks failed;
it fails *decisively* when more than ``failureLimit`` checks had a value out of bounds (no-data
checks are missing evidence, never a reason to roll back).

Before gates judge a canary, two more queries say whether it can be judged at all: its share of
the model's requests and its request count over the gate window (``promql.traffic_queries``).
Every query of a promote runs concurrently, each bounded by the plan's ``queryTimeout``. An
unreachable Prometheus is missing evidence (exit 1, nothing committed); a query Prometheus
rejects as malformed is bad input (exit 2).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, SpecError
from ..metrics import DEFAULT_METRICS, MetricNames
from ..promql import default_gate_queries, fill, traffic_queries
from ..secretscan import redact_url
from ..spec import Model
from ..spec.base import parse_duration
from ..spec.rollout import Gate, RolloutPlan

__all__ = ["GateResult", "Traffic", "Evidence", "Target", "evaluate_gates", "collect_evidence", "render_query", "summarize",
           "PrometheusClient", "effective_gates", "traffic_window", "Unreachable"]


@dataclass
class GateResult:
    """The outcome of one gate, with the numbers behind it."""

    gate: Gate
    query: str
    values: list[float | None] = field(default_factory=list)
    """One entry per check: the worst value at that point, None for no data / NaN."""
    failed: int = 0
    error: str = ""
    no_data_failed: int = 0
    """Failed checks that failed for want of data (``onNoData: fail``): missing evidence."""

    @property
    def passed(self) -> bool:
        return not self.error and self.failed <= self.gate.failure_limit

    @property
    def decisive(self) -> bool:
        """Failed on values out of bounds alone (not on missing data or an unreachable Prometheus)."""
        return not self.error and self.failed - self.no_data_failed > self.gate.failure_limit

    def bounds(self) -> str:
        g = self.gate
        if g.min is not None and g.max is not None:
            return f"in [{_num(g.min)}, {_num(g.max)}]"
        if g.max is not None:
            return f"<= {_num(g.max)}"
        assert g.min is not None  # a gate has min, max or both
        return f">= {_num(g.min)}"

    def __str__(self) -> str:
        g = self.gate
        verdict = "passed" if self.passed else "FAILED"
        if self.error:
            return f"gate {g.name}: FAILED: {self.error}"
        shown = ", ".join("no data" if v is None else _num(v) for v in self.values[:10])
        more = f", ... ({len(self.values)} checks)" if len(self.values) > 10 else ""
        nodata = sum(v is None for v in self.values)
        why = f"; {nodata} without data (onNoData: {g.on_no_data})" if nodata else ""
        return (f"gate {g.name}: {verdict}: value {shown}{more}, expected {self.bounds()} over {g.window}; "
                f"{self.failed} of {len(self.values)} checks failed, {g.failure_limit} tolerated{why}")

    def short(self) -> str:
        """``name=value`` (worst value) or ``name=nodata``/``name=error`` for trailers."""
        vals = [v for v in self.values if v is not None]
        if self.error:
            return f"{self.gate.name}=error"
        if not vals:
            return f"{self.gate.name}=nodata"
        worst = max(vals) if self.gate.max is not None else min(vals)
        return f"{self.gate.name}={_num(worst)}"

    def reason(self) -> str:
        """The decisive failure in a few words: ``error-rate-increase 0.05 > 0.01 over 5m``."""
        g = self.gate
        high = [v for v in self.values if v is not None and g.max is not None and v > g.max]
        low = [v for v in self.values if v is not None and g.min is not None and v < g.min]
        if high:
            return f"{g.name} {_num(max(high))} > {_num(g.max or 0)} over {g.window}"
        if low:
            return f"{g.name} {_num(min(low))} < {_num(g.min or 0)} over {g.window}"
        return f"{g.name} {self.short().partition('=')[2]} over {g.window}"


def _num(v: float) -> str:
    return f"{v:.6g}"


def summarize(results: list[GateResult]) -> str:
    return " ".join(r.short() for r in results)


@dataclass(frozen=True)
class Traffic:
    """What Prometheus says of the canary's traffic over ``window``."""

    window: str
    share: float | None
    """The canary's fraction of the model's requests; None: the model had no requests."""
    requests: float | None
    """Requests the canary served; None: no series at all."""


@dataclass
class Evidence:
    """Everything a promote decides on: the canary's traffic and one result per gate."""

    traffic: Traffic | None
    results: list[GateResult]
    error: str = ""
    """Why Prometheus could not be asked (unreachable, timed out): no decision can be made."""


@dataclass(frozen=True)
class Target:
    """What the queries of one model's canary are about."""

    namespace: str
    model: str
    deployment_mode: str
    candidate_uri: str
    metrics: MetricNames = DEFAULT_METRICS


def effective_gates(plan: RolloutPlan, model: Model, metrics: MetricNames = DEFAULT_METRICS) -> list[Gate]:
    """The plan's gates, or the defaults for the model's deployment mode, with the thresholds of
    its canary alerts (``promql.default_gate_queries``)."""
    if plan.gates is not None:
        return list(plan.gates)
    canary = model.monitoring.canary
    defaults = default_gate_queries(model.deployment_mode, metrics, error_margin=canary.error_margin,
                                    latency_factor=canary.latency_factor)
    return [Gate(name=d.name, query=d.query, max=d.max) for d in defaults]


def traffic_window(gates: list[Gate]) -> str:
    """The window of the traffic checks: the longest gate window (``5m`` without gates)."""
    return max((g.window for g in gates), key=parse_duration, default="5m")


def render_query(gate: Gate, target: Target) -> str:
    """The gate's PromQL with placeholders filled for one candidate."""
    return fill(gate.query, target.namespace, target.model, gate.window, target.candidate_uri, target.metrics,
                target.deployment_mode)


class Unreachable(Exception):
    """Prometheus could not answer (connection, timeout, server error): missing evidence."""


class PrometheusClient:
    """The two read endpoints gates need, over urllib (no dependency)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.shown = redact_url(self.url)
        """The URL as printed: userinfo and secret query values replaced by ``***``."""
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> Any:
        full = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(full, timeout=self.timeout) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise Unreachable(f"Prometheus at {self.shown} answered HTTP {exc.code}") from None
            if body.get("errorType") == "bad_data":
                raise SpecError(Problem("", None, "query", f"Prometheus rejected {params.get('query')!r}: {body.get('error')}")) from None
            raise Unreachable(f"Prometheus at {self.shown} answered HTTP {exc.code}: {body.get('error')}") from None
        except TimeoutError:
            raise Unreachable(f"Prometheus at {self.shown} did not answer within {self.timeout:g}s (queryTimeout)") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise Unreachable(f"Prometheus at {self.shown} did not answer within {self.timeout:g}s (queryTimeout)") from None
            raise Unreachable(f"cannot query Prometheus at {self.shown}: {reason}") from None
        if body.get("status") != "success":
            raise Unreachable(f"Prometheus at {self.shown}: {body.get('error', 'unexpected answer')}")
        return body["data"]

    def instant(self, query: str, at: float) -> dict[float, list[float]]:
        data = self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"})
        return {at: _values(data)}

    def range(self, query: str, start: float, end: float, step: float) -> dict[float, list[float]]:
        data = self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
        points: dict[float, list[float]] = {}
        for series in data.get("result", []):
            for ts, value in series.get("values", []):
                points.setdefault(round(float(ts), 3), []).append(float(value))
        return points


def _values(data: dict[str, Any]) -> list[float]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [float(result[1])]
    return [float(s["value"][1]) for s in result or []]


def _judge(gate: Gate, query: str, points: dict[float, list[float]], stamps: list[float]) -> GateResult:
    result = GateResult(gate, query)
    for ts in stamps:
        vals = [v for v in points.get(ts, []) if not math.isnan(v)]
        if not vals:
            result.values.append(None)
            missing = gate.on_no_data == "fail"
            result.failed += missing
            result.no_data_failed += missing
            continue
        bad = [v for v in vals if (gate.min is not None and v < gate.min) or (gate.max is not None and v > gate.max)]
        worst = (max(bad, key=lambda v: abs(v)) if bad else (max(vals) if gate.max is not None else min(vals)))
        result.values.append(worst)
        result.failed += bool(bad)
    return result


def _gate_job(client: PrometheusClient, gate: Gate, query: str, at: float) -> Callable[[], GateResult]:
    def run() -> GateResult:
        if gate.samples == 1:
            return _judge(gate, query, client.instant(query, at), [at])
        step = parse_duration(gate.interval)
        start = at - step * (gate.samples - 1)
        points = client.range(query, start, at, step)
        return _judge(gate, query, points, [round(start + i * step, 3) for i in range(gate.samples)])
    return run


def _scalar(client: PrometheusClient, query: str, at: float) -> Callable[[], float | None]:
    def run() -> float | None:
        vals = [v for v in client.instant(query, at)[at] if not math.isnan(v)]
        return vals[0] if vals else None
    return run


def collect_evidence(url: str, gates: list[Gate], target: Target, *, traffic: bool = True, timeout: float = 10.0,
                     now: float | None = None) -> Evidence:
    """Ask Prometheus everything at once: every gate and (with ``traffic``) the canary's share
    and request count over :func:`traffic_window`. All queries run concurrently, each within
    ``timeout`` seconds; an unreachable Prometheus is reported in ``Evidence.error``, a rejected
    query raises ``SpecError`` naming the gate."""
    client = PrometheusClient(url, timeout)
    at = time.time() if now is None else now
    queries = [render_query(g, target) for g in gates]
    window = traffic_window(gates)
    tq = traffic_queries(target.deployment_mode, target.namespace, target.model, target.candidate_uri, window, target.metrics)
    with ThreadPoolExecutor(max_workers=len(gates) + 2) as pool:
        gate_futures = [pool.submit(_gate_job(client, g, q, at)) for g, q in zip(gates, queries, strict=True)]
        share = pool.submit(_scalar(client, tq.share, at)) if traffic else None
        count = pool.submit(_scalar(client, tq.requests, at)) if traffic else None
    results: list[GateResult] = []
    problems: list[Problem] = []
    errors: list[str] = []
    for gate, query, future in zip(gates, queries, gate_futures, strict=True):
        try:
            results.append(future.result())
        except Unreachable as exc:
            results.append(GateResult(gate, query, error=str(exc)))
            errors.append(str(exc))
        except SpecError as exc:
            problems.extend(Problem(p.file, p.line, f"gate {gate.name}", p.message) for p in exc.problems)
    if problems:
        raise SpecError(problems)
    seen: Traffic | None = None
    if share is not None and count is not None:
        try:
            seen = Traffic(window, share.result(), count.result())
        except Unreachable as exc:
            errors.append(str(exc))
    return Evidence(seen, results, errors[0] if errors else "")


def evaluate_gates(url: str, gates: list[Gate], target: Target, *, timeout: float = 10.0,
                   now: float | None = None) -> tuple[bool, list[GateResult]]:
    """Evaluate every gate (no short-cut: all numbers are reported, queries concurrent); (all passed, results)."""
    evidence = collect_evidence(url, gates, target, traffic=False, timeout=timeout, now=now)
    return all(r.passed for r in evidence.results), evidence.results
