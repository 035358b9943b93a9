"""The environment's inference-log sink: the seed's "message dumper".

When an overlay sets ``monitoring.messageDumper.enabled: true``, ``logging/`` gets a Deployment
and a Service named ``message-dumper`` running Knative's event-display image (which prints every
CloudEvent KServe's logger posts), and models whose logger sets no URL log to it (unless the
overlay's ``defaults.loggerUrl`` says otherwise). Built-in kinds only, so it validates and runs
without Knative Serving's CRDs.
"""

from __future__ import annotations

from typing import Any

from .context import EnvContext, Output, base_labels

__all__ = ["emit", "PORT"]

PORT = 8080
"""Port event-display listens on."""


def emit(ctx: EnvContext) -> list[Output]:
    """Deployment + Service of the message dumper, or nothing."""
    dumper = ctx.env.overlay.monitoring.message_dumper
    if not dumper.enabled:
        return []
    labels = {**base_labels(), "app.kubernetes.io/name": dumper.name, "app.kubernetes.io/component": "inference-logger"}
    selector = {"app.kubernetes.io/name": dumper.name}
    meta = {"name": dumper.name, "namespace": ctx.namespace, "labels": labels}
    container: dict[str, Any] = {
        "name": "event-display",
        "image": dumper.image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(selector), "annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": dict(meta),
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [Output("logging/message-dumper-deployment.yaml", deployment),
            Output("logging/message-dumper-service.yaml", service)]
