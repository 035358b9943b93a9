"""ServingRuntimes and ClusterServingRuntimes of the ``Runtime`` specs the environment's models use or
their rollout states pin (``envparts.needed_runtimes``, from ``resolve.EnvContext.runtimes``), each at
``runtimes/<name>-<hash>.yaml`` in the env's ``common/`` unit; a runtime carried over from the committed
render is re-emitted as it was."""

from __future__ import annotations

from typing import Any

from ..envparts import needed_runtimes
from ..spec import Runtime
from ..spec.container import to_k8s
from .context import EnvContext, Output, base_labels

__all__ = ["emit", "runtime_object", "API_VERSION", "RUNTIME_LABEL"]

API_VERSION = "serving.kserve.io/v1alpha1"
RUNTIME_LABEL = "serving.servespec.io/runtime"
"""Label with the runtime's base name (all versions of one runtime share it)."""


def _resources(rt: Runtime) -> dict[str, dict[str, str]]:
    requests = {**rt.resources.requests, **rt.resources.fixed()}
    out = {"requests": dict(sorted(requests.items())), "limits": dict(sorted(rt.resources.limits.items()))}
    return {k: v for k, v in out.items() if v}


def runtime_object(ctx: EnvContext, rt: Runtime) -> dict[str, Any]:
    """The ServingRuntime (or ClusterServingRuntime) of one ``Runtime``, named with its spec hash."""
    meta: dict[str, Any] = {"name": rt.rendered_name, "labels": {**base_labels(), RUNTIME_LABEL: rt.name}}
    if not rt.cluster_scoped:
        meta["namespace"] = ctx.namespace
    container: dict[str, Any] = {**rt.container_body(), "name": "kserve-container", "image": rt.image}
    resources = _resources(rt)
    if resources:
        container["resources"] = resources
    spec: dict[str, Any] = {
        "supportedModelFormats": [to_k8s(f) for f in rt.supported_model_formats],
        "containers": [container],
    }
    if rt.protocol_versions:
        spec["protocolVersions"] = list(rt.protocol_versions)
    if rt.multi_model is not None:
        spec["multiModel"] = rt.multi_model
    for key, value in (("annotations", rt.annotations), ("labels", rt.labels), ("nodeSelector", rt.node_selector)):
        if value:
            spec[key] = dict(sorted(value.items()))
    if rt.tolerations:
        spec["tolerations"] = [to_k8s(t) for t in rt.tolerations]
    if rt.affinity is not None:
        spec["affinity"] = to_k8s(rt.affinity)
    if rt.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in rt.image_pull_secrets]
    if rt.volumes:
        spec["volumes"] = [to_k8s(v) for v in rt.volumes]
    return {"apiVersion": API_VERSION, "kind": rt.kind, "metadata": meta, "spec": spec}


def emit(ctx: EnvContext) -> list[Output]:
    """Every runtime the environment's models use or their rollout states pin (``envparts.needed_runtimes``;
    ``resolve.py`` made sure each is in ``ctx.runtimes``)."""
    out = []
    for name in needed_runtimes(ctx.models, ctx.rollout):
        obj = ctx.runtimes.get(name)
        if obj is not None:
            out.append(Output(f"runtimes/{name}.yaml", obj if isinstance(obj, dict) else runtime_object(ctx, obj)))
    return out
