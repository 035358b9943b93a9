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
from ..errors import CheckFailed, NotDecided, NotDue, Problem, PromoteError
from ..overlay import Env
from ..resolve import canary_problem
from ..resolve_state import plan_for
from ..secretscan import control_characters, format_trailers, redact_url, uri_credentials
from ..spec import Gate, Model, RolloutPlan
from ..spec.model import STORAGE_URI_PREFIXES
from ..spec.rollout import LastGate, ModelState
from .gates import Evidence, GateResult, effective_gates, summarize
from .runtime_pins import describe_runtime, pin_promote, pin_release, pin_rollback, runtime_changed, spec_runtime, stable_runtime

__all__ = ["Transition", "Evaluate", "release", "promote", "rollback", "judge", "describe", "target_index", "check_bake_time"]

Evaluate = Callable[[list[Gate], RolloutPlan, ModelState], Evidence]
"""Asks Prometheus about a candidate: its traffic (when the plan checks it) and one result per gate."""


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
    reason: str = ""
    """Why a rollback was made by ``promote`` (``Servespec-Reason``: gate, value, threshold, window)."""
    failures: list[str] = field(default_factory=list)
    """The failed gates behind a rollback made by ``promote``: reported after the commit, exit 1."""
    step: int | None = None
    """The 1-based plan step it moves to (release, promote); None for a rollback or an unpin."""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    """Trailers the promotion policy adds (``Servespec-Verified-In``, ``Servespec-Break-Glass``)."""

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
        if self.reason:
            trailers["Servespec-Reason"] = self.reason
        trailers.update(extra_trailers or {})
        return "\n".join(body) + "\n" + format_trailers([*trailers.items(), *self.trailers]) + "\n"


def describe(s: ModelState | None, spec_uri: str) -> str:
    """A state in the words of commit trailers (``canary 10% s3://... (stable s3://...)``)."""
    if s is None:
        return f"stable {spec_uri}"
    if s.phase == "canary":
        return f"canary {s.traffic}% {s.candidate} (stable {s.stable})"
    if s.phase == "rolled-back":
        return f"rolled-back {s.rolled_back} (stable {s.stable})"
    return f"stable {s.stable}"


def release(env: Env, model: Model, state: ModelState | None, uri: str, now: dt.datetime) -> Transition | None:
    """Start a canary of ``uri`` at the plan's first step (or make it stable if that is 100)."""
    bad = control_characters(uri)
    if bad:
        raise PromoteError(Problem("--storage-uri", None, "", f"expected a URI without control characters, found {bad.removeprefix('contains ')}"))
    creds = uri_credentials(uri)
    if creds:
        raise PromoteError(Problem("--storage-uri", None, "", f"credentials in a URL are refused (found {creds} in {redact_url(uri)!r}): "
                                   "the model's storage endpoint carries them, from a Secret"))
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
        after = ModelState(phase="stable", stable=uri, since=iso(now), spec_uri=model.predictor.storage_uri)
        subject = f"release({env.name}/{model.name}): {uri}{runtime} at 100% (step 1/1)"
    else:
        after = ModelState(phase="canary", stable=stable, candidate=uri, step=1, traffic=steps[0], since=iso(now),
                           spec_uri=model.predictor.storage_uri)
        subject = f"release({env.name}/{model.name}): {uri}{runtime} at {steps[0]}% (step 1/{len(steps)})"
    after = pin_release(model, state, after)
    return Transition("release", env.name, model.name, state, after, subject, describe(state, model.predictor.storage_uri), describe(after, ""),
                      step=1)


