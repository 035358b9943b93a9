"""The promotion policy applied to rollout commands: what ``apply.run`` asks before it commits.

- :meth:`Policy.before` (release, promote): refuses inside a freeze or outside every window
  (``Closed``, exit 1) unless ``--break-glass REASON``, which is recorded as a
  ``Servespec-Break-Glass`` trailer. Rollback never asks.
- :meth:`Policy.after` (release): the version must be verified in every environment of
  ``rollout.requires`` (``provenance.py`` reads git, ``policy.verdict`` decides); refused
  (``Refused``, exit 1) with the remaining soak or the reason, else one
  ``Servespec-Verified-In`` trailer per required environment.
- :func:`proposal` (``rollout.approval.required``): the branch the commit goes to instead of the
  followed branch, and the pull-request URL.
- :func:`upstream_uri` (``release --from ENV``) and :func:`promotion_entries` (``status``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..clock import iso
from ..errors import Closed, Problem, PromoteError, Refused
from ..metrics import version_id
from ..overlay import Env, discover_envs
from ..secretscan import control_characters
from ..spec import Model
from ..spec.base import parse_duration
from ..spec.rollout import ModelState
from .policy import Verdict, closure, verdict
from .provenance import History, read_history
from .state import load_state
from .transitions import Transition

__all__ = ["Policy", "Proposal", "proposal", "upstream_uri", "requirement_verdicts", "promotion_entries", "check_break_glass"]


def check_break_glass(reason: str | None) -> None:
    """Refuse an empty ``--break-glass`` reason or one with control characters (exit 2)."""
    if reason is None:
        return
    bad = control_characters(reason)
    if not reason.strip() or bad:
        found = bad.removeprefix("contains ") if bad else "nothing"
        raise PromoteError(Problem("--break-glass", None, "", f"expected a reason (who, why, the incident), found {found}"))


@dataclass(frozen=True)
class Policy:
    """The promotion policy for one command: ``release`` or ``promote``, maybe breaking glass."""

    action: Literal["release", "promote"]
    break_glass: str | None = None

    def before(self, env: Env, model: str, now: dt.datetime, log: list[str]) -> list[tuple[str, str]]:
        """Refuse when the environment is closed at ``now`` (``Closed``), unless breaking glass:
        then the trailer recording it (and a line in ``log`` naming what it overrode)."""
        check_break_glass(self.break_glass)
        shut = closure(env.overlay.rollout, now)
        if shut is not None and self.break_glass is None:
            file, line = env.where(*shut.path)
            field = ".".join(str(p) for p in shut.path[:2]) + "".join(f"[{p}]" for p in shut.path[2:])
            raise Closed(Problem(file, line, field, f"{env.name}/{model}: {self.action} refused: {shut.message(now)}; "
                                 "--break-glass REASON overrides"), opens=iso(shut.opens) if shut.opens else None)
        if self.break_glass is None:
            return []
        if shut is not None:
            log.append(f"{env.name}/{model}: break glass: {self.action} {shut.message(now).split(';')[0]}")
        return [("Servespec-Break-Glass", self.break_glass.strip())]

    def after(self, root: Path, env: Env, t: Transition, now: dt.datetime) -> list[tuple[str, str]]:
        """For a release: the ``Servespec-Verified-In`` trailers, or ``Refused`` naming every
        requirement not met."""
        if t.action != "release" or not env.overlay.rollout.requires:
            return []
        uri = t.after.candidate or t.after.stable
        verdicts = requirement_verdicts(root, env, t.model, uri, now)
        problems = []
        for i, v in enumerate(verdicts):
            if not v.eligible:
                file, line = env.where("rollout", "requires", i)
                problems.append(Problem(file, line, f"rollout.requires[{i}]", f"{env.name}/{t.model}: release of {uri} refused: {v.message}; "
                                        "nothing committed"))
        if problems:
            raise Refused(problems)
        return [("Servespec-Verified-In", v.trailer()) for v in verdicts]


def requirement_verdicts(root: Path, env: Env, model: str, uri: str, now: dt.datetime,
                         histories: dict[str, History] | None = None) -> list[Verdict]:
    """One verdict per ``rollout.requires`` entry of ``env``: is ``uri`` of ``model`` verified
    there (``histories``: already read environments, reused and filled)?"""
    cache = histories if histories is not None else {}
    out = []
    for req in env.overlay.rollout.requires:
        if req.env not in cache:
            cache[req.env] = read_history(root, req.env)
        events, rejected = cache[req.env].events(model)
        notes = [r.note() for r in rejected if uri in r.claim]
        soak = parse_duration(req.soak) if req.soak else 0.0
        out.append(verdict(req.env, uri, events, soak, now, notes))
    return out


def upstream_uri(root: Path, source: str, model: Model, target: str) -> str:
    """``release --from ENV``: the version ``source`` serves as stable for ``model`` (its rollout
    state's, else the spec's ``storage_uri``)."""
    known = discover_envs(root)
    if source not in known:
        raise PromoteError(Problem("--from", None, "", f"expected an environment ({', '.join(known)}), found {source!r}"))
    if source == target:
        raise PromoteError(Problem("--from", None, "", f"expected another environment than {target!r} itself"))
    state, _lines = load_state(root, source)
    entry = state.get(model.name)
    return entry.stable if entry else model.predictor.storage_uri


@dataclass(frozen=True)
class Proposal:
    """Where a change that needs approval went."""

    branch: str
    base: str
    url: str | None
    """The pull-request URL (None: no https repo URL known)."""


def proposal(env: Env, t: Transition, current_branch: str) -> Proposal | None:
    """The branch ``servespec/<env>/<model>/<step>`` for a release or promote of an environment
    whose overlay sets ``rollout.approval.required`` (None otherwise, and for rollbacks). The
    step is ``step<N>-<version>``: the plan step it moves to and the version's id."""
    approval = env.overlay.rollout.approval
    if not approval.required or t.action not in ("release", "promote"):
        return None
    uri = t.after.candidate or t.after.stable
    step = f"step{t.step}" if t.step else "unpin"
    branch = f"servespec/{env.name}/{t.model}/{step}-{version_id(uri)}"
    delivery = env.overlay.delivery
    base = delivery.revision if delivery.controller != "none" else current_branch
    pattern = approval.pull_request_url
    if pattern is None and delivery.repo_url and delivery.repo_url.startswith("https://"):
        pattern = delivery.repo_url.removesuffix("/").removesuffix(".git") + "/compare/{base}...{branch}?expand=1"
    url = pattern.replace("{base}", base).replace("{branch}", branch) if pattern else None
    return Proposal(branch, base, url)


