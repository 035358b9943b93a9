"""Where every model's rollout stands: what ``servespec status`` prints (JSON keys are stable API).

``spec_ahead`` is true when the model's spec was edited to a storage URI its rollout state
neither serves nor rolls out (``resolve.spec_ahead``); ``release_command`` is then the exact
command that releases the spec's version.

``promotion`` lists, for an environment whose overlay sets ``rollout.requires``, each version an
upstream environment serves as stable that this one does not serve yet: whether it may be
released here (``eligible``), since when (``eligible_since``) or why not (``reason``), and the
``release --from`` command; ``closed`` says why ``release``/``promote`` are refused now (a
freeze, outside the windows) and when they open (None: open).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..clock import now_utc
from ..metrics import version_id
from ..overlay import Env
from ..resolve import EnvContext, build_context
from ..resolve_state import plan_for
from ..resolve_ahead import spec_ahead
from ..spec import Model
from ..spec.rollout import ModelState
from .apply import load_project
from .llm_apply import llm_status_rows
from .policy import closure
from .promotion import promotion_entries
from .provenance import History

__all__ = ["status_rows", "context_rows", "repo_status"]


def repo_status(root: Path, envs: list[str] | None = None) -> list[dict[str, Any]]:
    """``servespec status``: one row per rendered model of every environment (or ``envs``)."""
    project = load_project(root, envs)
    rows: list[dict[str, Any]] = []
    now = now_utc()
    histories: dict[str, History] = {}
    for env in project.envs:
        ctx = build_context(project, env)
        shut = closure(ctx.env.overlay.rollout, now)
        promotion = promotion_entries(root, ctx.env, ctx.models, ctx.rollout, now, histories)
        for row in context_rows(ctx) + llm_status_rows(ctx):  # LLMs: rollout/llm_apply.py
            row.update(promotion=promotion.get(row["model"], []), closed=shut.message(now) if shut else None)
            rows.append(row)
    return rows


def context_rows(ctx: EnvContext) -> list[dict[str, Any]]:
    """The rows of one resolved environment, with ``spec_ahead`` and ``release_command``."""
    ahead = {a.model: a for a in spec_ahead(ctx)}
    rows = status_rows(ctx.env, ctx.models, ctx.rollout)
    for row in rows:
        a = ahead.get(row["model"])
        row.update(spec_ahead=a is not None, spec_storage_uri=ctx.models[row["model"]].predictor.storage_uri,
                   release_command=a.command if a else None)
    return rows


def status_rows(env: Env, models: dict[str, Model], state: dict[str, ModelState]) -> list[dict[str, Any]]:
    """One row per rendered model: what ``status`` prints (JSON keys are stable API)."""
    rows = []
    for name, model in sorted(models.items()):
        s = state.get(name)
        steps = plan_for(model, env).traffic
        row: dict[str, Any]
        if s is None:
            row = {"stable": model.predictor.storage_uri, "candidate": None, "traffic_percent": 100, "phase": "stable",
                   "step": None, "since": None, "last_gate": None, "rolled_back": None}
        else:
            row = {"stable": s.stable, "candidate": s.candidate,
                   "traffic_percent": s.traffic if s.phase == "canary" else 0 if s.phase == "rolled-back" else 100,
                   "phase": s.phase, "step": s.step, "since": s.since,
                   "last_gate": s.last_gate.model_dump() if s.last_gate else None, "rolled_back": s.rolled_back}
        rows.append({"model": name, "kind": "model", "env": env.name, **row, "steps": steps, "managed": s is not None,
                     "version": version_id(str(row["candidate"] or row["stable"]))})
    return rows
