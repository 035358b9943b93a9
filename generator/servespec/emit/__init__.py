"""Emitters: one module per family of objects, registered here.

A *model emitter* ``emit_model(ctx, model) -> list[Output]`` renders one model's objects, under
``models/<name>/``, from that model and the environment alone: never from other models, which is
what lets a render reuse the output of every model that did not change (``cache/render.py``).
An *environment emitter* ``emit(ctx) -> list[Output]`` renders what belongs to no model or to
all of them (Namespace, storage and ServiceAccounts, overview dashboard, message dumper, serving runtimes,
InferenceGraphs, extra manifests). Emitters only build
objects: ``resolve.py`` has checked the context, so they never raise, and they do not import
each other (shared helpers live in ``context.py`` and ``isvc/common.py``). Adding a kind of
object means adding a module here and one line to ``MODEL_EMITTERS`` or ``ENV_EMITTERS``.

``emit_env`` runs them all for one environment, lays the result out in units with their
kustomizations (``layout.py``), then adds the controller objects of those units (``delivery.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..spec import LLM, Model
from . import (dashboards, delivery, extra, graph, isvc, layout, llm, llm_dashboards, llm_monitoring, llm_presets,
               logging_sink, monitoring, namespace, runtime, storage)
from ..cache.warm import scope
from ..envparts import pins
from .context import EnvContext, Output

__all__ = ["MODEL_EMITTERS", "ENV_EMITTERS", "LLM_EMITTERS", "Output", "emit_env", "emit_units", "emit_model", "emit_llm", "env_view"]

MODEL_EMITTERS: list[Callable[[EnvContext, Model], list[Output]]] = [
    isvc.emit_model,
    monitoring.emit_model,
    dashboards.emit_model,
]
"""Emitters of one model's objects."""

ENV_EMITTERS: list[Callable[[EnvContext], list[Output]]] = [
    namespace.emit,
    storage.emit,
    dashboards.emit,
    logging_sink.emit,
    runtime.emit,
    graph.emit,
    extra.emit,
    llm_presets.emit,
]
"""Emitters of the environment-wide objects (their order does not matter: each kustomization
lists its objects by kind, then path)."""


LLM_EMITTERS: list[Callable[[EnvContext, LLM], list[Output]]] = [
    llm.emit_llm,
    llm_monitoring.emit_llm,
    llm_dashboards.emit_llm,
]
"""Emitters of one LLM's objects (``LLMInferenceService`` and what goes with it), under ``models/<llm>/``."""


def emit_llm(ctx: EnvContext, one: LLM) -> list[Output]:
    """Every object of one LLM."""
    return [out for emitter in LLM_EMITTERS for out in emitter(ctx, one)]


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """Every object of one model."""
    return [out for emitter in MODEL_EMITTERS for out in emitter(ctx, model)]


def emit_env(ctx: EnvContext, per_model: Callable[[Model], list[Output]] | None = None) -> list[Output]:
    """All objects of one environment plus its kustomizations and controller objects.

    ``per_model`` replaces :func:`emit_model` (the render cache passes one that reuses earlier
    output).
    """
    units, controllers = emit_units(ctx, per_model)
    return [*units.outputs, *controllers]


def emit_units(ctx: EnvContext, per_model: Callable[[Model], list[Output]] | None = None,
               models: list[list[Output]] | None = None) -> tuple[layout.Layout, list[Output]]:
    """:func:`emit_env` as its layout (every unit's outputs, the env's kustomization last) and the
    controller objects. ``models``: every model's outputs already at hand, in ``ctx.models``'
    order (``cache/render.RenderCache.groups``), instead of ``per_model`` of each."""
    groups = [_env_outputs(ctx)]
    if models is None:
        one = per_model or (lambda m: emit_model(ctx, m))
        models = [one(model) for model in ctx.models.values()]
    groups.extend(models)
    groups.extend(emit_llm(ctx, each) for each in ctx.llms.values())
    units = layout.layout(ctx, groups)  # units: common/, models/<name>/ or shards/<k>/
    return units, delivery.emit(ctx, units.units, units.members)  # bootstrap/: the controller objects


def env_view(ctx: EnvContext, model: Model) -> tuple[object, ...]:
    """All that the environment emitters read of one model: whether it is monitored and its mode
    (the overview dashboard), the runtimes it needs (the runtime emitter). A model emitter may read
    anything of its model; an environment emitter that reads more of a model must say so here."""
    return (model.monitoring.enabled, model.deployment_mode, tuple(pins(model, ctx.rollout.get(model.name))))


class _EnvOutputs:
    def __init__(self, serial: int, models: dict[str, Model], outputs: list[Output]):
        self.serial, self.models, self.outputs = serial, models, outputs


def _env_outputs(ctx: EnvContext) -> list[Output]:
    """What the environment emitters give for ``ctx``: in a long-lived process, the very list of
    the env's last call when ``ctx`` patched that call's context and no model resolved again
    looks different to them (:func:`env_view`)."""
    memo = scope(("env outputs", str(ctx.project.root), ctx.env.name), None)
    last = memo.hit("last")
    if isinstance(last, _EnvOutputs) and ctx.delta is not None and ctx.delta[0] == last.serial \
            and all(env_view(ctx, last.models[name]) == env_view(ctx, ctx.models[name]) for name in ctx.delta[1]):
        outputs = last.outputs
    else:
        outputs = [out for emitter in ENV_EMITTERS for out in emitter(ctx)]
    memo.put("last", _EnvOutputs(ctx.serial, ctx.models, outputs))
    return outputs
