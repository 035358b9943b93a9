"""Storage credentials (Secret, ExternalSecret or SealedSecret) and the ServiceAccount per endpoint.

The Secret carries KServe's ``serving.kserve.io/s3-*`` annotations; the ServiceAccount lists it
under ``secrets:``, which is how KServe's storage initializer finds it (KSERVE.md §5).
"""

from __future__ import annotations

import base64
from typing import Any

from ..spec import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    ExistingSecret,
    ExternalSecretCredentials,
    PlaintextCredentials,
    S3Storage,
    SealedSecretCredentials,
)
from .context import EnvContext, Output, base_labels

__all__ = ["emit", "s3_annotations"]


def s3_annotations(s: S3Storage) -> dict[str, str]:
    """KServe's S3 annotations for one endpoint (current keys, not KFServing's)."""
    ann = {
        "serving.kserve.io/s3-endpoint": s.endpoint,
        "serving.kserve.io/s3-usehttps": "1" if s.use_https else "0",
    }
    if not s.verify_ssl:
        ann["serving.kserve.io/s3-verifyssl"] = "0"
    if s.region:
        ann["serving.kserve.io/s3-region"] = s.region
    if s.anonymous:
        ann["serving.kserve.io/s3-useanoncredential"] = "true"
    return ann


def emit(ctx: EnvContext) -> list[Output]:
    """Credentials and ServiceAccount for every storage endpoint the environment uses."""
    out: list[Output] = []
    for s in ctx.storage.values():  # plaintext credentials reach here only where allowed (resolve.py)
        secret = _credentials(ctx, s)
        if secret is not None:
            out.append(Output(f"storage/{s.name}/{secret['kind'].lower()}.yaml", secret))
        out.append(Output(f"storage/{s.name}/serviceaccount.yaml", {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": s.effective_service_account_name, "namespace": ctx.namespace, "labels": base_labels()},
            "secrets": [{"name": s.effective_secret_name}],
        }))
    return out


def _credentials(ctx: EnvContext, s: S3Storage) -> dict[str, Any] | None:
    name, ns, ann = s.effective_secret_name, ctx.namespace, s3_annotations(s)
    creds = s.credentials
    if isinstance(creds, ExistingSecret):
        return None
    if isinstance(creds, ExternalSecretCredentials):
        def ref(secret_key: str, r: Any) -> dict[str, Any]:
            remote = {"key": r.key}
            if r.property:
                remote["property"] = r.property
            return {"secretKey": secret_key, "remoteRef": remote}

        return {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": ns, "labels": base_labels()},
            "spec": {
                "refreshInterval": creds.refresh_interval,
                "secretStoreRef": {"kind": creds.store_kind, "name": creds.store},
                "target": {
                    "name": name,
                    "creationPolicy": "Owner",
                    "template": {"type": "Opaque", "metadata": {"annotations": ann}},
                },
                "data": [ref(ACCESS_KEY_ID, creds.access_key_id), ref(SECRET_ACCESS_KEY, creds.secret_access_key)],
            },
        }
    if isinstance(creds, SealedSecretCredentials):
        meta_ann = {}
        if creds.scope == "namespace-wide":
            meta_ann["sealedsecrets.bitnami.com/namespace-wide"] = "true"
        elif creds.scope == "cluster-wide":
            meta_ann["sealedsecrets.bitnami.com/cluster-wide"] = "true"
        meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": base_labels()}
        if meta_ann:
            meta["annotations"] = meta_ann
        return {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": meta,
            "spec": {
                "encryptedData": {ACCESS_KEY_ID: creds.access_key_id, SECRET_ACCESS_KEY: creds.secret_access_key},
                "template": {"type": "Opaque", "metadata": {"name": name, "namespace": ns, "annotations": ann}},
            },
        }
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "annotations": ann, "labels": base_labels()},
        "type": "Opaque",
    }
    if isinstance(creds, PlaintextCredentials):
        secret["data"] = {
            ACCESS_KEY_ID: base64.b64encode(creds.access_key_id.encode()).decode(),
            SECRET_ACCESS_KEY: base64.b64encode(creds.secret_access_key.encode()).decode(),
        }
    return secret
