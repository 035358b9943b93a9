"""Storage endpoints beyond S3, each wired the way KServe's credential builder reads its Secret
(``pkg/credentials/service_account_credentials.go``: the first matching key decides the kind):

- ``GCSStorage``: ``gcloud-application-credentials.json`` (mounted, ``GOOGLE_APPLICATION_CREDENTIALS``);
- ``AzureStorage``: ``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET``/``AZURE_TENANT_ID`` (a service principal),
  ``AZURE_ACCESS_TOKEN`` (KServe 0.16+) or ``AZURE_STORAGE_ACCESS_KEY`` (a storage key);
- ``HuggingFaceStorage``: ``HF_TOKEN``;
- ``HTTPStorage``: ``https-host`` and ``headers`` (JSON), becoming the variable ``<host>-headers``.

Each may use a cloud identity instead of keys (GKE Workload Identity, Azure Workload Identity).
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import field_validator

from .container import SecretKeyRef
from .storage import S3Storage, StorageEndpoint

__all__ = ["GCSStorage", "AzureStorage", "HuggingFaceStorage", "HTTPStorage", "Storage", "STORAGE_KINDS",
           "GCS_KEY", "HF_TOKEN", "AZURE_SP_KEYS", "AZURE_ACCESS_TOKEN", "AZURE_STORAGE_ACCESS_KEY", "HTTPS_HOST",
           "HTTPS_HEADERS", "uri_matches"]

GCS_KEY = "gcloud-application-credentials.json"
HF_TOKEN = "HF_TOKEN"
AZURE_SP_KEYS = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")
AZURE_ACCESS_TOKEN = "AZURE_ACCESS_TOKEN"
AZURE_STORAGE_ACCESS_KEY = "AZURE_STORAGE_ACCESS_KEY"
HTTPS_HOST = "https-host"
HTTPS_HEADERS = "headers"

_HOST = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$")


class GCSStorage(StorageEndpoint):
    """Google Cloud Storage (``gs://``): a service-account key, or GKE Workload Identity (``identity``)."""

    kind_suffix: ClassVar[str] = "gcs"
    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = ((GCS_KEY,),)


class AzureStorage(StorageEndpoint):
    """Azure Blob Storage (``https://<account>.blob.core.windows.net/...``): a service principal's client
    secret, an access token (KServe 0.16+), a storage account key, or Azure Workload Identity."""

    kind_suffix: ClassVar[str] = "azure"
    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = (AZURE_SP_KEYS, (AZURE_ACCESS_TOKEN,), (AZURE_STORAGE_ACCESS_KEY,))


class HuggingFaceStorage(StorageEndpoint):
    """The Hugging Face Hub (``hf://``): a token for gated or private models."""

    kind_suffix: ClassVar[str] = "hf"
    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = ((HF_TOKEN,),)

    def token(self) -> SecretKeyRef:
        """``HF_TOKEN`` of this endpoint's Secret, for a model server that downloads by itself
        (``env={"HF_TOKEN": HF.token()}``)."""
        return SecretKeyRef(name=self.effective_secret_name, key=HF_TOKEN)


class HTTPStorage(StorageEndpoint):
    """A web server (``http(s)://host/...``) that wants headers, e.g. ``Authorization``: the ``headers``
    key holds them as JSON; KServe passes them to the storage initializer as ``<host>-headers``."""

    host: str
    """The host the headers are for, as in the URI (``models.example.com``)."""

    kind_suffix: ClassVar[str] = "https"
    required_keys: ClassVar[tuple[tuple[str, ...], ...]] = ((HTTPS_HEADERS,),)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError(f"expected a host name such as models.example.com (no scheme or path), found {value!r}")
        return value


Storage = S3Storage | GCSStorage | AzureStorage | HuggingFaceStorage | HTTPStorage
"""Any storage endpoint."""

STORAGE_KINDS: tuple[type[StorageEndpoint], ...] = (S3Storage, GCSStorage, AzureStorage, HuggingFaceStorage, HTTPStorage)


def uri_matches(storage: StorageEndpoint, uri: str) -> bool:
    """Whether a model at ``uri`` can be read with this kind of endpoint (an empty URI with any)."""
    if not uri:
        return True
    if isinstance(storage, S3Storage):
        return uri.startswith("s3://")
    if isinstance(storage, GCSStorage):
        return uri.startswith("gs://")
    if isinstance(storage, AzureStorage):
        return uri.startswith("https://") and ".blob.core.windows.net/" in uri
    if isinstance(storage, HuggingFaceStorage):
        return uri.startswith("hf://")
    if isinstance(storage, HTTPStorage):
        return uri.split("://", 1)[-1].split("/", 1)[0] == storage.host and uri.startswith(("http://", "https://"))
    return False