def promote(env: Env, model: Model, state: ModelState | None, now: dt.datetime, *, to: int | None = None,
            ignore_bake_time: bool = False, skip_gates: bool = False, evaluate: Evaluate | None = None) -> Transition:
    """Move the candidate to the next step (or ``to``) after bake time and gates.

    Bake time not over raises ``NotDue`` (exit 3). With gates, ``evaluate(gates, plan, state)``
    returns the evidence, judged by :func:`judge`: a canary that is not live or served too few
    requests raises ``NotDecided`` (exit 3), missing evidence or a failed gate under
    ``onFailure: hold`` raises ``CheckFailed`` (exit 1); a decisive failure under
    ``onFailure: rollback`` returns the rollback (with ``failures`` set: the caller commits it,
    then exits 1).
    """
    name = f"{env.name}/{model.name}"
    if state is None or state.phase == "stable":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: no candidate to promote (stable: {stable}); start one with `servespec release`")
    if state.phase == "rolled-back":
        after = pin_promote(model, state, ModelState(phase="stable", stable=state.stable, since=iso(now), spec_uri=model.predictor.storage_uri))
        subject = f"promote({name}): rolled-back -> stable {state.stable} (unpin)"
        return Transition("promote", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""))
    assert state.step is not None and state.traffic is not None and state.candidate is not None
    plan = plan_for(model, env)
    index = target_index(plan.traffic, state.step, state.traffic, to)
    _check_mode(env, model, plan.traffic[index])
    flags = ["skip-gates"] if skip_gates else ["ignore-bake-time"] if ignore_bake_time else []
    if not (skip_gates or ignore_bake_time):
        check_bake_time(name, plan, state, now)
    gates = effective_gates(plan, model, env.overlay.monitoring.metrics)
    if skip_gates:
        return _advance(env, model, state, plan, index, now, LastGate(result="skipped", at=iso(now), summary="--skip-gates"), [], flags)
    if not gates:
        return _advance(env, model, state, plan, index, now, LastGate(result="passed", at=iso(now), summary="no gates"), [], flags)
    if evaluate is None:
        raise PromoteError(f"{name}: the plan has gates ({', '.join(g.name for g in gates)}) and no Prometheus URL is known: "
                           "pass --prometheus URL or set rollout.prometheusUrl in the overlay")
    results = judge(name, plan, state, evaluate(gates, plan, state))
    if all(r.passed for r in results):
        summary = summarize(results)
        return _advance(env, model, state, plan, index, now, LastGate(result="passed", at=iso(now), summary=summary), results, flags)
    failed = [r for r in results if not r.passed]
    decisive = [r for r in results if r.decisive]
    if plan.on_failure == "rollback" and decisive:
        t = rollback(env, model, state, now)
        t.gate_lines = [str(r) for r in results]
        t.gate_trailer = summarize(results)
        t.reason = "; ".join(r.reason() for r in decisive)
        t.flags = flags
        t.failures = [f"{name}: gate failed, rolled back to {state.stable} (onFailure: rollback): {r}" for r in failed]
        return t
    hold = f"staying at {state.traffic}%" + (" (no rollback on missing data)" if plan.on_failure == "rollback" else "")
    raise CheckFailed([f"{name}: gate failed, {hold}: {r}" for r in failed])


def judge(name: str, plan: RolloutPlan, state: ModelState, evidence: Evidence) -> list[GateResult]:
    """The gate results, once the evidence says the canary can be judged at all.

    Raises ``CheckFailed`` when Prometheus could not be asked (exit 1: never a rollback),
    ``NotDecided`` when the canary's share of the model's requests is not the step's within
    ``shareTolerance`` (not live) or it served fewer than ``minRequests`` requests (exit 3).
    """
    if evidence.error:
        raise CheckFailed(f"{name}: cannot decide, staying at {state.traffic}%: {evidence.error}; nothing committed")
    seen, traffic = evidence.traffic, state.traffic or 0
    if seen is not None and plan.share_tolerance is not None:
        low, high = traffic * (1 - plan.share_tolerance), min(100.0, traffic * (1 + plan.share_tolerance))
        if seen.share is None or not low <= seen.share * 100 <= high:
            observed = "no requests to the model at all" if seen.share is None else f"the canary served {seen.share * 100:.3g}% of the model's requests"
            waiting = f"{observed} over the last {seen.window}, the step is {traffic}% (shareTolerance {plan.share_tolerance:g}: {low:.3g}-{high:.3g}%)"
            raise NotDecided(f"{name}: not live yet: {waiting}: controllers not synced, a revision still starting, "
                             "or a deployment mode that ignores the split; nothing committed", reason="not-live", waiting=waiting)
    if seen is not None and plan.min_requests and (seen.requests or 0) < plan.min_requests:
        waiting = f"the canary served {seen.requests or 0:.0f} requests over the last {seen.window}, minRequests is {plan.min_requests}"
        raise NotDecided(f"{name}: too little traffic to decide: {waiting}; nothing committed", reason="too-little-traffic", waiting=waiting)
    return evidence.results


