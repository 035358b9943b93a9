"""Evaluate rollout gates against Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

One gate = one query with its placeholders filled in. ``samples: 1`` is one instant query now;
``samples: N`` is a range query over the last ``(N-1) * interval`` at step ``interval``, each
point one check (a point where no series has a value is a no-data check). Every value of every
series at a point must be within ``[min, max]``; NaN counts as no data; no data counts as a
failure unless ``onNoData: pass``. The gate passes when at most ``failureLimit`` checks failed.

An unreachable Prometheus fails the gate (exit 1, nothing committed); a query Prometheus rejects
as malformed is bad input (exit 2).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, SpecError
from ..metrics import DEFAULT_METRICS, MetricNames
from ..promql import default_gate_queries, fill
from ..spec.base import parse_duration
from ..spec.rollout import Gate, RolloutPlan

__all__ = ["GateResult", "evaluate_gates", "render_query", "summarize", "PrometheusClient", "effective_gates"]


@dataclass
class GateResult:
    """The outcome of one gate, with the numbers behind it."""

    gate: Gate
    query: str
    values: list[float | None] = field(default_factory=list)
    """One entry per check: the worst value at that point, None for no data / NaN."""
    failed: int = 0
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.failed <= self.gate.failure_limit

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


def _num(v: float) -> str:
    return f"{v:.6g}"


def summarize(results: list[GateResult]) -> str:
    return " ".join(r.short() for r in results)


def effective_gates(plan: RolloutPlan, deployment_mode: str, metrics: MetricNames = DEFAULT_METRICS) -> list[Gate]:
    """The plan's gates, or the defaults for ``deployment_mode`` (``promql.default_gate_queries``)."""
    if plan.gates is not None:
        return list(plan.gates)
    return [Gate(name=d.name, query=d.query, max=d.max) for d in default_gate_queries(deployment_mode, metrics)]


def render_query(gate: Gate, namespace: str, model: str, candidate_uri: str, metrics: MetricNames = DEFAULT_METRICS) -> str:
    """The gate's PromQL with placeholders filled for one candidate."""
    return fill(gate.query, namespace, model, gate.window, candidate_uri, metrics)


class PrometheusClient:
    """The two read endpoints gates need, over urllib (no dependency)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
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
                raise _Unreachable(f"Prometheus at {self.url} answered HTTP {exc.code}") from None
            if body.get("errorType") == "bad_data":
                raise SpecError(Problem("", None, "query", f"Prometheus rejected {params.get('query')!r}: {body.get('error')}")) from None
            raise _Unreachable(f"Prometheus at {self.url} answered HTTP {exc.code}: {body.get('error')}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Unreachable(f"cannot query Prometheus at {self.url}: {reason}") from None
        if body.get("status") != "success":
            raise _Unreachable(f"Prometheus at {self.url}: {body.get('error', 'unexpected answer')}")
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


class _Unreachable(Exception):
    pass


def _values(data: dict[str, Any]) -> list[float]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [float(result[1])]
    return [float(s["value"][1]) for s in result or []]


def evaluate_gates(url: str, gates: list[Gate], namespace: str, model: str, candidate_uri: str,
                   metrics: MetricNames = DEFAULT_METRICS, now: float | None = None) -> tuple[bool, list[GateResult]]:
    """Evaluate every gate (no short-cut: all numbers are reported); (all passed, results)."""
    client = PrometheusClient(url)
    at = time.time() if now is None else now
    results = []
    for gate in gates:
        query = render_query(gate, namespace, model, candidate_uri, metrics)
        result = GateResult(gate, query)
        try:
            if gate.samples == 1:
                points = client.instant(query, at)
                stamps = [at]
            else:
                step = parse_duration(gate.interval)
                start = at - step * (gate.samples - 1)
                points = client.range(query, start, at, step)
                stamps = [round(start + i * step, 3) for i in range(gate.samples)]
        except _Unreachable as exc:
            result.error = str(exc)
            results.append(result)
            continue
        except SpecError as exc:
            raise SpecError([Problem(p.file, p.line, f"gate {gate.name}", p.message) for p in exc.problems]) from None
        for ts in stamps:
            vals = [v for v in points.get(ts, []) if not math.isnan(v)]
            if not vals:
                result.values.append(None)
                result.failed += gate.on_no_data == "fail"
                continue
            bad = [v for v in vals if (gate.min is not None and v < gate.min) or (gate.max is not None and v > gate.max)]
            worst = (max(bad, key=lambda v: abs(v)) if bad else (max(vals) if gate.max is not None else min(vals)))
            result.values.append(worst)
            result.failed += bool(bad)
        results.append(result)
    return all(r.passed for r in results), results
