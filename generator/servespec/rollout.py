"""Canary rollouts as git commits: the per-environment state file and its transitions.

State lives in ``overlays/<env>.rollout.yaml`` (env discovery ignores names with a dot) and is
edited only here, with ruamel round trip so comments and order survive::

    models:
      census-income:
        phase: canary            # stable | canary | rolled-back
        stable: s3://census-income/v1
        candidate: s3://census-income/v2
        step: 2                  # 1-based index into the plan's steps
        traffic: 25              # the plan's step: percent of traffic to the candidate
        since: "2026-11-24T18:00:00Z"
        lastGate: {result: passed, at: "...", summary: "error-rate=0.0021 latency-p99=85"}

A model without an entry is unmanaged: its spec's ``storage_uri`` is stable and rendered as is.
Transitions (``release``/``promote``/``rollback``) are pure functions of (state, plan) here;
:func:`run` applies one: writes the state, re-renders the environment and makes one commit
(``gitrepo.py``), optionally pushing with fetch/rebase/re-apply retries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import ValidationError

from .errors import CheckFailed, GitError, Problem, PromoteError
from .metrics import version_id
from .spec import Model, RolloutPlan
from .spec.base import SpecModel
from .spec.model import STORAGE_URI_PREFIXES
from .validation_messages import describe_pydantic_error

__all__ = [
    "ModelState", "LastGate", "state_path", "load_state", "check_state", "plan_for", "Transition",
    "release", "promote", "rollback", "status_rows", "write_state", "now_utc", "STANDARD_CANARY_MIN",
    "RaceLost",
]

STANDARD_CANARY_MIN = (0, 20)
"""First KServe version with ``spec.canary[]`` for Standard mode (KSERVE.md §1, §7)."""

Phase = Literal["stable", "canary", "rolled-back"]


class LastGate(SpecModel):
    """The last gate evaluation that led to a commit."""

    result: Literal["passed", "skipped"]
    at: str
    summary: str = ""


class ModelState(SpecModel):
    """Rollout state of one model in one environment."""

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


class RaceLost(CheckFailed):
    """The model's state changed upstream while this command ran (exit 1: re-run it)."""


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def state_path(root: Path, env: str) -> Path:
    return root / "overlays" / f"{env}.rollout.yaml"


# -- loading ------------------------------------------------------------------------------------
def _line(node: Any, *path: Any) -> int | None:
    """1-based line of ``path`` inside a ruamel round-trip document."""
    line = None
    for key in path:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            line = (lc.key(key) if isinstance(node, dict) else lc.item(key))[0] + 1
        except (KeyError, IndexError, TypeError):
            break
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _kind(node: Any) -> str:
    """What a YAML node is, in the words of the error messages (never ruamel's class names)."""
    if isinstance(node, dict):
        return "a mapping"
    if isinstance(node, list):
        return "a list"
    if isinstance(node, bool):
        return f"a boolean ({str(node).lower()})"
    return f"{type(node).__name__} {node!r}" if isinstance(node, (int, float)) else f"a string {str(node)!r}"


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, dt.datetime):
        return _iso(node if node.tzinfo else node.replace(tzinfo=dt.timezone.utc))
    if isinstance(node, str):
        return str(node)
    return node