def target_index(steps: list[int], step: int, traffic: int, to: int | None) -> int:
    """0-based index of the step to move to: the next one (step 0 moves to the first), or ``to``."""
    if to is None:
        return step
    if to not in steps:
        raise PromoteError(Problem("--to", None, "", f"{to}% is a step outside the plan {steps}"))
    index = steps.index(to)
    if index < step:
        raise PromoteError(Problem("--to", None, "", f"{to}% is not after the current step {traffic}% (plan {steps})"))
    return index


def check_bake_time(name: str, plan: RolloutPlan, state: ModelState, now: dt.datetime) -> None:
    """``NotDue`` while the current step's bake time is not over (models and LLMs alike)."""
    assert state.step is not None
    bake = plan.bake_seconds(state.step - 1)
    waited = (now - parse_time(state.since)).total_seconds()
    if waited < bake:
        waiting = f"at {state.traffic}% since {state.since}, {format_seconds(bake)} required, {format_seconds(bake - waited)} left"
        raise NotDue(f"{name}: bake time not over: {waiting} (--ignore-bake-time to skip)", waiting=waiting)


def _advance(env: Env, model: Model, state: ModelState, plan: RolloutPlan, index: int, now: dt.datetime, last_gate: LastGate,
             results: list[GateResult], flags: list[str]) -> Transition:
    """The promote to step ``index``: the next canary step, or 100% (the candidate is stable)."""
    name, steps, traffic = f"{env.name}/{model.name}", plan.traffic, plan.traffic[index]
    assert state.candidate is not None
    if traffic == 100:
        after = ModelState(phase="stable", stable=state.candidate, since=iso(now), last_gate=last_gate, spec_uri=model.predictor.storage_uri)
        subject = f"promote({name}): {state.traffic}% -> 100% (step {index + 1}/{len(steps)}), {state.candidate} is stable"
    else:
        after = ModelState(phase="canary", stable=state.stable, candidate=state.candidate, step=index + 1, traffic=traffic,
                           since=iso(now), last_gate=last_gate, spec_uri=model.predictor.storage_uri)
        subject = f"promote({name}): {state.traffic}% -> {traffic}% (step {index + 1}/{len(steps)})"
    after = pin_promote(model, state, after)
    return Transition("promote", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""),
                      [str(r) for r in results], summarize(results) if results else "", flags, step=index + 1)


def rollback(env: Env, model: Model, state: ModelState | None, now: dt.datetime) -> Transition:
    """All traffic back to the stable version at once."""
    name = f"{env.name}/{model.name}"
    if state is None or state.phase != "canary":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: nothing to roll back: no candidate under canary (stable: {stable}); "
                           "to go back to an older version, release it")
    after = pin_rollback(state, ModelState(phase="rolled-back", stable=state.stable, rolled_back=state.candidate, traffic=0, since=iso(now),
                       last_gate=state.last_gate, spec_uri=model.predictor.storage_uri))
    subject = f"rollback({name}): {state.traffic}% -> 0%, all traffic to {state.stable}"
    return Transition("rollback", env.name, model.name, state, after, subject, describe(state, ""), describe(after, ""))


def _check_mode(env: Env, model: Model, traffic: int) -> None:
    problem = canary_problem(env, model, traffic)
    if problem is not None:
        raise PromoteError(problem)
