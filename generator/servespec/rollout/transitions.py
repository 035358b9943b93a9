"""Rollout transitions: pure functions of (environment, model, state, plan, gate results, time).

``release`` starts a canary of a new storage URI at the plan's first step, ``promote`` moves it
to the next step after bake time and gates (evaluated through the ``evaluate`` callback, so
this module never talks to Prometheus or git), ``rollback`` sends all traffic back to stable.
Each returns a :class:`Transition`: the new state and how to describe it in a commit.
``rollout/apply.py`` writes, re-renders and commits it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import format_seconds, iso, parse_time
from ..errors import CheckFailed, NotDue, Problem, PromoteError
from ..overlay import Env
from ..resolve import canary_problem, plan_for
from ..spec import Gate, Model
from ..spec.model import STORAGE_URI_PREFIXES
from ..spec.rollout import LastGate, ModelState
from .gates import GateResult, effective_gates, summarize
from .runtime_pins import describe_runtime, pin_promote, pin_release, pin_rollback, runtime_changed, spec_runtime, stable_runtime

__all__ = ["Transition", "Evaluate", "release", "promote", "rollback", "describe"]

Evaluate = Callable[[list[Gate], ModelState], tuple[bool, list[GateResult]]]
"""Evaluates gates for a candidate: (all passed, one result per gate)."""


@dataclass
class Transition:
    """One state change of one model in one environment, and how to describe it."""

    action: str
    env: str
    model: str
    before: ModelState | None
    after: ModelState
    subject: str
    from_desc: str
    to_desc: str
    gate_lines: list[str] = field(default_factory=list)
    gate_trailer: str = ""
    flags: list[str] = field(default_factory=list)

    def message(self, extra_trailers: dict[str, str] | None = None) -> str:
        """The commit message: a parseable subject, gate lines, then git trailers."""
        body = [self.subject, ""]
        if self.gate_lines:
            body += [*self.gate_lines, ""]
        trailers = {
            "Servespec-Action": self.action,
            "Servespec-Model": self.model,
            "Servespec-Env": self.env,
            "Servespec-From": self.from_desc,
            "Servespec-To": self.to_desc,
        }
        if self.gate_trailer:
            trailers["Servespec-Gates"] = self.gate_trailer
        if self.flags:
            trailers["Servespec-Flags"] = " ".join(self.flags)
        trailers.update(extra_trailers or {})
        body += [f"{k}: {v}" for k, v in trailers.items()]
        return "\n".join(body) + "\n"


def describe(s: ModelState | None, spec_uri: str) -> str:
    if s is None:
        return f"stable {spec_uri}"
    if s.phase == "canary":
        return f"canary {s.traffic}% {s.candidate} (stable {s.stable})"
    if s.phase == "rolled-back":
        return f"rolled-back {s.rolled_back} (stable {s.stable})"
    return f"stable {s.stable}"


def release(env: Env, model: Model, state: ModelState | None, uri: str, now: dt.datetime) -> Transition | None:
    """Start a canary of ``uri`` at the plan's first step (or make it stable if that is 100)."""
    if not uri.startswith(STORAGE_URI_PREFIXES):
        raise PromoteError(Problem("--storage-uri", None, "", f"expected a URI starting with one of {', '.join(STORAGE_URI_PREFIXES)}, found {uri!r}"))
    stable = state.stable if state else model.predictor.storage_uri
    if state and state.phase == "canary":
        raise PromoteError(f"{env.name}/{model.name}: {state.candidate} is already under canary at {state.traffic}% (step {state.step}): promote or rollback it first")
    if uri == stable and not runtime_changed(model, state):
        return None
    plan = plan_for(model, env)
    steps = plan.traffic
    _check_mode(env, model, steps[0])
    runtime = describe_runtime(stable_runtime(model, state), spec_runtime(model))  # runtime pins: runtime_pins.py
    if steps[0] == 100:
        after = ModelState(phase="stable", stable=uri, since=iso(now))
        subject = f"release({env.name}/{model.name}): {uri}{runtime} at 100% (step 1/1)"
    else:
        after = ModelState(phase="canary", stable=stable, candidate=uri, step=1, traffic=steps[0], since=iso(now))
        subject = f"release({env.name}/{model.name}): {uri}{runtime} at {steps[0]}% (step 1/{len(steps)})"
    after = pin_release(model, state, after)
    return Transition("release", env.name, model.name, state, after, subject, describe(state, model.predictor.storage_uri), describe(after, ""))


