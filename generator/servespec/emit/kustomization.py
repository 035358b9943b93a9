"""``kustomization.yaml`` of an environment: every rendered file, nothing else.

No ``namespace:``/``namePrefix`` transformers: names and namespaces are final in the objects
themselves (TOOLCHAIN.md §2: the transformers break references and double the build time).
"""

from __future__ import annotations

from .context import EnvContext, Output

__all__ = ["emit", "KIND_RANK"]

KIND_RANK = {
    "Namespace": 0, "Secret": 1, "ExternalSecret": 1, "SealedSecret": 1, "ServiceAccount": 2,
    "ConfigMap": 3, "Service": 4, "Deployment": 4, "InferenceService": 5, "PodMonitor": 6, "PrometheusRule": 6,
}
"""Listing order of kinds; unknown kinds come after these."""


def emit(ctx: EnvContext, outputs: list[Output]) -> list[Output]:
    """The kustomization listing ``outputs`` by kind rank, then path."""
    ordered = sorted(outputs, key=lambda o: (KIND_RANK.get(o.obj["kind"], 50), o.path))
    return [Output("kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [o.path for o in ordered],
    })]
