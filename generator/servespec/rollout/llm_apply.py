"""``release``/``promote``/``rollback``/``promote --all``/``status`` for the LLMs of an environment.

The LLM counterpart of ``apply.py``/``batch.py``/``status.py``: the transition comes from
``rollout/llm.py``, the state file, re-render, commit and push are ``apply.py``'s, the promotion
policy (freezes, windows, ``rollout.requires``) is ``promotion.Policy``'s, and the verdicts of
``promote --all`` are ``batch.ModelResult``s. Gates are asked of Prometheus with their queries
already filled by ``promql.llm_fill``; the canary's traffic share (``minRequests``,
``shareTolerance``) is not checked for LLMs (vLLM exports no per-route share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any


from ..clock import now_utc, pinned
from ..errors import Problem, PromoteError
from ..metrics import version_id
from ..project import Project
from ..resolve import EnvContext, build_context
from ..resolve_llm import llm_plan
from ..spec import LLM, Gate, RolloutPlan
from ..spec.base import parse_duration
from ..spec.rollout import ModelState
from .apply import Log, Outcome, PromoteOptions, Push, commit_transition, finish, load_project, prepare
from .batch import BatchReport, batch_result
from .gates import Evidence, Target, collect_evidence
from .llm import LLMEvaluate, promote_llm, release_llm, rollback_llm
from .promotion import Policy
from .transitions import Transition

__all__ = ["LLMCompute", "is_llm", "run_llm", "release", "promote", "rollback", "promote_all", "llm_evaluator", "llm_status_rows"]

LLMCompute = Callable[[EnvContext, LLM, "ModelState | None", dt.datetime], "Transition | None"]
"""A transition of one LLM given its resolved environment, spec, state and the time."""


def _quiet(_message: str) -> None:
    pass


def is_llm(project: Project, name: str) -> bool:
    """Whether ``name`` is declared as an LLM in ``project`` (``apply.load_project``: what the
    commands dispatch on, then pass on; an LLM disabled in the env is then refused by name)."""
    return name in project.specs.llms


def _load(project: Project, env_name: str, name: str) -> tuple[EnvContext, LLM, ModelState | None]:
    ctx = build_context(project, env_name)
    if name not in ctx.llms:
        what = "is disabled in" if name in project.specs.llms else "is not an LLM of"
        raise PromoteError(Problem("", None, "LLM", f"{name!r} {what} env {env_name!r} (LLMs: {', '.join(sorted(ctx.llms)) or 'none'})"))
    return ctx, ctx.llms[name], ctx.rollout.get(name)


def run_llm(root: Path, env_name: str, name: str, compute: LLMCompute, *, author: str | None = None, push: Push | None = None,
            now: dt.datetime | None = None, log: Log = _quiet, policy: Policy | None = None, project: Project | None = None) -> Outcome:
    """Apply one LLM transition as one commit (``apply.run`` for LLMs: the policy's freezes,
    windows and requirements first; with ``push`` pushed, rejected pushes re-applied on the new
    upstream). Approval branches (``rollout.approval``) are not supported for LLMs: refused.
    ``project``: as ``apply.load_project`` loads it (None: loaded here)."""
    repo, start, who = prepare(root, env_name, author, push)
    ctx, llm, state = _load(project or load_project(root, [env_name]), env_name, name)
    if ctx.env.overlay.rollout.approval.required:
        raise PromoteError(f"{env_name}/{name}: env {env_name} requires approval, which servespec does not support for LLMs yet; nothing committed")
    now = now or now_utc()
    notes: list[str] = []
    trailers = policy.before(ctx.env, name, now, notes) if policy else []
    t = compute(ctx, llm, state, now)
    if t is None:
        return Outcome(None, notes=notes)
    if policy:
        t.trailers = trailers + policy.after(root, ctx.env, t, now)
    out = Outcome(t, commit_transition(root, ctx, t, repo, who), notes=notes)
    return finish(root, repo, who, t, out, push, start, log, _reload_llm)


def _reload_llm(root: Path, t: Transition) -> tuple[EnvContext, str, ModelState | None]:
    ctx, llm, state = _load(load_project(root, [t.env]), t.env, t.model)
    return ctx, llm.model_uri, state


def llm_evaluator(url: str | None, ctx: EnvContext, llm: LLM) -> LLMEvaluate | None:
    """Filled LLM gates evaluated against Prometheus at ``url`` (None: no URL known)."""
    if not url:
        return None

    def evaluate(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
        assert state.candidate is not None
        # The queries are filled already (promql.llm_fill): escaped, render_query's fill gives them back as they are.
        escaped = [g.model_copy(update={"query": g.query.replace("$", "$$")}) for g in gates]
        target = Target(ctx.env.overlay.namespace, llm.name, "llm", state.candidate)
        at = pinned()
        return collect_evidence(url, escaped, target, traffic=False, timeout=parse_duration(plan.query_timeout),
                                now=at.timestamp() if at else None)

    return evaluate


_DEFAULT_OPTIONS = PromoteOptions()


def release(root: Path, env: str, name: str, uri: str, *, author: str | None = None, push: Push | None = None,
            log: Log = _quiet, break_glass: str | None = None, project: Project | None = None) -> Outcome:
    """``servespec release LLM --storage-uri URI``: cache the candidate (step 0) or start its canary."""
    def compute(ctx: EnvContext, llm: LLM, s: ModelState | None, now: dt.datetime) -> Transition | None:
        return release_llm(ctx.env, llm, ctx.kserve, s, uri, now)
    return run_llm(root, env, name, compute, author=author, push=push, log=log, policy=Policy("release", break_glass), project=project)


def promote(root: Path, env: str, name: str, options: PromoteOptions = _DEFAULT_OPTIONS, *, author: str | None = None,
            push: Push | None = None, log: Log = _quiet, break_glass: str | None = None, project: Project | None = None) -> Outcome:
    """``servespec promote LLM``: bake time and gates (the cache's from step 0), then the next step."""
    def compute(ctx: EnvContext, llm: LLM, s: ModelState | None, now: dt.datetime) -> Transition:
        url = options.prometheus or ctx.env.overlay.rollout.prometheus_url
        return promote_llm(ctx.env, llm, ctx.kserve, s, now, to=options.to, ignore_bake_time=options.ignore_bake_time,
                           skip_gates=options.skip_gates, evaluate=llm_evaluator(url, ctx, llm))
    return run_llm(root, env, name, compute, author=author, push=push, log=log, policy=Policy("promote", break_glass), project=project)


def rollback(root: Path, env: str, name: str, *, author: str | None = None, push: Push | None = None, log: Log = _quiet,
             project: Project | None = None) -> Outcome:
    """``servespec rollback LLM``: all traffic back to the stable service at once."""
    def compute(ctx: EnvContext, llm: LLM, s: ModelState | None, now: dt.datetime) -> Transition:
        return rollback_llm(ctx.env, llm, s, now)
    return run_llm(root, env, name, compute, author=author, push=push, log=log, project=project)


def promote_all(root: Path, env_name: str, options: PromoteOptions = _DEFAULT_OPTIONS, *, author: str | None = None,
                push: Push | None = None, log: Log = _quiet, break_glass: str | None = None,
                report: BatchReport | None = None, project: Project | None = None) -> BatchReport:
    """``promote --all`` for the LLMs of ``env_name`` under canary: one ``ModelResult`` each,
    appended to ``report`` (the models' report from ``batch.promote_all``) or a new one.
    ``project`` (``apply.load_project``) serves every LLM when nothing is pushed (a rejected push
    brings upstream's specs: with ``push`` each LLM loads the repo again)."""
    project = project or load_project(root, [env_name])
    ctx = build_context(project, env_name)
    out = report if report is not None else BatchReport(env_name)
    for name in [n for n, s in sorted(ctx.rollout.items()) if s.phase == "canary" and n in ctx.llms]:
        out.models.append(batch_result(env_name, name, lambda n: promote(
            root, env_name, n, options, author=author, push=push, log=log, break_glass=break_glass, project=None if push else project)))
    return out


def llm_status_rows(ctx: EnvContext) -> list[dict[str, Any]]:
    """One ``status`` row per rendered LLM, with the models' keys (``model`` is the LLM's name),
    plus ``kind: "llm"``; ``spec_storage_uri`` is the spec's ``model_uri``."""
    rows = []
    for name, llm in sorted(ctx.llms.items()):
        s = ctx.rollout.get(name)
        row: dict[str, Any]
        if s is None:
            row = {"stable": llm.model_uri, "candidate": None, "traffic_percent": 100, "phase": "stable",
                   "step": None, "since": None, "last_gate": None, "rolled_back": None}
        else:
            row = {"stable": s.stable, "candidate": s.candidate,
                   "traffic_percent": s.traffic if s.phase == "canary" else 0 if s.phase == "rolled-back" else 100,
                   "phase": s.phase, "step": s.step, "since": s.since,
                   "last_gate": s.last_gate.model_dump() if s.last_gate else None, "rolled_back": s.rolled_back}
        rows.append({"model": name, "env": ctx.env.name, **row, "steps": llm_plan(llm, ctx.env, ctx.kserve).traffic,
                     "managed": s is not None, "version": version_id(str(row["candidate"] or row["stable"])), "kind": "llm",
                     "spec_ahead": False, "spec_storage_uri": llm.model_uri, "release_command": None})
    return rows
