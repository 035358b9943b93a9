"""Evidence for servespec's default gates: absolute thresholds against canary-vs-stable ones.

For a canary at a 10% step (the stable revision serves 9 requests for each of the canary's), it
computes how often each gate wrongly fails a healthy canary and how often it catches a worse
one, for several canary sample sizes (the canary's requests in the gate window):

- error gates: absolute "canary 5xx ratio <= 1%" (the former default, Flagger's
  request-success-rate >= 99%) against relative "canary ratio - stable ratio <= 0.5 points";
  exact binomial probabilities (no randomness);
- latency gates: absolute "canary p99 <= 500 ms" (the former default, Flagger's
  request-duration) against relative "canary p99 <= 1.2 x stable p99" (and 1.5 x), both computed
  as Prometheus' histogram_quantile does over Knative queue-proxy's latency buckets; a seeded
  Monte Carlo of log-normal latencies (deterministic output).

    python bench/gate_defaults.py            # ~15 s on 2 cores
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

STEP = 0.10
"""Canary share of requests: stable serves (1 - STEP) / STEP requests per canary request."""
SIZES = (50, 100, 200, 500, 1000)
KNATIVE_BUCKETS_MS = (5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600,
                      700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
"""knative/serving@knative-v1.18.0:pkg/queue/request_metric.go:37 (defaultLatencyDistribution)."""
PYTHON_CLIENT_BUCKETS_MS = (5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
"""prometheus_client's default Histogram buckets (in ms here), which KServe's model server uses for
``request_predict_seconds`` (kserve/kserve@v0.15.0:python/kserve/kserve/metrics.py:25): Standard mode."""


def _log_pmf(n: int, k: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)


def _pmf(n: int, p: float) -> list[float]:
    return [math.exp(_log_pmf(n, k, p)) for k in range(n + 1)]


def p_error_gate_fails(n: int, p_canary: float, p_stable: float, margin: float | None) -> float:
    """P(the gate fails): absolute ``X/n > 1%`` (``margin`` None) or relative ``X/n - Y/m > margin``
    (X, Y binomial: the canary's and the stable revision's errors)."""
    canary = _pmf(n, p_canary)
    tail = [0.0] * (n + 2)  # tail[k] = P(X >= k)
    for k in range(n, -1, -1):
        tail[k] = tail[k + 1] + canary[k]
    if margin is None:
        return tail[math.floor(0.01 * n + 1e-9) + 1] if math.floor(0.01 * n + 1e-9) + 1 <= n else 0.0
    m = round(n * (1 - STEP) / STEP)
    total = 0.0
    for y, py in enumerate(_pmf(m, p_stable)):
        if py < 1e-12:
            continue
        limit = n * (margin + y / m)  # fails when X > limit
        first = math.floor(limit + 1e-9) + 1
        total += py * (tail[first] if first <= n else 0.0)
    return total


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float:
    """Prometheus' histogram_quantile over cumulative buckets (promql/quantile.go: linear
    interpolation inside the bucket holding the rank; the +Inf bucket returns the last bound)."""
    total = counts[-1]
    rank = q * total
    prev_bound, prev_count = 0.0, 0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            in_bucket = count - prev_count
            return prev_bound + (bound - prev_bound) * ((rank - prev_count) / in_bucket if in_bucket else 1.0)
        prev_bound, prev_count = bound, count
    return prev_bound


def _sample_counts(rng: random.Random, n: int, median_ms: float, sigma: float, bounds: Sequence[float]) -> list[int]:
    per = [0] * len(bounds)
    mu = math.log(median_ms)
    for _ in range(n):
        v = rng.lognormvariate(mu, sigma)
        for i, b in enumerate(bounds):
            if v <= b:
                per[i] += 1
                break
    cumulative, acc = [], 0
    for c in per:
        acc += c
        cumulative.append(acc)
    return cumulative


def latency_rates(n: int, slowdown: float, trials: int, seed: int, buckets: Sequence[int] = KNATIVE_BUCKETS_MS) -> tuple[float, float, float]:
    """(P(abs fails), P(rel 1.2 fails), P(rel 1.5 fails)) for a canary ``slowdown`` times slower."""
    rng = random.Random(seed)
    bounds = [*map(float, buckets), math.inf]
    m = round(n * (1 - STEP) / STEP)
    median, sigma = 40.0, 0.5  # p99 ~ 128 ms: a typical small model
    fails = [0, 0, 0]
    for _ in range(trials):
        c = histogram_quantile(0.99, bounds, _sample_counts(rng, n, median * slowdown, sigma, bounds))
        s = histogram_quantile(0.99, bounds, _sample_counts(rng, m, median, sigma, bounds))
        fails[0] += c > 500
        fails[1] += c > 1.2 * s
        fails[2] += c > 1.5 * s
    return fails[0] / trials, fails[1] / trials, fails[2] / trials


def main() -> None:
    print("ERROR GATES at a 10% step: P(gate fails), exact binomial")
    print(f"{'canary requests':>16} | {'scenario':<34} | {'abs <= 1%':>9} | {'rel <= +0.5pt':>13} | {'rel <= +1pt':>11}")
    scenarios = [("healthy, both at 0.1%", 0.001, 0.001), ("healthy, both at 0.5%", 0.005, 0.005),
                 ("healthy, both at 3% (old model)", 0.03, 0.03), ("worse: 0.1% -> 2%", 0.02, 0.001),
                 ("worse: 3% -> 6%", 0.06, 0.03), ("slightly worse: 0.1% -> 1.1%", 0.011, 0.001),
                 ("worse: 0.1% -> 3%", 0.03, 0.001)]
    for n in SIZES:
        for label, pc, ps in scenarios:
            a, r05, r1 = (p_error_gate_fails(n, pc, ps, m) for m in (None, 0.005, 0.01))
            print(f"{n:>16} | {label:<34} | {a:>9.4f} | {r05:>13.4f} | {r1:>11.4f}")
    print()
    for title, buckets, sizes in (("Knative queue-proxy buckets", KNATIVE_BUCKETS_MS, (100, 200, 500, 1000)),
                                  ("model server (Standard mode) buckets", PYTHON_CLIENT_BUCKETS_MS, (200, 500))):
        print(f"LATENCY GATES at a 10% step, {title}, log-normal (median 40 ms, sigma 0.5: p99 ~128 ms); 300 trials each")
        print(f"{'canary requests':>16} | {'canary':<14} | {'abs <= 500ms':>12} | {'rel <= 1.2x':>11} | {'rel <= 1.5x':>11}")
        for n in sizes:
            for slowdown in (1.0, 1.5, 2.0):
                a, r12, r15 = latency_rates(n, slowdown, 300, seed=n * 10 + int(slowdown * 10), buckets=buckets)
                label = f"{slowdown:g}x slower" if slowdown != 1 else "healthy"
                print(f"{n:>16} | {label:<14} | {a:>12.3f} | {r12:>11.3f} | {r15:>11.3f}")
        print()


if __name__ == "__main__":
    main()
