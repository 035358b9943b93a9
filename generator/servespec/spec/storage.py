"""Storage endpoints (S3 here; GCS, Azure, Hugging Face and HTTP(S) in ``storage_kinds.py``), where their
credentials come from, and the cloud identities a ServiceAccount can be bound to instead of a key.

Every credential source holds a Secret's keys: ``data`` maps each key to where its value comes from (a
secret-manager entry, a sealed value, a plain value); the S3 fields ``access_key_id`` and
``secret_access_key`` are shorthands for ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, Self, TypeVar

from pydantic import Field, model_validator

from .base import Name, SpecModel, SubdomainName

__all__ = [
    "S3Storage",
    "RemoteRef",
    "ExternalSecretCredentials",
    "SealedSecretCredentials",
    "ExistingSecret",
    "PlaintextCredentials",
    "Credentials",
    "AwsIamRole",
    "GcpServiceAccount",
    "AzureManagedIdentity",
    "WorkloadIdentity",
    "StorageEndpoint",
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
]

ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"


class RemoteRef(SpecModel):
    """A value in the external secret manager."""

    key: str
    """Key (path) in the secret store."""
    property: str | None = None
    """Property within the key's value, for JSON values."""


class ExternalSecretCredentials(SpecModel):
    """Credentials synced from a secret manager by External Secrets Operator."""

    source: Literal["externalSecret"] = "externalSecret"
    store: SubdomainName
    """Name of the SecretStore or ClusterSecretStore."""
    store_kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    """Kind of the store."""
    access_key_id: RemoteRef | None = None
    """Where the access key id lives (S3: ``AWS_ACCESS_KEY_ID``)."""
    secret_access_key: RemoteRef | None = None
    """Where the secret access key lives (S3: ``AWS_SECRET_ACCESS_KEY``)."""
    data: dict[str, RemoteRef] = {}
    """Any other key of the Secret, e.g. ``{"HF_TOKEN": RemoteRef(key="ml/hf", property="token")}``."""
    refresh_interval: str = "1h"
    """How often the operator re-reads the store."""

    def keys(self) -> dict[str, RemoteRef]:
        """Every key of the Secret and where it comes from."""
        return {**_s3_keys(self.access_key_id, self.secret_access_key), **self.data}


class SealedSecretCredentials(SpecModel):
    """Credentials encrypted with ``kubeseal`` for the target cluster; safe to commit."""

    source: Literal["sealedSecret"] = "sealedSecret"
    access_key_id: str | None = None
    """Sealed (encrypted) access key id, as ``kubeseal --raw`` prints it (S3)."""
    secret_access_key: str | None = None
    """Sealed (encrypted) secret access key (S3)."""
    data: dict[str, str] = {}
    """Any other key of the Secret, sealed (``kubeseal --raw``)."""
    scope: Literal["strict", "namespace-wide", "cluster-wide"] = "strict"
    """Sealing scope used with kubeseal."""

    def keys(self) -> dict[str, str]:
        """Every key of the Secret and its sealed value."""
        return {**_s3_keys(self.access_key_id, self.secret_access_key), **self.data}


class ExistingSecret(SpecModel):
    """A Secret that already exists in the namespace; nothing is emitted for it."""

    source: Literal["existingSecret"] = "existingSecret"
    name: SubdomainName
    """Name of the existing Secret."""


class PlaintextCredentials(SpecModel):
    """Plain values in git: refused unless the environment sets ``allowPlaintextSecrets``."""

    source: Literal["plaintext"] = "plaintext"
    access_key_id: str | None = None
    """Access key id, in clear (S3)."""
    secret_access_key: str | None = None
    """Secret access key, in clear (S3)."""
    data: dict[str, str] = {}
    """Any other key of the Secret, in clear."""

    def keys(self) -> dict[str, str]:
        """Every key of the Secret and its value."""
        return {**_s3_keys(self.access_key_id, self.secret_access_key), **self.data}


_V = TypeVar("_V")


def _s3_keys(access_key_id: _V | None, secret_access_key: _V | None) -> dict[str, _V]:
    out = {}
    if access_key_id is not None:
        out[ACCESS_KEY_ID] = access_key_id
    if secret_access_key is not None:
        out[SECRET_ACCESS_KEY] = secret_access_key
    return out


Credentials = Annotated[
    ExternalSecretCredentials | SealedSecretCredentials | ExistingSecret | PlaintextCredentials,
    Field(discriminator="source"),
]



class AwsIamRole(SpecModel):
    """AWS IAM role for the ServiceAccount (IRSA: ``eks.amazonaws.com/role-arn``); no key in git or in the cluster."""

    provider: Literal["aws"] = "aws"
    """Picks this identity in YAML (``provider: aws``)."""
    role_arn: str
    """``arn:aws:iam::<account>:role/<name>``."""


