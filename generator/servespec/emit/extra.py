"""The environment's extra manifests (overlay ``extraManifests``): Kubernetes objects servespec does not
model, rendered as written (plus servespec's label) under ``common/extra/<kind>-<name>.yaml``;
``resolve.py`` checked that ``validate`` has a schema for each."""

from __future__ import annotations

from .context import EnvContext, Output, base_labels

__all__ = ["emit"]


def emit(ctx: EnvContext) -> list[Output]:
    """Every extra manifest of the environment."""
    out = []
    for x in ctx.env.overlay.extra_manifests:
        ns = "" if x.cluster_scoped else f"{x.metadata.namespace}-" if x.metadata.namespace else ""
        out.append(Output(f"extra/{x.kind.lower()}-{ns}{x.metadata.name}.yaml", dict(x.k8s(ctx.namespace, base_labels()))))
    return out
