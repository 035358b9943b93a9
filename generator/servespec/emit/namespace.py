"""The environment's Namespace, when the overlay sets ``createNamespace``."""

from __future__ import annotations

from .context import EnvContext, Output, base_labels

__all__ = ["emit"]


def emit(ctx: EnvContext) -> list[Output]:
    """A Namespace object, or nothing."""
    overlay = ctx.env.overlay
    if not overlay.create_namespace:
        return []
    labels = {**base_labels(), **overlay.namespace_labels}
    return [Output("namespace.yaml", {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": overlay.namespace, "labels": labels},
    })]
