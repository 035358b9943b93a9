"""Canary rollout plans: traffic steps, bake time and metric gates.

A plan is ordered traffic steps ending at 100 (``[10, 25, 50, 100]``; dev: ``[100]``), an
optional minimum bake time at each step, and gates. A gate is a PromQL query with bounds
(``min``/``max``, Flagger's ``thresholdRange``), the evaluation window, what no data or NaN means
(failure by default, as Flagger does) and how many failed checks are tolerated (Argo Rollouts'
``failureLimit``). Query placeholders (``$name``, string.Template syntax, since PromQL uses
braces): ``$namespace``, ``$model``, ``$window``, ``$version`` (the candidate's version id) and
``$canary`` (the label matcher selecting the candidate revision's series only,
``serving_servespec_io_version="v3f2a..."``: see ``metrics.py``).
"""

from __future__ import annotations

import re
from string import Template
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, field_validator, model_validator

from ..metrics import DEFAULT_METRICS, MetricNames
from .base import Name, NonNegativeInt, PositiveInt, SpecModel

__all__ = ["RolloutPlan", "EnvRollout", "Gate", "Step", "Duration", "parse_duration", "default_gates", "PLACEHOLDERS"]

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS = (7 * 86400, 86400, 3600, 60, 1, 0.001)
PLACEHOLDERS = ("namespace", "model", "window", "version", "canary")


def parse_duration(value: str) -> float:
    """A Prometheus duration (``"30s"``, ``"5m"``, ``"1h30m"``) in seconds."""
    m = _DURATION.match(value)
    if not value or not m or not any(m.groups()):
        raise ValueError(f"expected a duration such as \"30s\", \"5m\" or \"1h30m\", found {value!r}")
    return sum(int(g) * u for g, u in zip(m.groups(), _UNITS) if g)


def _duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]
"""A Prometheus duration string: ``30s``, ``5m``, ``1h30m``, ``1d``."""


class Gate(SpecModel):
    """A metric check the candidate must pass before its traffic grows."""

    name: Name
    """Short name, shown in messages and commit trailers (``error-rate``)."""
    query: str
    """PromQL returning the value to check; see the module doc for placeholders."""
    min: float | None = None
    """Lowest acceptable value (inclusive)."""
    max: float | None = None
    """Highest acceptable value (inclusive)."""
    window: Duration = "5m"
    """Evaluation window: the range of ``$window`` in the query (e.g. ``rate(...[$window])``)."""
    samples: PositiveInt = 1
    """Checks per evaluation: 1 = one instant query now; N = N points ``interval`` apart ending now."""
    interval: Duration = "1m"
    """Spacing of the checks when ``samples`` > 1."""
    on_no_data: Literal["fail", "pass"] = "fail"
    """What an empty result or NaN (0/0 at low traffic) counts as."""
    failure_limit: NonNegativeInt = 0
    """Failed checks tolerated per evaluation (0: every check must pass)."""

    @field_validator("query")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            Template(value).substitute({k: "x" for k in PLACEHOLDERS})
        except (KeyError, ValueError) as exc:
            raise ValueError(f"expected only the placeholders ${', $'.join(PLACEHOLDERS)} in the query, found a bad one ({exc})") from None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> "Gate":
        if self.min is None and self.max is None:
            raise ValueError("expected min, max or both, found neither")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"expected min <= max, found min {self.min} > max {self.max}")
        if self.failure_limit >= self.samples:
            raise ValueError(f"expected failureLimit < samples ({self.samples}), found {self.failure_limit}: the gate could never fail")
        return self


class Step(SpecModel):
    """One traffic step with its own bake time."""

    traffic: int
    """Percent of traffic to the candidate."""
    bake_time: Duration | None = None
    """Minimum time at this step before the next promote (overrides the plan's)."""


class RolloutPlan(SpecModel):
    """Ordered traffic steps a candidate moves through; the last step must be 100."""

    steps: list[Union[int, Step]] = [10, 25, 50, 100]
    """Canary traffic percentages, strictly increasing, ending at 100 (``[100]``: no canary)."""
    bake_time: Duration | None = None
    """Minimum time at each step before promote moves on; unset: none."""
    gates: list[Gate] | None = None
    """Gates checked before every promote; unset: the defaults of the model's deployment mode
    (``default_gates``); ``[]``: none."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int | Step]) -> list[int | Step]:
        pct = [s.traffic if isinstance(s, Step) else s for s in value]
        if not pct or pct[-1] != 100:
            raise ValueError(f"expected steps ending at 100, found {pct}")
        if any(not 0 < s <= 100 for s in pct) or any(a >= b for a, b in zip(pct, pct[1:])):
            raise ValueError(f"expected strictly increasing percentages in 1..100, found {pct}")
        return value

    @field_validator("gates")
    @classmethod
    def _unique(cls, value: list[Gate] | None) -> list[Gate] | None:
        names = [g.name for g in value or []]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"expected unique gate names, found {', '.join(dup)} twice")
        return value

    @property
    def traffic(self) -> list[int]:
        """The step percentages."""
        return [s.traffic if isinstance(s, Step) else s for s in self.steps]

    def bake_seconds(self, index: int) -> float:
        """Minimum seconds at step ``index`` (0-based) before moving on."""
        step = self.steps[index]
        value = step.bake_time if isinstance(step, Step) and step.bake_time else self.bake_time
        return parse_duration(value) if value else 0.0

    def effective_gates(self, deployment_mode: str, metrics: MetricNames = DEFAULT_METRICS) -> list[Gate]:
        """The plan's gates, or the defaults for ``deployment_mode``."""
        return list(self.gates) if self.gates is not None else default_gates(deployment_mode, metrics)


def default_gates(deployment_mode: str, m: MetricNames = DEFAULT_METRICS) -> list[Gate]:
    """Gates on what KServe/Knative actually export, selected to the canary's series.

    Knative mode: 5xx share of the queue-proxy's ``revision_app_request_count`` (<= 1%; no 5xx
    series at all counts as 0, no requests at all as no data) and its
    p99 ``revision_app_request_latencies`` (<= 500 ms). Standard mode has no queue-proxy: p99 of
    the model server's ``request_predict_seconds`` (<= 0.5 s).
    """
    if deployment_mode == "Knative":
        sel = f'{m.namespace_label}="$namespace",$canary'
        count = f"{m.request_count}{{{sel}}}"
        errors = f'{m.request_count}{{{sel},{m.response_code_class_label}="5xx"}}'
        return [
            Gate(name="error-rate", query=f"(sum(rate({errors}[$window])) or vector(0)) / sum(rate({count}[$window]))", max=0.01),
            Gate(name="latency-p99", max=500.0,
                 query=f"histogram_quantile(0.99, sum by (le) (rate({m.request_latencies}_bucket{{{sel}}}[$window])))"),
        ]
    return [
        Gate(name="latency-p99", max=0.5,
             query=f'histogram_quantile(0.99, sum by (le) (rate({m.predict_seconds}_bucket{{{m.target_namespace_label}="$namespace",$canary}}[$window])))'),
    ]


class EnvRollout(SpecModel):
    """Per-environment rollout settings (overlay key ``rollout``)."""

    plan: RolloutPlan | None = None
    """Plan for every model of this environment that does not set its own (dev: ``steps: [100]``)."""
    prometheus_url: str | None = None
    """Prometheus the gates query, e.g. ``http://prometheus.monitoring:9090``."""
