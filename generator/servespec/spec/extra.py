"""What an environment adds besides models: extra Kubernetes objects servespec does not model (checked
against their schema like everything it renders) and ServiceAccounts bound to cloud identities."""

from __future__ import annotations

from pydantic import JsonValue, field_validator

from .base import LabelMap, Name, SpecModel, SubdomainName
from .storage import WorkloadIdentity, identity_problem

__all__ = ["ManifestMetadata", "ExtraManifest", "EnvServiceAccount"]


class ManifestMetadata(SpecModel):
    """Name, namespace, labels and annotations of an extra object."""

    name: SubdomainName
    """Object name."""
    namespace: Name | None = None
    """Namespace; default: the environment's (none for ``cluster_scoped`` kinds)."""
    labels: LabelMap = {}
    """Labels (servespec adds ``app.kubernetes.io/managed-by``)."""
    annotations: LabelMap = {}
    """Annotations."""


class ExtraManifest(SpecModel):
    """Any Kubernetes object, added to the environment's ``common/extra/``: a kind servespec does not
    model (a KEDA TriggerAuthentication, an image-pull ExternalSecret, a NetworkPolicy ...). Its kind
    must have a schema ``validate`` knows (Kubernetes' built-in kinds at the env's version, the CRDs
    servespec ships), so it is checked like everything else; a Secret with data is refused outside
    environments that allow plaintext secrets."""

    api_version: str
    """``v1``, ``networking.k8s.io/v1``, ``external-secrets.io/v1`` ..."""
    kind: str
    """Kind, e.g. ``NetworkPolicy``."""
    metadata: ManifestMetadata
    """Name, namespace, labels, annotations."""
    cluster_scoped: bool = False
    """A cluster-scoped kind (no namespace)."""
    body: dict[str, JsonValue] = {}
    """Every other top-level key of the object (``spec``, ``data``, ``rules`` ...), as Kubernetes spells them."""

    @field_validator("body")
    @classmethod
    def _body(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        taken = sorted({"apiVersion", "kind", "metadata"} & set(value))
        if taken:
            raise ValueError(f"expected {', '.join(taken)} as fields of their own, found them in body")
        return value

    def k8s(self, namespace: str, labels: dict[str, str]) -> dict[str, JsonValue]:
        """The object, with the environment's namespace and servespec's labels."""
        meta: dict[str, JsonValue] = {"name": self.metadata.name}
        if not self.cluster_scoped:
            meta["namespace"] = self.metadata.namespace or namespace
        meta["labels"] = {**labels, **self.metadata.labels}
        if self.metadata.annotations:
            meta["annotations"] = dict(self.metadata.annotations)
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta, **self.body}


class EnvServiceAccount(SpecModel):
    """A ServiceAccount of the environment, typically bound to a cloud identity (IRSA, GKE Workload
    Identity, Azure Workload Identity), for models that name it (``service_account_name``) or the
    env's ``defaults.serviceAccountName``."""

    identity: WorkloadIdentity | None = None
    """The cloud identity the pods act as."""
    annotations: LabelMap = {}
    """More annotations (e.g. ``serving.kserve.io/s3-endpoint`` for IRSA with a non-AWS endpoint)."""
    labels: LabelMap = {}
    """Labels."""
    image_pull_secrets: list[SubdomainName] = []
    """Pull secrets every pod of this ServiceAccount uses."""
    secrets: list[SubdomainName] = []
    """Secrets KServe's credential builder reads (storage credentials that exist already)."""

    @field_validator("identity")
    @classmethod
    def _identity(cls, value: WorkloadIdentity | None) -> WorkloadIdentity | None:
        problem = identity_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value
