"""Emitters: one module per family of objects, each a function ``emit(ctx) -> list[Output]``.

``emit_env`` runs them all for one environment and returns every output file of
``rendered/<env>/`` (kustomization.yaml included), keyed by path. Adding a kind of object means
adding a module here and one line to ``EMITTERS``.
"""

from __future__ import annotations

from .context import EnvContext, Output, build_context
from . import dashboards, delivery, inferenceservice, kustomization, logging_sink, monitoring, namespace, storage

__all__ = ["EMITTERS", "EnvContext", "Output", "build_context", "emit_env"]

EMITTERS = [
    namespace.emit,
    storage.emit,
    inferenceservice.emit,
    monitoring.emit,
    dashboards.emit,
    logging_sink.emit,
]
"""Every emitter of the environment's objects (their order does not matter: each kustomization
lists its objects by kind, then path)."""


def emit_env(ctx: EnvContext) -> list[Output]:
    """All objects of one environment plus its ``kustomization.yaml``."""
    outputs: list[Output] = []
    for emitter in EMITTERS:
        outputs.extend(emitter(ctx))
    outputs = kustomization.layout(ctx, outputs)  # units: common/, models/<name>/ or shards/<k>/
    outputs.extend(delivery.emit(ctx))  # bootstrap/: the controller objects, built from the units
    return outputs
