"""S3-compatible storage endpoints and where their credentials come from."""

from __future__ import annotations

from typing import Annotated, Literal

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
    access_key_id: RemoteRef
    """Where the access key id lives."""
    secret_access_key: RemoteRef
    """Where the secret access key lives."""
    refresh_interval: str = "1h"
    """How often the operator re-reads the store."""


class SealedSecretCredentials(SpecModel):
    """Credentials encrypted with ``kubeseal`` for the target cluster; safe to commit."""

    source: Literal["sealedSecret"] = "sealedSecret"
    access_key_id: str
    """Sealed (encrypted) access key id, as ``kubeseal --raw`` prints it."""
    secret_access_key: str
    """Sealed (encrypted) secret access key."""
    scope: Literal["strict", "namespace-wide", "cluster-wide"] = "strict"
    """Sealing scope used with kubeseal."""


class ExistingSecret(SpecModel):
    """A Secret that already exists in the namespace; nothing is emitted for it."""

    source: Literal["existingSecret"] = "existingSecret"
    name: SubdomainName
    """Name of the existing Secret."""


class PlaintextCredentials(SpecModel):
    """Plain values in git: refused unless the environment sets ``allowPlaintextSecrets``."""

    source: Literal["plaintext"] = "plaintext"
    access_key_id: str
    """Access key id, in clear."""
    secret_access_key: str
    """Secret access key, in clear."""


Credentials = Annotated[
    ExternalSecretCredentials | SealedSecretCredentials | ExistingSecret | PlaintextCredentials,
    Field(discriminator="source"),
]


class S3Storage(SpecModel):
    """A named S3-compatible endpoint (AWS S3, MinIO, Ceph ...), rendered as a credentials
    Secret with KServe's ``serving.kserve.io/s3-*`` annotations and a ServiceAccount."""

    name: Name
    """Endpoint name that models refer to."""
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
    credentials: Credentials | None = None
    """Where the access keys come from."""
    secret_name: SubdomainName | None = None
    """Name of the credentials Secret; default ``<name>-s3-credentials``."""
    service_account_name: SubdomainName | None = None
    """Name of the ServiceAccount; default ``<name>-s3``."""

    @model_validator(mode="after")
    def _credentials(self) -> S3Storage:
        if self.credentials is None and not self.anonymous:
            raise ValueError("expected credentials (or anonymous: true), found none")
        return self

    @property
    def effective_secret_name(self) -> str:
        """The Secret the ServiceAccount lists."""
        if isinstance(self.credentials, ExistingSecret):
            return self.credentials.name
        return self.secret_name or f"{self.name}-s3-credentials"

    @property
    def effective_service_account_name(self) -> str:
        """The ServiceAccount models of this endpoint run as."""
        return self.service_account_name or f"{self.name}-s3"
