"""Canary rollout plans: traffic steps, bake time and metric gates.

A plan is ordered traffic steps ending at 100 (``[10, 25, 50, 100]``; dev: ``[100]``), an
optional minimum bake time at each step, and gates. A gate is a PromQL query with bounds
(``min``/``max``, Flagger's ``thresholdRange``), the evaluation window, what no data or NaN means
(failure by default, as Flagger does) and how many failed checks are tolerated (Argo Rollouts'
``failureLimit``). Query placeholders (``$name``, string.Template syntax, since PromQL uses
braces): ``$namespace``, ``$model``, ``$window``, ``$version`` (the candidate's version id),
``$canary`` (the label matcher selecting the candidate revision's series only,
``serving_servespec_io_version="v3f2a..."``: see ``metrics.py``) and ``$stable`` (the matchers
selecting the rest of the model's series: the stable revision's, whether or not its pods carry
the version label), so a gate can compare the canary with stable.

What a failed gate does (``onFailure``), how much traffic the canary must have had before gates
judge it (``minRequests``, ``shareTolerance``) and how long a query may take (``queryTimeout``)
are plan fields too; the queries behind them are built in ``promql.py``.
"""

from __future__ import annotations

from string import Template
from typing import Literal

from pydantic import field_validator, model_validator

from ..promql import PLACEHOLDERS
from .base import Name, NonNegativeInt, PositiveInt, PromDuration, SpecModel, parse_duration
from .monitoring import Fraction
from .promotion import Approval, Freeze, Requirements, Window

__all__ = ["RolloutPlan", "EnvRollout", "Gate", "Step", "ModelState", "LastGate", "Phase", "RolloutStateFile", "OnFailure",
           "DEFAULT_MIN_REQUESTS"]

OnFailure = Literal["hold", "rollback"]
"""What a decisive gate failure does: stay at the step (exit 1), or commit a rollback (exit 1)."""

DEFAULT_MIN_REQUESTS = 200
"""Canary requests in the gate window before gates judge it. At 200, a healthy canary whose error
ratio equals stable's 0.5% fails the default error gate by chance 4.6% of the time and a
0.1% -> 2% regression is caught 76% of the time (500: 0.5% and 93%); below 100 the error gate
is mostly chance (``bench/gate_defaults.py``)."""

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
    window: PromDuration = "5m"
    """Evaluation window: the range of ``$window`` in the query (e.g. ``rate(...[$window])``)."""
    samples: PositiveInt = 1
    """Checks per evaluation: 1 = one instant query now; N = N points ``interval`` apart ending now."""
    interval: PromDuration = "1m"
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
    def _bounds(self) -> Gate:
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
    bake_time: PromDuration | None = None
    """Minimum time at this step before the next promote (overrides the plan's)."""


class RolloutPlan(SpecModel):
    """Ordered traffic steps a candidate moves through; the last step must be 100."""

    steps: list[int | Step] = [10, 25, 50, 100]
    """Canary traffic percentages, strictly increasing, ending at 100 (``[100]``: no canary)."""
    bake_time: PromDuration | None = None
    """Minimum time at each step before promote moves on; unset: none."""
    gates: list[Gate] | None = None
    """Gates checked before every promote; unset: the defaults of the model's deployment mode
    (canary compared with stable, ``promql.default_gate_queries``); ``[]``: none."""
    on_failure: OnFailure = "hold"
    """A decisive gate failure (a value out of bounds more often than ``failureLimit``):
    ``hold`` stays at the step, ``rollback`` commits a rollback; both exit 1. Missing evidence
    (Prometheus unreachable, no data) never rolls back."""
    min_requests: NonNegativeInt = DEFAULT_MIN_REQUESTS
    """Requests the canary must have served in the longest gate window before gates judge it;
    fewer: not decided yet (exit 3). 0: no minimum."""
    share_tolerance: Fraction | None = 0.5
    """The canary's observed share of the model's requests must be the step's percent within
    this fraction of it (0.5: a 10% step accepts 5-15%); otherwise it is not live yet (exit 3):
    controllers not synced, a revision still starting, a mode that ignores the split. null: no check."""
    query_timeout: PromDuration = "10s"
    """Time each Prometheus query may take; queries run concurrently, so an unresponsive
    Prometheus fails the promote within this time."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int | Step]) -> list[int | Step]:
        pct = [s.traffic if isinstance(s, Step) else s for s in value]
        if not pct or pct[-1] != 100:
            raise ValueError(f"expected steps ending at 100, found {pct}")
        if any(not 0 < s <= 100 for s in pct) or any(a >= b for a, b in zip(pct, pct[1:], strict=False)):
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


class EnvRollout(SpecModel):
    """Per-environment rollout settings (overlay key ``rollout``)."""

    plan: RolloutPlan | None = None
    """Plan for every model of this environment that does not set its own (dev: ``steps: [100]``)."""
    prometheus_url: str | None = None
    """Prometheus the gates query, e.g. ``http://prometheus.monitoring:9090``."""
    requires: Requirements = []
    """Environments a version must have been stable in (100%, for at least ``soak``) before
    ``release`` takes it here: ``{env: staging, soak: 1h}`` or a list, all of which must hold."""
    freeze: list[Freeze] = []
    """Periods when ``release`` and ``promote`` are refused (``--break-glass REASON`` overrides)."""
    windows: list[Window] = []
    """When ``release`` and ``promote`` are allowed (any of them); empty: always."""
    approval: Approval = Approval()
    """Whether ``release``/``promote`` commits need a reviewed pull request."""


Phase = Literal["stable", "canary", "rolled-back"]


class LastGate(SpecModel):
    """The last gate evaluation that led to a commit."""

    result: Literal["passed", "skipped"]
    at: str
    summary: str = ""


class ModelState(SpecModel):
    """Rollout state of one model in one environment (an entry of ``overlays/<env>.rollout.yaml``)."""

    phase: Phase
    stable: str
    """Storage URI of the version serving (100 - traffic)% of requests."""
    candidate: str | None = None
    """Storage URI under canary (phase ``canary`` only)."""
    step: int | None = None
    """1-based index of the current step in the plan (phase ``canary`` only)."""
    traffic: int | None = None
    """Percent of traffic to the candidate (phase ``canary``: the plan's step)."""
    since: str
    """When the model got to this step or phase (UTC, ISO 8601)."""
    rolled_back: str | None = None
    """The candidate that was rolled back (phase ``rolled-back``)."""
    last_gate: LastGate | None = None
    """The last gate evaluation."""
    spec_uri: str | None = None
    """The spec's ``storage_uri`` when this entry was written. A spec edited since then to a URI
    that is neither stable nor candidate is ahead of the state (the state is what is rendered):
    ``render`` warns and ``status`` says ``spec-ahead``, with the ``release`` command to run."""
    runtime: str | None = None
    """ServingRuntime (``<name>-<hash>``) the stable version runs on, when the model uses a ``Runtime``
    spec: a changed runtime reaches this model only through its ``release``. Unset: the spec's."""
    candidate_runtime: str | None = None
    """ServingRuntime of the candidate (phase ``canary`` only)."""


class RolloutStateFile(SpecModel):
    """``overlays/<env>.rollout.yaml``: where each managed model of the environment is in its
    rollout. Written by ``release``, ``promote``, ``rollback`` and ``forget``; edit it only to fix a mistake."""

    models: dict[str, ModelState] = {}
    """Rollout state per model name; a model without an entry is unmanaged (its spec's
    ``storage_uri`` is rendered as is)."""
