"""``servespec promote --all``: every canary of an environment, one verdict per model.

What a scheduled job runs. Each model under canary is promoted on its own (its own commit and
push, as ``promote MODEL``), and whatever happens to one model never stops the others. Each ends
in one of: ``promoted``; ``waiting`` (bake time not over, the canary not live, too little
traffic: nothing committed); ``skipped`` (the environment is inside a freeze or outside its
rollout windows: nothing committed, the line says when it opens); ``failed`` (a gate failed,
held at the step, or the state changed upstream meanwhile); ``rolled-back`` (a decisive gate
failure under ``onFailure: rollback``: the rollback is committed); ``error`` (bad input for
that model, e.g. a gate query Prometheus rejects).

Exit code of the run, worst first: 2 if any model had an error, else 1 if any failed or was
rolled back, else 3 if any waits for traffic (not live, too little traffic), else 0 (promoted,
skipped, or nothing due: waiting for bake time or a window is what a scheduled job expects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import CheckFailed, Closed, NotDecided, ServespecError
from ..project import Project
from ..resolve import build_context
from .apply import Log, Outcome, PromoteOptions, Push, load_project, promote
from .transitions import Transition

__all__ = ["ModelResult", "BatchReport", "promote_all", "batch_result", "committed_result", "Result"]

Result = Literal["promoted", "waiting", "skipped", "failed", "rolled-back", "error"]


def _quiet(_message: str) -> None:
    pass


@dataclass
class ModelResult:
    """What ``promote --all`` did with one model."""

    model: str
    result: Result
    message: str
    """One line, without the model's name: what happened, with the numbers."""
    reason: str | None = None
    """For ``waiting``: ``bake-time``, ``not-live`` or ``too-little-traffic``."""
    commit: str | None = None
    pushes: int = 0
    subject: str | None = None
    """The commit's subject line (promoted, rolled back)."""
    gates: list[str] = field(default_factory=list)
    """One line per gate evaluated."""

    def line(self, env: str) -> str:
        """``prod/census-income: promoted: ...``: the line ``promote --all`` prints."""
        what = f"waiting ({self.reason})" if self.result == "waiting" and self.reason else self.result
        return f"{env}/{self.model}: {what}: {self.message}"

    def as_json(self, env: str) -> dict[str, object]:
        """The model's entry of ``promote --all --output json`` (keys are stable API)."""
        return {"model": self.model, "result": self.result, "reason": self.reason, "message": self.message,
                "commit": self.commit, "pushes": self.pushes, "subject": self.subject, "gates": self.gates,
                "line": self.line(env)}


@dataclass
class BatchReport:
    """Every model's verdict and the run's exit code."""

    env: str
    models: list[ModelResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """2 an error, else 1 a failure or rollback, else 3 waiting for traffic, else 0."""
        results = {m.result for m in self.models}
        if "error" in results:
            return 2
        if results & {"failed", "rolled-back"}:
            return 1
        if any(m.result == "waiting" and m.reason != "bake-time" for m in self.models):
            return 3
        return 0

    def lines(self) -> list[str]:
        """One line per model (or one saying there is no canary)."""
        return [m.line(self.env) for m in self.models] or [f"{self.env}: no model under canary"]

    def as_json(self) -> dict[str, object]:
        """``promote --all --output json``."""
        return {"env": self.env, "exit_code": self.exit_code, "models": [m.as_json(self.env) for m in self.models]}


def batch_result(env_name: str, name: str, attempt: Callable[[str], Outcome]) -> ModelResult:
    """One model's (or LLM's) line of ``promote --all``: ``attempt(name)`` run, what it raised told
    apart (skipped by a freeze or window, waiting, failed, error)."""
    where = f"{env_name}/{name}"
    try:
        return committed_result(name, attempt(name))
    except Closed as exc:
        return ModelResult(name, "skipped", "; ".join(p.message.removeprefix(f"{where}: ") for p in exc.problems))
    except NotDecided as exc:
        return ModelResult(name, "waiting", exc.waiting or _unprefixed(exc, where), exc.reason)
    except CheckFailed as exc:
        return ModelResult(name, "failed", _unprefixed(exc, where))
    except ServespecError as exc:
        return ModelResult(name, "error", _unprefixed(exc, where))


def committed_result(name: str, out: Outcome) -> ModelResult:
    t: Transition | None = out.transition
    if t is None or out.commit is None:
        return ModelResult(name, "promoted", "nothing changed, no commit")
    pushed = f", pushed ({out.pushes} attempt{'s' if out.pushes != 1 else ''})" if out.pushes else ""
    if out.proposal is not None:
        msg = f"{t.subject.split(': ', 1)[1]} proposed on branch {out.proposal.branch} [{out.commit[:10]}]{pushed}"
        return ModelResult(name, "promoted", msg, None, out.commit, out.pushes, t.subject, t.gate_lines)
    if t.failures:
        msg = f"{t.reason}: all traffic to {t.after.stable} [{out.commit[:10]}]{pushed}"
        return ModelResult(name, "rolled-back", msg, None, out.commit, out.pushes, t.subject, t.gate_lines)
    msg = f"{t.subject.split(': ', 1)[1]} [{out.commit[:10]}]{pushed}"
    return ModelResult(name, "promoted", msg, None, out.commit, out.pushes, t.subject, t.gate_lines)


def _unprefixed(exc: ServespecError, name: str) -> str:
    return "; ".join(str(p).removeprefix(f"{name}: ") for p in exc.problems)


_DEFAULT_OPTIONS = PromoteOptions()


def promote_all(root: Path, env_name: str, options: PromoteOptions = _DEFAULT_OPTIONS, *, author: str | None = None,
                push: Push | None = None, log: Log = _quiet, break_glass: str | None = None, project: Project | None = None) -> BatchReport:
    """``servespec promote --all``: promote every model of ``env_name`` under canary, each on its
    own; one :class:`ModelResult` per model, never stopping at the first problem. ``project``
    (``apply.load_project``, None: loaded here) serves every model when nothing is pushed (a
    rejected push brings upstream's specs: with ``push`` each model loads the repo again)."""
    project = project or load_project(root, [env_name])
    ctx = build_context(project, env_name)
    report = BatchReport(env_name)
    for name in [n for n, s in sorted(ctx.rollout.items()) if s.phase == "canary" and n in ctx.models]:
        report.models.append(batch_result(env_name, name, lambda n: promote(
            root, env_name, n, options, author=author, push=push, log=log, break_glass=break_glass, project=None if push else project)))
    return report
