"""Storage credentials (Secret, ExternalSecret or SealedSecret) and the ServiceAccount per endpoint, and the
environment's own ServiceAccounts (``serviceAccounts:``, typically bound to a cloud identity).

KServe's storage initializer finds an endpoint's Secret through the ServiceAccount's ``secrets:`` and
tells the kind of storage by the Secret's keys (S3 keys, ``gcloud-application-credentials.json``, Azure
keys, ``https-host``/``headers``, ``HF_TOKEN``; KSERVE.md §5). An S3 Secret carries KServe's
``serving.kserve.io/s3-*`` annotations; with an IAM role (IRSA) they go on the ServiceAccount instead,
which KServe reads there. A workload identity binds the ServiceAccount to a cloud identity by
annotation, with no Secret at all.
"""

from __future__ import annotations

import base64
from typing import Any

from ..spec import (
    AwsIamRole,
    ExistingSecret,
    ExternalSecretCredentials,
    PlaintextCredentials,
    S3Storage,
    SealedSecretCredentials,
)
from ..spec.storage_kinds import HTTPS_HOST, HTTPStorage, Storage
from .context import EnvContext, Output, base_labels, identity_annotations

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


def _secret_annotations(s: Storage) -> dict[str, str]:
    return s3_annotations(s) if isinstance(s, S3Storage) else {}


def _plain_keys(s: Storage) -> dict[str, str]:
    """Keys of the Secret that are not secret (HTTP storage's host)."""
    return {HTTPS_HOST: s.host} if isinstance(s, HTTPStorage) else {}


def emit(ctx: EnvContext) -> list[Output]:
    """Credentials and ServiceAccount for every storage endpoint the environment uses, and the env's own
    ServiceAccounts."""
    out: list[Output] = []
    for s in ctx.storage.values():  # plaintext credentials reach here only where allowed (resolve.py)
        secret = _credentials(ctx, s) if s.has_secret else None
        if secret is not None:
            out.append(Output(f"storage/{s.name}/{secret['kind'].lower()}.yaml", secret))
        annotations = identity_annotations(s.identity)
        if isinstance(s, S3Storage) and isinstance(s.identity, AwsIamRole):
            annotations.update(s3_annotations(s))  # IRSA: KServe reads the s3-* annotations from the ServiceAccount
        sa: dict[str, Any] = {"name": s.effective_service_account_name, "namespace": ctx.namespace, "labels": base_labels()}
        if annotations:
            sa["annotations"] = dict(sorted(annotations.items()))
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa}
        if s.has_secret:
            obj["secrets"] = [{"name": s.effective_secret_name}]
        out.append(Output(f"storage/{s.name}/serviceaccount.yaml", obj))
    for name, account in sorted(ctx.env.overlay.service_accounts.items()):
        meta: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "labels": {**base_labels(), **account.labels}}
        annotations = {**account.annotations, **identity_annotations(account.identity)}
        if annotations:
            meta["annotations"] = dict(sorted(annotations.items()))
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
        if account.secrets:
            body["secrets"] = [{"name": n} for n in account.secrets]
        if account.image_pull_secrets:
            body["imagePullSecrets"] = [{"name": n} for n in account.image_pull_secrets]
        out.append(Output(f"serviceaccounts/{name}.yaml", body))
    return out


def _credentials(ctx: EnvContext, s: Storage) -> dict[str, Any] | None:
    name, ns, ann = s.effective_secret_name, ctx.namespace, _secret_annotations(s)
    creds = s.credentials
    if isinstance(creds, ExistingSecret):
        return None
    if isinstance(creds, ExternalSecretCredentials):
        return _external_secret(ctx, s, creds)
    if isinstance(creds, SealedSecretCredentials):
        meta_ann = {}
        if creds.scope == "namespace-wide":
            meta_ann["sealedsecrets.bitnami.com/namespace-wide"] = "true"
        elif creds.scope == "cluster-wide":
            meta_ann["sealedsecrets.bitnami.com/cluster-wide"] = "true"
        meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": base_labels()}
        if meta_ann:
            meta["annotations"] = meta_ann
        template: dict[str, Any] = {"type": "Opaque", "metadata": {"name": name, "namespace": ns, **({"annotations": ann} if ann else {})}}
        if _plain_keys(s):
            template["data"] = _plain_keys(s)
        return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta,
                "spec": {"encryptedData": dict(sorted(creds.keys().items())), "template": template}}
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "annotations": ann, "labels": base_labels()},
        "type": "Opaque",
    }
    if not ann:
        del secret["metadata"]["annotations"]
    if isinstance(creds, PlaintextCredentials):
        values = {**creds.keys(), **_plain_keys(s)}
        secret["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())}
    return secret


def _external_secret(ctx: EnvContext, s: Storage, creds: ExternalSecretCredentials) -> dict[str, Any]:
    name, ann = s.effective_secret_name, _secret_annotations(s)
    data = []
    for key, ref in sorted(creds.keys().items()):
        remote = {"key": ref.key}
        if ref.property:
            remote["property"] = ref.property
        data.append({"secretKey": key, "remoteRef": remote})
    template: dict[str, Any] = {"type": "Opaque"}
    if ann:
        template["metadata"] = {"annotations": ann}
    if _plain_keys(s):  # literal keys beside the fetched ones
        template["mergePolicy"] = "Merge"
        template["data"] = _plain_keys(s)
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": ctx.namespace, "labels": base_labels()},
        "spec": {
            "refreshInterval": creds.refresh_interval,
            "secretStoreRef": {"kind": creds.store_kind, "name": creds.store},
            "target": {"name": name, "creationPolicy": "Owner", "template": template},
            "data": data,
        },
    }
