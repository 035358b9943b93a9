"""Emitters: one module per family of objects.

A *model emitter* ``emit_model(ctx, model) -> list[Output]`` renders one model's objects, under
``models/<name>/``, from that model and the environment alone: never from other models, which is
what lets a render reuse the output of every model that did not change (``render_cache.py``).
An *environment emitter* ``emit(ctx) -> list[Output]`` renders what belongs to no model or to
all of them (Namespace, storage, overview dashboard, message dumper). Adding a kind of object
means adding a module here and one line to ``MODEL_EMITTERS`` or ``ENV_EMITTERS``.

``emit_env`` runs them all for one environment and lays the result out in units with their
kustomizations (``kustomization.py``), then adds the controller objects (``delivery.py``).
"""

from __future__ import annotations

from typing import Callable

from ..errors import Problem, RenderError
from ..spec import Model
from . import dashboards, delivery, inferenceservice, kustomization, logging_sink, monitoring, namespace, storage
from .context import EnvContext, Output, build_context

__all__ = ["MODEL_EMITTERS", "ENV_EMITTERS", "EnvContext", "Output", "build_context", "emit_env", "emit_model"]

MODEL_EMITTERS = [
    inferenceservice.emit_model,
    monitoring.emit_model,
    dashboards.emit_model,
]
"""Emitters of one model's objects."""

ENV_EMITTERS = [
    namespace.emit,
    storage.emit,
    dashboards.emit,
    logging_sink.emit,
]
"""Emitters of the environment-wide objects (their order does not matter: each kustomization
lists its objects by kind, then path)."""


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """Every object of one model."""
    return [out for emitter in MODEL_EMITTERS for out in emitter(ctx, model)]


def emit_env(ctx: EnvContext, per_model: Callable[[Model], list[Output]] | None = None) -> list[Output]:
    """All objects of one environment plus its kustomizations and controller objects.

    ``per_model`` replaces :func:`emit_model` (the render cache passes one that reuses earlier
    output). Problems of all models are reported together.
    """
    one = per_model or (lambda m: emit_model(ctx, m))
    problems: list[Problem] = []
    outputs: list[Output] = []
    for emitter in ENV_EMITTERS:
        try:
            outputs.extend(emitter(ctx))
        except RenderError as exc:
            problems.extend(exc.problems)
    for model in ctx.models.values():
        try:
            outputs.extend(one(model))
        except RenderError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RenderError(problems)
    outputs = kustomization.layout(ctx, outputs)  # units: common/, models/<name>/ or shards/<k>/
    outputs.extend(delivery.emit(ctx))  # bootstrap/: the controller objects, built from the units
    return outputs
