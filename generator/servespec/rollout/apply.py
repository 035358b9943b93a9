"""Apply a rollout transition: write the state, re-render the environment, make one commit, push.

The public functions here are what the ``release``/``promote``/``rollback`` commands call:
:func:`release`, :func:`promote` and :func:`rollback` (``promote --all``: ``batch.py``;
``forget``: ``forget.py``). Each loads the repo, computes a transition (``transitions.py``),
writes ``overlays/<env>.rollout.yaml`` and the re-rendered ``rendered/<env>/`` and commits both
(``gitrepo.py``); with ``push`` it pushes, retrying rejected pushes by re-applying the same
transition on the new upstream. A rollback that ``promote`` decided is committed and pushed like
any change, then reported as ``Outcome.error`` (exit 1).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from git import Repo

from ..cache.specs import SpecCache
from ..clock import now_utc, pinned
from ..errors import CheckFailed, GitError, Problem, PromoteError, PushFailed, RaceLost, ServespecError
from ..fsutil import atomic_write
from ..gitrepo import (Author, behind, commit_paths, drop_branch, ensure_clean, ensure_no_branch, open_repo, propose_branch,
                       push_branch, push_with_retry, resolve_author)
from ..overlay import Env
from ..project import Project
from ..render import write_model_change
from ..resolve import EnvContext, build_context
from ..spec import Gate, Model, RolloutPlan
from ..spec.base import parse_duration
from ..spec.rollout import ModelState
from . import transitions
from .gates import Evidence, Target, collect_evidence
from .promotion import Policy, Proposal, proposal, upstream_uri
from .state import state_path, write_state
from .transitions import Evaluate, Transition, describe

__all__ = ["Outcome", "Compute", "Push", "Log", "PromoteOptions", "load_project", "prepare", "run", "commit_transition", "finish", "release",
           "promote", "rollback", "gate_evaluator"]

Compute = Callable[[Env, Model, "ModelState | None", dt.datetime], "Transition | None"]
"""A transition of one model given its environment, spec, state and the time."""

Push = tuple[str, "str | None"]
"""(remote, branch) to push to; branch None: the current branch's name."""

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass
class Outcome:
    """What a command did: the transition (None: nothing to do), its commit and push attempts,
    and the error to report once it is printed (a rollback made by ``promote``: exit 1)."""

    transition: Transition | None
    commit: str | None = None
    pushes: int = 0
    error: ServespecError | None = None
    proposal: Proposal | None = None
    """Where the commit went instead of the followed branch (``rollout.approval.required``):
    a local branch of that name, pushed with ``push``; the current branch is left as it was."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """What the user should know (a break-glass override)."""


def load_project(root: Path, envs: list[str] | None) -> Project:
    """The project as a rollout command sees it: ``envs`` (None: all), its specs through the spec
    cache (``cache/specs.py``: only spec modules that changed are imported) as ``render`` loads
    them, so that the render cache's keys are render's and unchanged models are not emitted
    again. A command loads it once and passes it on (a rejected push loads it again: upstream moved)."""
    specs = SpecCache(root)
    return Project.load(root, envs, lambda _root, meanwhile: specs.load(meanwhile))


def _load(project: Project, env_name: str, model_name: str) -> tuple[EnvContext, Model, ModelState | None]:
    ctx = build_context(project, env_name)
    if model_name not in ctx.models:
        what = "is disabled in" if model_name in project.specs.models else "is not a model of"
        raise PromoteError(Problem("", None, "MODEL", f"{model_name!r} {what} env {env_name!r} (models: {', '.join(sorted(ctx.models)) or 'none'})"))
    return ctx, ctx.models[model_name], ctx.rollout.get(model_name)


def commit_transition(root: Path, ctx: EnvContext, t: Transition, repo: Repo, author: Author) -> str | None:
    """Write the state, re-render what it changes (restoring the state on any error), commit both.

    Only the model's files and the environment-wide ones are written (``render.write_model_change``):
    when the set of files stays the same, every other model's files stay exactly as committed,
    so a rollout commit never carries unrelated drift; unchanged models come from the render cache."""
    path = state_path(root, t.env)
    before = path.read_bytes() if path.is_file() else None
    write_state(root, t.env, t.model, t.after)
    try:
        write_model_change(root, dataclasses.replace(ctx, rollout={**ctx.rollout, t.model: t.after}), t.model)
    except BaseException:
        if before is None:
            path.unlink()
        else:
            atomic_write(path, before)
        raise
    rel_state = path.relative_to(root).as_posix()
    return commit_paths(repo, root, [rel_state, f"rendered/{t.env}"], t.message(), author)


def prepare(root: Path, env_name: str, author: str | None, push: Push | None) -> tuple[Repo, str, Author]:
    """The repo of a rollout command, checked clean (and its remote known when pushing), the
    commit it starts from and the commit author."""
    repo = open_repo(root)
    ensure_clean(repo, root, env_name)
    if push and push[0] not in [r.name for r in repo.remotes]:
        known = ", ".join(sorted(r.name for r in repo.remotes)) or "none"
        raise GitError(Problem("--remote", None, "", f"no such remote {push[0]!r} (remotes: {known}); nothing committed"))
    return repo, repo.head.commit.hexsha, resolve_author(author, repo)


def _stale_hint(repo: Repo, push: Push | None) -> str | None:
    """When this clone is behind the remote it pushes to: what to do, for a decision that found
    nothing to do here (the remote may hold the change this clone has not fetched)."""
    if not push:
        return None
    branch = push[1] or repo.active_branch.name
    n = behind(repo, push[0], branch)
    return f"{push[0]}/{branch} is {n} commit{'s' if n != 1 else ''} ahead of this clone: pull and re-run" if n else None


def run(root: Path, env_name: str, model_name: str, compute: Compute, *, author: str | None = None,
        push: Push | None = None, now: dt.datetime | None = None, log: Log = _quiet, policy: Policy | None = None,
        project: Project | None = None) -> Outcome:
    """Apply one transition as one commit; with ``push=(remote, branch)`` push it, retrying
    rejected pushes by re-applying the same transition on the new upstream. With ``policy``
    the environment's promotion policy is applied first (``promotion.py``): freezes, windows and
    requirements refuse (nothing committed), approvals send the commit to a review branch.
    ``project``: the repo as loaded by :func:`load_project` (None: loaded here)."""
    repo, start, who = prepare(root, env_name, author, push)
    ctx, model, state = _load(project or load_project(root, [env_name]), env_name, model_name)
    now = now or now_utc()
    notes: list[str] = []
    trailers = policy.before(ctx.env, model_name, now, notes) if policy else []
    try:
        t = compute(ctx.env, model, state, now)
    except PromoteError as exc:
        hint = _stale_hint(repo, push)
        if hint:
            raise PromoteError([*exc.problems, Problem(message=hint)]) from None
        raise
    if t is None:
        hint = _stale_hint(repo, push)
        if hint:
            log(f"note: {hint}")
        return Outcome(None, notes=notes)
    if policy:
        t.trailers = trailers + policy.after(root, ctx.env, t, now)
    review = proposal(ctx.env, t, repo.active_branch.name)
    if review and push and push[1]:
        raise PromoteError(Problem("--branch", None, "", f"env {env_name} requires approval: the commit goes to {review.branch} "
                                   f"for a pull request into {review.base}, not to {push[1]}; nothing committed"))
    if review:
        ensure_no_branch(repo, review.branch)
    out = Outcome(t, commit_transition(root, ctx, t, repo, who), notes=notes)
    if review and out.commit:
        propose_branch(repo, review.branch, start)
        out.proposal = review
        if push:
            try:
                push_branch(repo, push[0], review.branch)
            except PushFailed:
                drop_branch(repo, review.branch)  # a re-run redoes the whole proposal
                raise
            out.pushes = 1
        return out
    return finish(root, repo, who, t, out, push, start, log, _reload_model)


def _reload_model(root: Path, t: Transition) -> tuple[EnvContext, str, ModelState | None]:
    ctx, model, state = _load(load_project(root, [t.env]), t.env, t.model)
    return ctx, model.predictor.storage_uri, state


Reload = Callable[[Path, Transition], tuple[EnvContext, str, ModelState | None]]
"""The env, the spec's URI and the state of a transition's model as upstream now has them."""


def finish(root: Path, repo: Repo, who: Author, t: Transition, out: Outcome, push: Push | None, start: str, log: Log,
           reload: Reload) -> Outcome:
    """After the commit of ``t`` (models and LLMs alike): push it when asked, re-applied on a
    new upstream (``reload`` reads what upstream has), and a rollback made by a failed gate
    becomes ``out.error``."""
    if push and out.commit:
        _push(root, repo, who, t, out, push, start, log, reload)
    if t.failures:
        done = f"rollback committed as {out.commit[:10]}" if out.commit else "the rollback changed nothing"
        out.error = CheckFailed([*t.failures, f"{t.env}/{t.model}: {done}" + (", pushed" if out.pushes else "")])
    return out


def _push(root: Path, repo: Repo, who: Author, t: Transition, out: Outcome, push: Push, start: str, log: Log, reload: Reload) -> None:
    remote, branch = push[0], push[1] or repo.active_branch.name

    def reapply() -> str | None:
        ctx2, uri2, state2 = reload(root, t)
        if (state2.model_dump() if state2 else None) != (t.before.model_dump() if t.before else None):
            raise RaceLost(f"{t.env}/{t.model} changed upstream while this {t.action} ran: now {describe(state2, uri2)}, "
                           f"expected {t.from_desc}; nothing pushed, the branch is at {remote}/{branch}: re-run the command")
        out.commit = commit_transition(root, ctx2, t, repo, who)
        return out.commit

    try:
        out.pushes = push_with_retry(repo, remote, branch, reapply, log=log, author=who)
    except PushFailed as exc:
        # Undo the local commit: a re-run must redo the whole change (the commit alone
        # could never be pushed by re-running the command, which would find it applied).
        repo.git.reset("-q", "--hard", start)
        raise PushFailed([*exc.problems, Problem(message=f"the local commit was undone (HEAD is back at {start[:10]}): fix the cause and re-run the command")]) from None


def gate_evaluator(url: str | None, env: Env, model: Model) -> Evaluate | None:
    """Gates (and the canary's traffic, when the plan checks it) evaluated against Prometheus at
    ``url``, every query at once (None: no URL known, the plan's gates cannot run)."""
    if not url:
        return None

    def evaluate(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
        assert state.candidate is not None
        target = Target(env.overlay.namespace, model.name, model.deployment_mode, state.candidate, env.overlay.monitoring.metrics)
        traffic = plan.min_requests > 0 or plan.share_tolerance is not None
        at = pinned()  # SERVESPEC_NOW replays a decision: Prometheus is asked about that time too
        return collect_evidence(url, gates, target, traffic=traffic, timeout=parse_duration(plan.query_timeout),
                                now=at.timestamp() if at else None)

    return evaluate


@dataclass(frozen=True)
class PromoteOptions:
    """How ``promote`` decides: the Prometheus URL (default: the overlay's), a target step, skips."""

    prometheus: str | None = None
    to: int | None = None
    ignore_bake_time: bool = False
    skip_gates: bool = False

    def compute(self, model_name: str) -> Compute:
        def one(env: Env, model: Model, state: ModelState | None, now: dt.datetime) -> Transition:
            url = self.prometheus or env.overlay.rollout.prometheus_url
            return transitions.promote(env, model, state, now, to=self.to, ignore_bake_time=self.ignore_bake_time,
                                       skip_gates=self.skip_gates, evaluate=gate_evaluator(url, env, model))
        return one


def release(root: Path, env: str, model: str, storage_uri: str | None, *, author: str | None = None, push: Push | None = None,
            log: Log = _quiet, from_env: str | None = None, break_glass: str | None = None, project: Project | None = None) -> Outcome:
    """``servespec release``: start a canary of ``storage_uri``, or with ``from_env`` of the
    version that environment serves as stable, at the plan's first step, if the promotion
    policy allows it (``promotion.Policy``)."""
    if (storage_uri is None) == (from_env is None):
        raise PromoteError(Problem("--storage-uri", None, "", "expected either --storage-uri URI or --from ENV, found "
                                   + ("both" if storage_uri else "neither")))

    def compute(e: Env, m: Model, s: ModelState | None, now: dt.datetime) -> Transition | None:
        uri = storage_uri if storage_uri is not None else upstream_uri(root, from_env or "", m, e.name)
        return transitions.release(e, m, s, uri, now)
    return run(root, env, model, compute, author=author, push=push, log=log, policy=Policy("release", break_glass), project=project)


def promote(root: Path, env: str, model: str, options: PromoteOptions = PromoteOptions(), *, author: str | None = None,
            push: Push | None = None, log: Log = _quiet, break_glass: str | None = None, project: Project | None = None) -> Outcome:
    """``servespec promote MODEL``: the promotion policy's freezes and windows, bake time and
    gates, then the next step."""
    return run(root, env, model, options.compute(model), author=author, push=push, log=log, policy=Policy("promote", break_glass),
               project=project)


def rollback(root: Path, env: str, model: str, *, author: str | None = None, push: Push | None = None, log: Log = _quiet,
             project: Project | None = None) -> Outcome:
    """``servespec rollback``: all traffic back to stable at once."""
    return run(root, env, model, transitions.rollback, author=author, push=push, log=log, project=project)