def promotion_entries(root: Path, env: Env, models: dict[str, Model], state: dict[str, ModelState], now: dt.datetime,
                      histories: dict[str, History] | None = None) -> dict[str, list[dict[str, object]]]:
    """For ``status``: per model, each version an upstream environment serves as stable that
    this one does not serve yet, with whether it may be released here and since when."""
    cache = histories if histories is not None else {}
    upstream = {r.env: load_state(root, r.env)[0] for r in env.overlay.rollout.requires if r.env in discover_envs(root)}
    out: dict[str, list[dict[str, object]]] = {}
    for name, model in sorted(models.items()):
        here = state.get(name)
        serving = {here.stable, here.candidate} if here else {model.predictor.storage_uri}
        entries = []
        for source, states in upstream.items():
            uri = states[name].stable if name in states else model.predictor.storage_uri
            if uri in serving:
                continue
            verdicts = requirement_verdicts(root, env, name, uri, now, cache)
            blocked = [v for v in verdicts if not v.eligible]
            since = max((v.eligible_since for v in verdicts if v.eligible_since), default=None)
            entries.append({"from": source, "uri": uri, "eligible": not blocked,
                            "eligible_since": iso(since) if since and not blocked else None,
                            "reason": "; ".join(f"{v.env}: {v.message}" for v in blocked) or None,
                            "command": f"servespec release {name} --env {env.name} --from {source}"})
        if entries:
            out[name] = entries
    return out