class GcpServiceAccount(SpecModel):
    """GKE Workload Identity: the Kubernetes ServiceAccount acts as a Google service account
    (``iam.gke.io/gcp-service-account``)."""

    provider: Literal["gcp"] = "gcp"
    """Picks this identity in YAML (``provider: gcp``)."""
    service_account: str
    """``<name>@<project>.iam.gserviceaccount.com``."""


class AzureManagedIdentity(SpecModel):
    """Azure Workload Identity (``azure.workload.identity/client-id``); the pods get the label
    ``azure.workload.identity/use: "true"`` the identity webhook needs."""

    provider: Literal["azure"] = "azure"
    """Picks this identity in YAML (``provider: azure``)."""
    client_id: str
    """Client id of the managed identity or app registration."""
    tenant_id: str | None = None
    """Tenant id, when not the cluster's."""


WorkloadIdentity = Annotated[AwsIamRole | GcpServiceAccount | AzureManagedIdentity, Field(discriminator="provider")]
"""A cloud identity bound to a ServiceAccount instead of a key."""

_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_GSA = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com$")


def identity_problem(identity: AwsIamRole | GcpServiceAccount | AzureManagedIdentity) -> str | None:
    """What is wrong with an identity's value, or None."""
    if isinstance(identity, AwsIamRole) and not _ARN.match(identity.role_arn):
        return f"expected an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>), found {identity.role_arn!r}"
    if isinstance(identity, GcpServiceAccount) and not _GSA.match(identity.service_account):
        return f"expected a Google service account (<name>@<project>.iam.gserviceaccount.com), found {identity.service_account!r}"
    return None


class StorageEndpoint(SpecModel):
    """What every storage endpoint has: a name, credentials or an identity, a Secret and a ServiceAccount."""

    name: Name
    """Endpoint name that models refer to."""
    credentials: Credentials | None = None
    """Where the keys come from (none with ``identity`` or public data)."""
    identity: WorkloadIdentity | None = None
    """A cloud identity for the ServiceAccount instead of (or besides) keys."""
    secret_name: SubdomainName | None = None
    """Name of the credentials Secret; default ``<name>-<kind>-credentials``."""
    service_account_name: SubdomainName | None = None
    """Name of the ServiceAccount; default ``<name>-<kind>``."""

    kind_suffix: ClassVar[str] = "s3"
    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = ()
    """Alternatives of Secret keys KServe's credential builder needs (one of them must be complete)."""

    @model_validator(mode="after")
    def _keys(self) -> Self:
        problem = identity_problem(self.identity) if self.identity else None
        if problem:
            raise ValueError(f"identity: {problem}")
        creds = self.credentials
        if creds is None or isinstance(creds, ExistingSecret) or not self.required_keys:
            return self
        keys = set(creds.keys())
        if not any(set(alt) <= keys for alt in self.required_keys):
            wanted = " or ".join("+".join(alt) for alt in self.required_keys)
            raise ValueError(f"credentials: expected the keys {wanted} (what KServe's storage initializer reads), "
                             f"found {', '.join(sorted(keys)) or 'none'}")
        return self

    @property
    def effective_secret_name(self) -> str:
        """The Secret the ServiceAccount lists."""
        if isinstance(self.credentials, ExistingSecret):
            return self.credentials.name
        return self.secret_name or f"{self.name}-{self.kind_suffix}-credentials"

    @property
    def effective_service_account_name(self) -> str:
        """The ServiceAccount models of this endpoint run as."""
        return self.service_account_name or f"{self.name}-{self.kind_suffix}"

    @property
    def has_secret(self) -> bool:
        """Whether the ServiceAccount lists a Secret."""
        return self.credentials is not None


class S3Storage(StorageEndpoint):
    """A named S3-compatible endpoint (AWS S3, MinIO, Ceph ...), rendered as a credentials
    Secret with KServe's ``serving.kserve.io/s3-*`` annotations and a ServiceAccount (with an
    ``AwsIamRole`` identity: the annotations go on the ServiceAccount, which KServe reads for IRSA)."""

    endpoint: str
    """Host[:port], e.g. ``minio-service.kubeflow.svc.cluster.local:9000``."""
    region: str | None = None
    """S3 region."""
    use_https: bool = True
    """Talk HTTPS to the endpoint."""
    verify_ssl: bool = True
    """Verify the endpoint's certificate."""
    anonymous: bool = False
    """Use anonymous credentials (public buckets); no credentials needed."""

    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = ((ACCESS_KEY_ID, SECRET_ACCESS_KEY),)

    @model_validator(mode="after")
    def _credentials(self) -> S3Storage:
        if self.credentials is None and not self.anonymous and self.identity is None:
            raise ValueError("expected credentials (or anonymous: true), found none; or a cloud identity for its ServiceAccount (identity=...)")
        return self

    @property
    def has_secret(self) -> bool:
        """S3 renders its Secret (annotations only) for anonymous access too, as before identities existed."""
        return self.credentials is not None or self.identity is None