def promote(env: Env, model: Model, state: ModelState | None, now: dt.datetime, *, to: int | None = None,
            ignore_bake_time: bool = False, skip_gates: bool = False, evaluate: Evaluate | None = None) -> Transition:
    """Move the candidate to the next step (or ``to``) after bake time and gates.

    ``evaluate(gates, state)`` returns (passed, results); a failed gate raises ``CheckFailed``,
    bake time not over raises ``NotDue``.
    """
    name = f"{env.name}/{model.name}"
    if state is None or state.phase == "stable":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: no candidate to promote (stable: {stable}); start one with `servespec release`")
    if state.phase == "rolled-back":
        after = pin_promote(model, state, ModelState(phase="stable", stable=state.stable, since=iso(now)))
        subject = f"promote({name}): rolled-back -> stable {state.stable} (unpin)"
        return Transition("promote", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""))
    assert state.step is not None and state.traffic is not None and state.candidate is not None
    plan = plan_for(model, env)
    steps = plan.traffic
    if to is None:
        index = state.step  # 0-based index of the next step
    else:
        if to not in steps:
            raise PromoteError(Problem("--to", None, "", f"{to}% is a step outside the plan {steps}"))
        index = steps.index(to)
        if index < state.step:
            raise PromoteError(Problem("--to", None, "", f"{to}% is not after the current step {state.traffic}% (plan {steps})"))
    _check_mode(env, model, steps[index])
    flags: list[str] = []
    if skip_gates:
        flags.append("skip-gates")
    elif ignore_bake_time:
        flags.append("ignore-bake-time")
    if not (skip_gates or ignore_bake_time):
        bake = plan.bake_seconds(state.step - 1)
        waited = (now - parse_time(state.since)).total_seconds()
        if waited < bake:
            waiting = f"at {state.traffic}% since {state.since}, {format_seconds(bake)} required, {format_seconds(bake - waited)} left"
            raise NotDue(f"{name}: bake time not over: {waiting} (--ignore-bake-time to skip)", waiting=waiting)
    gate_lines: list[str] = []
    gate_trailer = ""
    last_gate = LastGate(result="skipped", at=iso(now), summary="--skip-gates")
    gates = effective_gates(plan, model.deployment_mode, env.overlay.monitoring.metrics)
    if not skip_gates and gates:
        if evaluate is None:
            raise PromoteError(f"{name}: the plan has gates ({', '.join(g.name for g in gates)}) and no Prometheus URL is known: "
                               "pass --prometheus URL or set rollout.prometheusUrl in the overlay")
        ok, results = evaluate(gates, state)
        gate_lines = [str(r) for r in results]
        if not ok:
            raise CheckFailed([f"{name}: gate failed, staying at {state.traffic}%: {r}" for r in results if not r.passed])
        gate_trailer = summarize(results)
        last_gate = LastGate(result="passed", at=iso(now), summary=gate_trailer)
    elif not skip_gates:
        last_gate = LastGate(result="passed", at=iso(now), summary="no gates")
    traffic = steps[index]
    if traffic == 100:
        after = ModelState(phase="stable", stable=state.candidate, since=iso(now), last_gate=last_gate)
        subject = f"promote({name}): {state.traffic}% -> 100% (step {index + 1}/{len(steps)}), {state.candidate} is stable"
    else:
        after = ModelState(phase="canary", stable=state.stable, candidate=state.candidate, step=index + 1, traffic=traffic,
                           since=iso(now), last_gate=last_gate)
        subject = f"promote({name}): {state.traffic}% -> {traffic}% (step {index + 1}/{len(steps)})"
    after = pin_promote(model, state, after)
    return Transition("promote", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""),
                      gate_lines, gate_trailer, flags)


def rollback(env: Env, model: Model, state: ModelState | None, now: dt.datetime) -> Transition:
    """All traffic back to the stable version at once."""
    name = f"{env.name}/{model.name}"
    if state is None or state.phase != "canary":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: nothing to roll back: no candidate under canary (stable: {stable}); "
                           "to go back to an older version, release it")
    after = pin_rollback(state, ModelState(phase="rolled-back", stable=state.stable, rolled_back=state.candidate, traffic=0,
                                           since=iso(now), last_gate=state.last_gate))
    subject = f"rollback({name}): {state.traffic}% -> 0%, all traffic to {state.stable}"
    return Transition("rollback", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""))


def _check_mode(env: Env, model: Model, traffic: int) -> None:
    problem = canary_problem(env, model, traffic)
    if problem is not None:
        raise PromoteError(problem)