def _read_doc(path: Path, display: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from .yamlio import read_text, roundtrip_load

    text = read_text(path, display, PromoteError)
    try:
        return roundtrip_load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PromoteError(Problem(display, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem or exc.context}")) from None
    except YAMLError as exc:
        raise PromoteError(Problem(display, None, "", f"invalid YAML: {exc}")) from None


def load_state(root: Path, env: str) -> tuple[dict[str, ModelState], dict[str, int | None]]:
    """The state of every managed model of ``env`` (empty when there is no state file), and the
    line of each model's entry. Syntax and field types only; :func:`check_state` checks meaning."""
    path = state_path(root, env)
    display = f"overlays/{env}.rollout.yaml"
    if not path.is_file():
        return {}, {}
    doc = _read_doc(path, display)
    if doc is None:
        return {}, {}
    if not isinstance(doc, dict) or set(doc) - {"models"}:
        found = _kind(doc) if not isinstance(doc, dict) else ", ".join(sorted(map(str, set(doc) - {"models"})))
        raise PromoteError(Problem(display, _line(doc) or 1, "", f"expected a mapping with only the key 'models', found {found}"))
    models = doc.get("models") or {}
    if not isinstance(models, dict):
        raise PromoteError(Problem(display, _line(doc, "models"), "models", f"expected a mapping of model name to state, found {_kind(models)}"))
    problems: list[Problem] = []
    out: dict[str, ModelState] = {}
    lines: dict[str, int | None] = {}
    for name, entry in models.items():
        lines[str(name)] = _line(doc, "models", name)
        try:
            out[str(name)] = ModelState.model_validate(_plain(entry), by_alias=True, by_name=False)
        except ValidationError as exc:
            for err in exc.errors():
                fld, message = describe_pydantic_error(err)
                problems.append(Problem(display, _line(doc, "models", name, *err["loc"]) or lines[str(name)],
                                        f"models.{name}" + (f".{fld}" if fld else ""), message))
    if problems:
        raise PromoteError(problems)
    return out, lines


def plan_for(model: Model, env: Any) -> RolloutPlan:
    """The plan of ``model`` in ``env``: the spec's own, else the environment's, else the default."""
    return model.rollout or env.overlay.rollout.plan or RolloutPlan()


def check_state(env: Any, models: dict[str, Model], state: dict[str, ModelState], lines: dict[str, int | None],
                known: set[str] | None = None) -> None:
    """Every entry must name an enabled model and agree with its plan; raise with all problems."""
    display = f"overlays/{env.name}.rollout.yaml"
    problems: list[Problem] = []
    for name, s in state.items():
        where = f"models.{name}"

        def bad(msg: str, fld: str = "") -> None:
            problems.append(Problem(display, lines.get(name), where + (f".{fld}" if fld else ""), msg))

        if name not in models:
            what = "disabled in this environment" if known and name in known else "unknown model"
            bad(f"{what} (rendered here: {', '.join(sorted(models)) or 'none'}): delete this entry")
            continue
        for fld in ("stable", "candidate", "rolled_back"):
            uri = getattr(s, fld)
            if uri is not None and not uri.startswith(STORAGE_URI_PREFIXES):
                bad(f"expected a storage URI (s3://, gs://, ...), found {uri!r}", fld)
        try:
            _parse_time(s.since)
        except ValueError:
            bad(f"expected a UTC time such as \"2026-11-24T18:00:00Z\", found {s.since!r}", "since")
        plan = plan_for(models[name], env)
        steps = plan.traffic
        if s.phase == "canary":
            if s.candidate is None or s.step is None or s.traffic is None:
                bad("phase canary needs candidate, step and traffic")
            elif not 1 <= s.step < len(steps):
                bad(f"step {s.step} is outside the plan {steps} (a canary is at step 1..{len(steps) - 1}; the last step makes it stable)", "step")
            elif steps[s.step - 1] != s.traffic:
                bad(f"step {s.step} of the plan {steps} is {steps[s.step - 1]}%, found traffic {s.traffic}", "traffic")
        else:
            extra = [f for f in ("candidate", "step") if getattr(s, f) is not None]
            if extra:
                bad(f"phase {s.phase} has no {' or '.join(extra)} (only a canary has)")
            if s.phase == "rolled-back" and s.traffic not in (0, None):
                bad(f"phase rolled-back sends 0% to the candidate, found traffic {s.traffic}", "traffic")
    if problems:
        raise PromoteError(problems)


# -- transitions --------------------------------------------------------------------------------
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


def _describe(s: ModelState | None, spec_uri: str) -> str:
    if s is None:
        return f"stable {spec_uri}"
    if s.phase == "canary":
        return f"canary {s.traffic}% {s.candidate} (stable {s.stable})"
    if s.phase == "rolled-back":
        return f"rolled-back {s.rolled_back} (stable {s.stable})"
    return f"stable {s.stable}"


def release(env: Any, model: Model, state: ModelState | None, uri: str, now: dt.datetime) -> Transition | None:
    """Start a canary of ``uri`` at the plan's first step (or make it stable if that is 100)."""
    if not uri.startswith(STORAGE_URI_PREFIXES):
        raise PromoteError(Problem("--storage-uri", None, "", f"expected a URI starting with one of {', '.join(STORAGE_URI_PREFIXES)}, found {uri!r}"))
    stable = state.stable if state else model.predictor.storage_uri
    if state and state.phase == "canary":
        raise PromoteError(f"{env.name}/{model.name}: {state.candidate} is already under canary at {state.traffic}% (step {state.step}): promote or rollback it first")
    if uri == stable:
        return None
    plan = plan_for(model, env)
    steps = plan.traffic
    _check_mode(env, model, steps[0])
    if steps[0] == 100:
        after = ModelState(phase="stable", stable=uri, since=_iso(now))
        subject = f"release({env.name}/{model.name}): {uri} at 100% (step 1/1)"
    else:
        after = ModelState(phase="canary", stable=stable, candidate=uri, step=1, traffic=steps[0], since=_iso(now))
        subject = f"release({env.name}/{model.name}): {uri} at {steps[0]}% (step 1/{len(steps)})"
    return Transition("release", env.name, model.name, state, after, subject, _describe(state, model.predictor.storage_uri), _describe(after, ""))


def _check_mode(env: Any, model: Model, traffic: int) -> None:
    """Refuse a canary the target cannot render (never a field KServe silently ignores)."""
    o = env.overlay
    if traffic < 100 and o.kserve_api == "serving.kserve.io/v1beta1" and model.deployment_mode == "Standard" \
            and o.kserve_version_tuple < STANDARD_CANARY_MIN:
        file, line = env.where("kserveVersion")
        raise PromoteError(Problem(file, line, "kserveVersion",
                                   f"{model.name} runs in Standard mode: a canary needs spec.canary[] (KServe >= 0.20), found {o.kserve_version} "
                                   "(canaryTrafficPercent is silently ignored there); use a plan with steps [100] in this environment"))


def promote(env: Any, model: Model, state: ModelState | None, now: dt.datetime, *, to: int | None = None,
            ignore_bake_time: bool = False, skip_gates: bool = False,
            evaluate: Callable[[list[Any], ModelState], tuple[bool, list[Any]]] | None = None) -> Transition:
    """Move the candidate to the next step (or ``to``) after bake time and gates.

    ``evaluate(gates, state)`` returns (passed, results); a failed gate raises ``CheckFailed``.
    """
    from .gates import summarize

    name = f"{env.name}/{model.name}"
    if state is None or state.phase == "stable":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: no candidate to promote (stable: {stable}); start one with `servespec release`")
    if state.phase == "rolled-back":
        after = ModelState(phase="stable", stable=state.stable, since=_iso(now))
        subject = f"promote({name}): rolled-back -> stable {state.stable} (unpin)"
        return Transition("promote", env.name, model.name, state, after, subject, _describe(state, ""), _describe(after, ""))
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
        waited = (now - _parse_time(state.since)).total_seconds()
        if waited < bake:
            raise CheckFailed(f"{name}: bake time not over: at {state.traffic}% since {state.since}, "
                              f"{_secs(bake)} required, {_secs(bake - waited)} left (--ignore-bake-time to skip)")
    gate_lines: list[str] = []
    gate_trailer = ""
    last_gate = LastGate(result="skipped", at=_iso(now), summary="--skip-gates")
    gates = plan.effective_gates(model.deployment_mode, env.overlay.monitoring.metrics)
    if not skip_gates and gates:
        if evaluate is None:
            raise PromoteError(f"{name}: the plan has gates ({', '.join(g.name for g in gates)}) and no Prometheus URL is known: "
                               "pass --prometheus URL or set rollout.prometheusUrl in the overlay")
        ok, results = evaluate(gates, state)
        gate_lines = [str(r) for r in results]
        if not ok:
            raise CheckFailed([f"{name}: gate failed, staying at {state.traffic}%: {r}" for r in results if not r.passed])
        gate_trailer = summarize(results)
        last_gate = LastGate(result="passed", at=_iso(now), summary=gate_trailer)
    elif not skip_gates:
        last_gate = LastGate(result="passed", at=_iso(now), summary="no gates")
    traffic = steps[index]
    if traffic == 100:
        after = ModelState(phase="stable", stable=state.candidate, since=_iso(now), last_gate=last_gate)
        subject = f"promote({name}): {state.traffic}% -> 100% (step {index + 1}/{len(steps)}), {state.candidate} is stable"
    else:
        after = ModelState(phase="canary", stable=state.stable, candidate=state.candidate, step=index + 1, traffic=traffic,
                           since=_iso(now), last_gate=last_gate)
        subject = f"promote({name}): {state.traffic}% -> {traffic}% (step {index + 1}/{len(steps)})"
    return Transition("promote", env.name, model.name, state, after, subject, _describe(state, ""), _describe(after, ""),
                      gate_lines, gate_trailer, flags)


def rollback(env: Any, model: Model, state: ModelState | None, now: dt.datetime) -> Transition:
    """All traffic back to the stable version at once."""
    name = f"{env.name}/{model.name}"
    if state is None or state.phase != "canary":
        stable = state.stable if state else model.predictor.storage_uri
        raise PromoteError(f"{name}: nothing to roll back: no candidate under canary (stable: {stable}); "
                           "to go back to an older version, release it")
    after = ModelState(phase="rolled-back", stable=state.stable, rolled_back=state.candidate, traffic=0, since=_iso(now),
                       last_gate=state.last_gate)
    subject = f"rollback({name}): {state.traffic}% -> 0%, all traffic to {state.stable}"
    return Transition("rollback", env.name, model.name, state, after, subject, _describe(state, ""), _describe(after, ""))


def _secs(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# -- writing ------------------------------------------------------------------------------------
_HEADER = ("# Rollout state of environment {env!r}: written only by `servespec release/promote/rollback`.\n"
           "# Each change is one commit together with the re-rendered rendered/{env}/.\n")


def write_state(root: Path, env: str, model: str, after: ModelState) -> None:
    """Set one model's entry (round trip: comments, order and other entries untouched)."""
    from ruamel.yaml.comments import CommentedMap

    from .yamlio import roundtrip_dump, roundtrip_load

    path = state_path(root, env)
    text = path.read_text(encoding="utf-8") if path.is_file() else _HEADER.format(env=env)
    doc = roundtrip_load(text)
    if doc is None:
        doc = roundtrip_load(text + "models: {}\n")
    if doc.get("models") is None:
        doc["models"] = CommentedMap()
    models = doc["models"]
    if getattr(models, "fa", None) is not None:
        models.fa.set_block_style()
    new = after.model_dump(by_alias=True, exclude_none=True)
    if model not in models or not isinstance(models[model], dict):
        models[model] = CommentedMap()
        models = _sorted_insert(models, model)
        doc["models"] = models
    entry = models[model]
    for key in list(entry):
        if key not in new:
            del entry[key]
    for key, value in new.items():
        if isinstance(value, dict):
            sub = entry.get(key) if isinstance(entry.get(key), dict) else CommentedMap()
            for k in list(sub):
                if k not in value:
                    del sub[k]
            for k, v in value.items():
                sub[k] = v
            entry[key] = sub
        elif entry.get(key) != value:
            entry[key] = value
    path.write_text(roundtrip_dump(doc), encoding="utf-8")


def _sorted_insert(models: Any, name: str) -> Any:
    """Keep model entries in name order when adding one (stable diffs)."""
    keys = [k for k in models if k != name]
    pos = sum(1 for k in keys if str(k) < name)
    value = models.pop(name)
    models.insert(pos, name, value)
    return models


# -- status -------------------------------------------------------------------------------------
def status_rows(env: Any, models: dict[str, Model], state: dict[str, ModelState]) -> list[dict[str, Any]]:
    """One row per rendered model: what ``status`` prints (JSON keys are stable API)."""
    rows = []
    for name, model in sorted(models.items()):
        s = state.get(name)
        steps = plan_for(model, env).traffic
        if s is None:
            row = {"stable": model.predictor.storage_uri, "candidate": None, "traffic_percent": 100, "phase": "stable",
                   "step": None, "since": None, "last_gate": None, "rolled_back": None}
        else:
            row = {"stable": s.stable, "candidate": s.candidate,
                   "traffic_percent": s.traffic if s.phase == "canary" else 0 if s.phase == "rolled-back" else 100,
                   "phase": s.phase, "step": s.step, "since": s.since,
                   "last_gate": s.last_gate.model_dump() if s.last_gate else None, "rolled_back": s.rolled_back}
        rows.append({"model": name, "env": env.name, **row, "steps": steps, "managed": s is not None,
                     "version": version_id(row["candidate"] or row["stable"])})
    return rows


# -- running a change: state file + re-render + one commit (+ push) ------------------------------
@dataclass
class Outcome:
    """What a command did: the transition (None: nothing to do), its commit and push attempts."""

    transition: Transition | None
    commit: str | None = None
    pushes: int = 0


Compute = Callable[[Any, Model, "ModelState | None", dt.datetime], "Transition | None"]


def _load(root: Path, env_name: str, model_name: str) -> tuple[Any, Any, Model, ModelState | None]:
    from .emit import build_context
    from .project import Project

    project = Project.load(root, [env_name])
    ctx = build_context(project, env_name)
    if model_name not in ctx.models:
        what = "is disabled in" if model_name in project.specs.models else "is not a model of"
        raise PromoteError(Problem("", None, "MODEL", f"{model_name!r} {what} env {env_name!r} (models: {', '.join(sorted(ctx.models)) or 'none'})"))
    return project, ctx, ctx.models[model_name], ctx.rollout.get(model_name)


def _apply(root: Path, ctx: Any, t: Transition, repo: Any, author: Any, trailers: dict[str, str]) -> str | None:
    """Write the state, re-render what it changes (restoring the state on any error), commit both."""
    from .gitrepo import commit_paths

    path = state_path(root, t.env)
    before = path.read_bytes() if path.is_file() else None
    write_state(root, t.env, t.model, t.after)
    try:
        _rerender(root, ctx, t)
    except BaseException:
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)
        raise
    rel_state = path.relative_to(root).as_posix()
    return commit_paths(repo, root, [rel_state, f"rendered/{t.env}"], t.message(trailers), author)


def _rerender(root: Path, ctx: Any, t: Transition) -> None:
    """Re-render the environment with the new state. Every emitter runs, but only the objects of
    this model and the environment-wide ones are serialized and compared: a rollout commit never
    carries unrelated drift, and a promote stays fast on a thousand models. When the set of files
    would change, the whole environment is rendered and swapped instead."""
    import dataclasses
    import os

    from .emit import emit_env
    from .render import RENDERED, write_env
    from .render_cache import RenderCache
    from .yamlio import dump

    new_ctx = dataclasses.replace(ctx, rollout={**ctx.rollout, t.model: t.after}, extra={})
    cache = RenderCache(root)
    outputs = emit_env(new_ctx, cache.per_model(new_ctx))  # unchanged models come from the cache

    def data(out: Any) -> bytes:
        return out.data if out.data is not None else dump(out.obj).encode("utf-8")

    target = root / RENDERED / t.env
    on_disk = {(Path(d) / n).relative_to(target).as_posix() for d, _s, names in os.walk(target) for n in names}
    if on_disk != {o.path for o in outputs}:
        write_env(root, t.env, {o.path: data(o) for o in outputs}, cache)
    else:
        for out in outputs:
            if out.model not in (t.model, None):
                continue
            new = data(out)
            dest = target / out.path
            if dest.read_bytes() != new:
                tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
                tmp.write_bytes(new)
                os.replace(tmp, dest)
    cache.save()


def run(root: Path, env_name: str, model_name: str, compute: Compute, *, author: str | None = None,
        push: tuple[str, str | None] | None = None, now: dt.datetime | None = None,
        log: Callable[[str], None] = lambda _m: None) -> Outcome:
    """Apply one transition as one commit; with ``push=(remote, branch)`` push it, retrying
    rejected pushes by re-applying the same transition on the new upstream."""
    from .gitrepo import PushFailed, ensure_clean, open_repo, push_with_retry, resolve_author

    repo = open_repo(root)
    ensure_clean(repo, root, env_name)
    if push and push[0] not in [r.name for r in repo.remotes]:
        known = ", ".join(sorted(r.name for r in repo.remotes)) or "none"
        raise GitError(Problem("--remote", None, "", f"no such remote {push[0]!r} (remotes: {known}); nothing committed"))
    start = repo.head.commit.hexsha
    who = resolve_author(author, repo)
    now = now or now_utc()
    _project, ctx, model, state = _load(root, env_name, model_name)
    t = compute(ctx.env, model, state, now)
    if t is None:
        return Outcome(None)
    sha = _apply(root, ctx, t, repo, who, {})
    out = Outcome(t, sha)
    if push and sha:
        remote, branch = push
        branch = branch or repo.active_branch.name

        def reapply() -> str | None:
            _p, ctx2, _m, state2 = _load(root, env_name, model_name)
            if (state2.model_dump() if state2 else None) != (t.before.model_dump() if t.before else None):
                raise RaceLost(f"{env_name}/{model_name} changed upstream while this {t.action} ran: now {_describe(state2, model.predictor.storage_uri)}, "
                               f"expected {t.from_desc}; nothing pushed, the branch is at {remote}/{branch}: re-run the command")
            new = _apply(root, ctx2, t, repo, who, {})
            out.commit = new
            return new

        try:
            out.pushes = push_with_retry(repo, remote, branch, reapply, log=log, author=who)
        except PushFailed as exc:
            # Undo the local commit: a re-run must redo the whole change (the commit alone
            # could never be pushed by re-running the command, which would find it applied).
            repo.git.reset("-q", "--hard", start)
            raise PushFailed([*exc.problems, Problem(message=f"the local commit was undone (HEAD is back at {start[:10]}): fix the cause and re-run the command")]) from None
    return out


def promote_all(root: Path, env_name: str, step: Callable[[str], Outcome], log: Callable[[str], None]) -> tuple[list[Outcome], list[str]]:
    """Promote every model of ``env`` under canary: (outcomes, failures). Bake time not over is
    skipped, not a failure (``promote --all`` is for a scheduled job)."""
    from .emit import build_context
    from .project import Project

    ctx = build_context(Project.load(root, [env_name]), env_name)
    due = [n for n, s in sorted(ctx.rollout.items()) if s.phase == "canary" and n in ctx.models]
    outcomes, failures = [], []
    for name in due:
        try:
            outcomes.append(step(name))
        except CheckFailed as exc:
            msgs = [str(p) for p in exc.problems]
            if all("bake time not over" in m for m in msgs):
                log(f"{env_name}/{name}: not due: {msgs[0].split(': bake time not over: ', 1)[-1]}")
                continue
            failures.extend(msgs)
    if not due:
        log(f"{env_name}: no model under canary")
    return outcomes, failures
