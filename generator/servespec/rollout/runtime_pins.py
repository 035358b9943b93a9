"""Runtime pins of the rollout state: a model that uses a ``Runtime`` spec records which rendered runtime
(``<name>-<hash>``) its stable version runs on (``runtime``) and, under canary, its candidate's
(``candidate_runtime``). Rendering follows the pins, so a changed runtime reaches a managed model only
through its ``release`` (a canary through the plan and its gates), never by a re-render. Pure functions
of (model, state before, state after), used by ``transitions.py``."""

from __future__ import annotations

from ..spec import Model, Runtime
from ..spec.rollout import ModelState

__all__ = ["spec_runtime", "stable_runtime", "runtime_changed", "pin_release", "pin_promote", "pin_rollback", "describe_runtime"]


def spec_runtime(model: Model) -> str | None:
    """The rendered name of the model's ``Runtime`` spec (None for a runtime named by string, or none)."""
    rt = model.predictor.runtime
    return rt.rendered_name if isinstance(rt, Runtime) else None


def stable_runtime(model: Model, state: ModelState | None) -> str | None:
    """The runtime the stable version runs on: the state's pin, else what is rendered now (the spec's)."""
    if state is not None and state.runtime:
        return state.runtime
    return spec_runtime(model)


def runtime_changed(model: Model, state: ModelState | None) -> bool:
    """Whether the spec's runtime differs from the stable version's (a ``release`` of the same URI then
    canaries the runtime alone)."""
    return state is not None and spec_runtime(model) is not None and stable_runtime(model, state) != spec_runtime(model)


def pin_release(model: Model, before: ModelState | None, after: ModelState) -> ModelState:
    """A release: the stable keeps its runtime, the candidate gets the spec's (at 100%: the stable does)."""
    new = spec_runtime(model)
    if new is None and (before is None or not before.runtime):
        return after
    if after.phase == "canary":
        return after.model_copy(update={"runtime": stable_runtime(model, before), "candidate_runtime": new})
    return after.model_copy(update={"runtime": new})


def pin_promote(model: Model, before: ModelState, after: ModelState) -> ModelState:
    """A promotion: at 100% the candidate's runtime becomes the stable's; below it both pins stay."""
    if after.phase == "stable" and before.phase == "canary":
        runtime = before.candidate_runtime or before.runtime
        return after.model_copy(update={"runtime": runtime}) if runtime else after
    update = {"runtime": before.runtime, "candidate_runtime": before.candidate_runtime if after.phase == "canary" else None}
    return after.model_copy(update={k: v for k, v in update.items() if v is not None})


def pin_rollback(before: ModelState, after: ModelState) -> ModelState:
    """A rollback: the stable's runtime stays pinned, the candidate's goes."""
    return after.model_copy(update={"runtime": before.runtime}) if before.runtime else after


def describe_runtime(before: str | None, after: str | None) -> str:
    """`` (runtime a -> b)`` for a commit subject when a release changes the runtime, else ``""``."""
    return f" (runtime {before} -> {after})" if after and before != after else ""
