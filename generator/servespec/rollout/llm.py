"""Rollout transitions of LLMs: pure functions of (environment, LLM, KServe features, state, gate results, time).

The LLM counterpart of ``transitions.py`` (same :class:`~.transitions.Transition`, same state
file, same commit trailers). The plan is ``resolve_llm.llm_plan``; the gates are the plan's, else
``promql.default_llm_gate_queries`` (the canary service ``<llm>-canary`` against stable ``<llm>``,
TTFT bound at the LLM's ``monitoring.canary_ttft_factor``), filled by ``promql.llm_fill``.

With a cache on the LLM, ``release`` writes ``step: 0, traffic: 0`` (only the candidate's
LocalModelCache is rendered) and the first ``promote`` gates on ``promql.cache_gate_query`` (the
cache on every node) before step 1; bake time does not apply to step 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..clock import iso
from ..errors import CheckFailed, Problem, PromoteError
from ..kserve.versions import Features
from ..overlay import Env
from ..promql import DefaultGate, cache_gate_query, default_llm_gate_queries, llm_fill
from ..resolve_llm import llm_plan
from ..secretscan import control_characters, redact_url, uri_credentials
from ..spec import LLM, Gate, RolloutPlan
from ..spec.llm import LLM_URI_PREFIXES
from ..spec.rollout import LastGate, ModelState
from .gates import Evidence, GateResult, summarize
from .transitions import Transition, check_bake_time, describe, judge, target_index

__all__ = ["LLMEvaluate", "llm_gates", "cache_gates", "fill_gates", "release_llm", "promote_llm", "rollback_llm"]

LLMEvaluate = Callable[[list[Gate], RolloutPlan, ModelState], Evidence]
"""Asks Prometheus about an LLM candidate: one result per gate (queries already filled)."""


def _gate(d: DefaultGate, maximum: float | None = None) -> Gate:
    return Gate(name=d.name, query=d.query, max=d.max if maximum is None else maximum)


def llm_gates(llm: LLM, plan: RolloutPlan) -> list[Gate]:
    """The gates of an LLM canary step: the plan's, else the default LLM gates (the TTFT ratio
    bounded by ``monitoring.canary_ttft_factor``)."""
    if plan.gates is not None:
        return list(plan.gates)
    mon = llm.monitoring
    return [_gate(d, mon.canary_ttft_factor if d.name == "ttft-vs-stable" else None)
            for d in default_llm_gate_queries(mon.metrics)]


def cache_gates(llm: LLM) -> list[Gate]:
    """The gate of the step out of step 0: the candidate's cache ready on every node
    (``cache_gate_query``'s bound is a lower one: ``min``)."""
    d = cache_gate_query(llm.monitoring.metrics)
    return [Gate(name=d.name, query=d.query, min=d.max)]


def fill_gates(gates: list[Gate], namespace: str, llm: LLM, candidate_uri: str) -> list[Gate]:
    """The gates with their placeholders filled for one LLM candidate (``promql.llm_fill``)."""
    return [g.model_copy(update={"query": llm_fill(g.query, namespace, llm.name, g.window, candidate_uri, llm.monitoring.metrics)})
            for g in gates]


def release_llm(env: Env, llm: LLM, kserve: Features, state: ModelState | None, uri: str, now: dt.datetime) -> Transition | None:
    """Start a canary of ``uri``: at step 0 (0%, its cache only) when the LLM has a cache, else at
    the plan's first step (stable at once when that is 100). None: ``uri`` is already stable."""
    bad = control_characters(uri)
    if bad:
        raise PromoteError(Problem("--storage-uri", None, "", f"expected a URI without control characters, found {bad.removeprefix('contains ')}"))
    creds = uri_credentials(uri)
    if creds:
        raise PromoteError(Problem("--storage-uri", None, "", f"credentials in a URL are refused (found {creds} in {redact_url(uri)!r}): "
                                   "use the LLM's hf_token or a storage Secret"))
    if not uri.startswith(LLM_URI_PREFIXES):
        raise PromoteError(Problem("--storage-uri", None, "", f"expected a model URI starting with one of {', '.join(LLM_URI_PREFIXES)}, found {uri!r}"))
    name = f"{env.name}/{llm.name}"
    stable = state.stable if state else llm.model_uri
    if state and state.phase == "canary":
        raise PromoteError(f"{name}: {state.candidate} is already under canary at {state.traffic}% (step {state.step}): promote or rollback it first")
    if uri == stable:
        return None
    steps = llm_plan(llm, env, kserve).traffic
    if llm.cache is not None:
        after = ModelState(phase="canary", stable=stable, candidate=uri, step=0, traffic=0, since=iso(now), spec_uri=llm.model_uri)
        subject = f"release({name}): {uri} cached at 0% (step 0/{len(steps)})"
        step = 0
    elif steps[0] == 100:
        after = ModelState(phase="stable", stable=uri, since=iso(now), spec_uri=llm.model_uri)
        subject = f"release({name}): {uri} at 100% (step 1/1)"
        step = 1
    else:
        after = ModelState(phase="canary", stable=stable, candidate=uri, step=1, traffic=steps[0], since=iso(now), spec_uri=llm.model_uri)
        subject = f"release({name}): {uri} at {steps[0]}% (step 1/{len(steps)})"
        step = 1
    return Transition("release", env.name, llm.name, state, after, subject, describe(state, llm.model_uri), describe(after, ""), step=step)


def promote_llm(env: Env, llm: LLM, kserve: Features, state: ModelState | None, now: dt.datetime, *, to: int | None = None,
                ignore_bake_time: bool = False, skip_gates: bool = False, evaluate: LLMEvaluate | None = None) -> Transition:
    """Move the LLM's candidate to the next step (or ``to``) after bake time and gates; from step 0
    the gate is the cache's. Raises as ``transitions.promote`` does (``NotDue``, ``CheckFailed``,
    ``PromoteError``); a decisive failure under ``onFailure: rollback`` returns the rollback with
    ``failures`` set."""
    name = f"{env.name}/{llm.name}"
    if state is None or state.phase == "stable":
        stable = state.stable if state else llm.model_uri
        raise PromoteError(f"{name}: no candidate to promote (stable: {stable}); start one with `servespec release`")
    if state.phase == "rolled-back":
        after = ModelState(phase="stable", stable=state.stable, since=iso(now), spec_uri=llm.model_uri)
        subject = f"promote({name}): rolled-back -> stable {state.stable} (unpin)"
        return Transition("promote", env.name, llm.name, state, after, subject, describe(state, ""), describe(after, ""))
    assert state.step is not None and state.traffic is not None and state.candidate is not None
    plan = llm_plan(llm, env, kserve)
    index = target_index(plan.traffic, state.step, state.traffic, to)
    flags = [f for f, on in (("ignore-bake-time", ignore_bake_time), ("skip-gates", skip_gates)) if on]
    if skip_gates:
        return _advance(env, llm, state, plan, index, now, LastGate(result="skipped", at=iso(now), summary="--skip-gates"), [], flags)
    if state.step > 0 and not ignore_bake_time:
        check_bake_time(name, plan, state, now)
    gates = cache_gates(llm) if state.step == 0 else llm_gates(llm, plan)
    if not gates:
        return _advance(env, llm, state, plan, index, now, LastGate(result="passed", at=iso(now), summary="no gates"), [], flags)
    if evaluate is None:
        raise PromoteError(f"{name}: the plan has gates ({', '.join(g.name for g in gates)}) and no Prometheus URL is known: "
                           "pass --prometheus URL or set rollout.prometheusUrl in the overlay")
    results = judge(name, plan, state, evaluate(fill_gates(gates, env.overlay.namespace, llm, state.candidate), plan, state))
    if all(r.passed for r in results):
        return _advance(env, llm, state, plan, index, now, LastGate(result="passed", at=iso(now), summary=summarize(results)), results, flags)
    return _failed(env, llm, state, plan, now, results, flags)


def _failed(env: Env, llm: LLM, state: ModelState, plan: RolloutPlan, now: dt.datetime, results: list[GateResult],
            flags: list[str]) -> Transition:
    """A failed gate: the rollback under ``onFailure: rollback`` (decisive failures of a canary
    with traffic), else ``CheckFailed`` holding the step. A cache not ready always holds."""
    name = f"{env.name}/{llm.name}"
    failed = [r for r in results if not r.passed]
    decisive = [r for r in results if r.decisive]
    if plan.on_failure == "rollback" and decisive and state.step:
        t = rollback_llm(env, llm, state, now)
        t.gate_lines = [str(r) for r in results]
        t.gate_trailer = summarize(results)
        t.reason = "; ".join(r.reason() for r in decisive)
        t.flags = flags
        t.failures = [f"{name}: gate failed, rolled back to {state.stable} (onFailure: rollback): {r}" for r in failed]
        return t
    what = "the candidate's cache is not ready, staying at step 0 (0%)" if state.step == 0 else f"gate failed, staying at {state.traffic}%"
    raise CheckFailed([f"{name}: {what}: {r}" for r in failed])


def _advance(env: Env, llm: LLM, state: ModelState, plan: RolloutPlan, index: int, now: dt.datetime, last_gate: LastGate,
             results: list[GateResult], flags: list[str]) -> Transition:
    """The promote to step ``index`` (0-based): the next canary step, or 100% (the candidate is stable)."""
    name, steps, traffic = f"{env.name}/{llm.name}", plan.traffic, plan.traffic[index]
    assert state.candidate is not None
    if traffic == 100:
        after = ModelState(phase="stable", stable=state.candidate, since=iso(now), last_gate=last_gate, spec_uri=llm.model_uri)
        subject = f"promote({name}): {state.traffic}% -> 100% (step {index + 1}/{len(steps)}), {state.candidate} is stable"
    else:
        after = ModelState(phase="canary", stable=state.stable, candidate=state.candidate, step=index + 1, traffic=traffic,
                           since=iso(now), last_gate=last_gate, spec_uri=llm.model_uri)
        subject = f"promote({name}): {state.traffic}% -> {traffic}% (step {index + 1}/{len(steps)})"
    return Transition("promote", env.name, llm.name, state, after, subject, describe(state, ""), describe(after, ""),
                      [str(r) for r in results], summarize(results) if results else "", flags, step=index + 1)


def rollback_llm(env: Env, llm: LLM, state: ModelState | None, now: dt.datetime) -> Transition:
    """All traffic back to the stable LLM service at once (the canary service is pruned)."""
    name = f"{env.name}/{llm.name}"
    if state is None or state.phase != "canary":
        stable = state.stable if state else llm.model_uri
        raise PromoteError(f"{name}: nothing to roll back: no candidate under canary (stable: {stable}); "
                           "to go back to an older version, release it")
    after = ModelState(phase="rolled-back", stable=state.stable, rolled_back=state.candidate, traffic=0, since=iso(now),
                       last_gate=state.last_gate, spec_uri=llm.model_uri)
    subject = f"rollback({name}): {state.traffic}% -> 0%, all traffic to {state.stable}"
    return Transition("rollback", env.name, llm.name, state, after, subject, describe(state, ""), describe(after, ""))
