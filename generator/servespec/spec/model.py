"""A served model: predictor, optional transformer and explainer, logger, scaling, deployment mode."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .autoscaling import AutoScaling, WorkerSpec
from .base import LabelMap, Name, NonNegativeInt, PositiveInt, SpecModel
from .container import ContainerFields, PodFields
from .monitoring import Monitoring
from .resources import KSERVE_DEFAULT_RESOURCES, Resources
from .rollout import RolloutPlan
from .runtime import Runtime

__all__ = [
    "Model",
    "Predictor",
    "Resources",
    "Container",
    "Transformer",
    "ArtExplainer",
    "ContainerExplainer",
    "Logger",
    "Batcher",
    "StorageSpec",
    "STORAGE_URI_PREFIXES",
    "KSERVE_DEFAULT_RESOURCES",
]

STORAGE_URI_PREFIXES = (
    "gs://", "s3://", "pvc://", "file://", "https://", "http://", "hdfs://", "webhdfs://",
    "oci://", "oci+native://", "oci+fetch://", "hf://",
)
"""Storage URI schemes KServe's storage initializer accepts (KSERVE.md §2)."""

class Batcher(SpecModel):
    """KServe's request batcher."""

    max_batch_size: PositiveInt | None = None
    """Largest batch sent to the model."""
    max_latency: PositiveInt | None = None
    """Longest wait for a batch to fill, in milliseconds."""
    timeout: PositiveInt | None = None
    """Batcher timeout, in seconds."""


class Logger(SpecModel):
    """Request/response logging to a CloudEvents sink (KServe ``logger``)."""

    mode: Literal["all", "request", "response"] = "all"
    """What to log; always emitted, since KServe rejects an empty mode."""
    url: str | None = None
    """Sink URL; when unset, the environment's ``loggerUrl`` (e.g. the message dumper)."""


class Container(ContainerFields):
    """A container of your own: a transformer, an explainer, or a custom predictor (named ``kserve-container``)."""

    image: str
    """Image reference; pin a tag or digest."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """When to pull the image."""
    resources: Resources = Resources()
    """Requests and limits."""


def _check_mounts(volumes: PodFields, *containers: ContainerFields | None) -> None:
    """Every volume mount names a volume of the same component."""
    names = {v.name for v in volumes.volumes}
    missing = sorted({m.name for c in containers if c is not None for m in c.volume_mounts if m.name not in names})
    if missing:
        raise ValueError(f"expected volume_mounts to name volumes of the component ({', '.join(sorted(names)) or 'none'}), "
                         f"found {', '.join(missing)}")


class Transformer(PodFields):
    """Pre/post-processing in front of the predictor."""

    container: Container
    """The transformer container (named ``kserve-container``)."""
    min_replicas: NonNegativeInt | None = None
    """Minimum replicas; defaults to the predictor's."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas; defaults to the predictor's."""

    @model_validator(mode="after")
    def _volume_mounts(self) -> Transformer:
        _check_mounts(self, self.container)
        return self


class ArtExplainer(PodFields):
    """An Adversarial Robustness Toolbox explainer."""

    type: Literal["art"] = "art"
    art_type: str = "SquareAttack"
    """ART explainer type."""
    config: dict[str, str] = {}
    """ART explainer configuration."""
    resources: Resources = Resources()
    """Requests and limits."""


class ContainerExplainer(PodFields):
    """A custom explainer container."""

    type: Literal["container"] = "container"
    container: Container
    """The explainer container."""

    @model_validator(mode="after")
    def _volume_mounts(self) -> ContainerExplainer:
        _check_mounts(self, self.container)
        return self


Explainer = Annotated[ArtExplainer | ContainerExplainer, Field(discriminator="type")]


class StorageSpec(SpecModel):
    """KServe's ``storage`` (a key of the ``storage-config`` Secret instead of a URI)."""

    key: str | None = None
    """Key in the storage-config Secret."""
    path: str | None = None
    """Path of the model in that storage."""
    parameters: dict[str, str] = {}
    """Overrides of that storage's parameters, e.g. ``{"bucket": "models"}``."""
    schema_path: str | None = None
    """Path of the model's schema."""


class Predictor(ContainerFields, PodFields):
    """The model server: a model format served by a runtime (``model_format``), or a container of your own
    (``container``); storage, resources, scaling, scheduling."""

    model_format: str | None = None
    """Model format name as KServe knows it: tensorflow, sklearn, xgboost, onnx, pytorch, huggingface, ...
    (exactly one of ``model_format`` and ``container``)."""
    model_format_version: str | None = None
    """Format version: "major", "major.minor" or "major.minor.patch"."""
    container: Container | None = None
    """A custom predictor: your own image, no model format (``containers[0]``, ``kserve-container``);
    its storage URI reaches it as ``STORAGE_URI``, its protocol (v1/v2) as ``PROTOCOL``."""
    runtime: str | Runtime | None = None
    """The runtime: a ``Runtime`` spec object (rendered, pinned), the name of a ServingRuntime that exists
    already (e.g. ``kserve-mlserver``), or unset to let KServe pick one for the format."""
    runtime_version: str | None = None
    """Runtime image version, e.g. "2.5.1"."""
    image: str | None = None
    """The runtime's image for this model only (``model.image``; prefer a ``Runtime`` pinned by digest)."""
    protocol: Literal["v1", "v2", "grpc-v1", "grpc-v2"] | None = None
    """Inference protocol; unset means v2 for triton/vllm (as KServe defaults) and v1 otherwise."""
    storage_uri: str = ""
    """Where the model lives: s3://, gs://, pvc://, hf://, ...; empty: the server fetches it itself
    (e.g. ``--model_id`` of the Hugging Face runtime) or the image carries it."""
    storage_spec: StorageSpec | None = None
    """KServe ``storage`` (a storage-config key) instead of ``storage_uri``."""
    resources: Resources = Resources()
    """Requests and limits."""
    min_replicas: NonNegativeInt = 1
    """Minimum replicas; 0 scales to zero when idle (Knative mode)."""
    max_replicas: NonNegativeInt = 0
    """Maximum replicas; 0 means no maximum (the cluster's)."""
    scale_target: PositiveInt | None = None
    """Autoscaling target for ``scale_metric``."""
    scale_metric: Literal["concurrency", "rps", "cpu", "memory"] | None = None
    """Autoscaling metric."""
    autoscaler_class: Literal["hpa", "keda", "external", "none"] | None = None
    """Standard mode's autoscaler (``serving.kserve.io/autoscalerClass``); ``keda`` needs KServe 0.15+."""
    auto_scaling: AutoScaling | None = None
    """HPA/KEDA metrics and behavior (Standard mode, KServe 0.15+)."""
    container_concurrency: NonNegativeInt | None = None
    """Hard limit of concurrent requests per replica (0 = unlimited)."""
    timeout: PositiveInt | None = None
    """Request timeout in seconds."""
    batcher: Batcher | None = None
    """Request batching."""
    worker_spec: WorkerSpec | None = None
    """Multi-node serving (head + workers), KServe 0.15+."""

    @field_validator("storage_uri")
    @classmethod
    def _storage_uri(cls, value: str) -> str:
        if value and not value.startswith(STORAGE_URI_PREFIXES):
            raise ValueError(
                f"expected a URI starting with one of {', '.join(STORAGE_URI_PREFIXES)}, found {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _replicas(self) -> Predictor:
        if self.max_replicas and self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})"
            )
        _check_mounts(self, self, self.container)
        if (self.model_format is None) == (self.container is None):
            raise ValueError("expected exactly one of model_format (a runtime serves it) or container (your own image), "
                             "found " + ("both" if self.container else "neither"))
        if self.storage_uri and self.storage_spec is not None:
            raise ValueError("expected storage_uri or storage_spec, found both")
        if self.container is not None:
            _custom_predictor(self)
        return self

    @property
    def effective_protocol(self) -> str:
        """The protocol rendered: explicit, or KServe's default for the format."""
        if self.protocol:
            return self.protocol
        return "v2" if (self.model_format or "").lower() in ("triton", "vllm") else "v1"

    @property
    def runtime_name(self) -> str | None:
        """The ``runtime`` an InferenceService names: a ``Runtime``'s rendered (hashed) name, or the name given."""
        return self.runtime.rendered_name if isinstance(self.runtime, Runtime) else self.runtime


_MODEL_FORMAT_ONLY = ("model_format_version", "runtime", "runtime_version", "image", "storage_spec", "worker_spec")
_CONTAINER_LEVEL = ("args", "command", "env", "env_from", "ports", "volume_mounts", "liveness_probe", "readiness_probe",
                    "startup_probe", "security_context")


def _custom_predictor(p: Predictor) -> None:
    """A custom predictor: no runtime fields, container fields on the container, protocol v1/v2."""
    wrong = [f for f in _MODEL_FORMAT_ONLY if getattr(p, f) is not None]
    if wrong:
        raise ValueError(f"expected no {', '.join(wrong)} with a custom container (they configure a runtime), found them")
    misplaced = [f for f in _CONTAINER_LEVEL if getattr(p, f)]
    if misplaced:
        raise ValueError(f"expected {', '.join(misplaced)} on the container itself (container={{...}}), found them on the predictor")
    if p.protocol not in (None, "v1", "v2"):
        raise ValueError(f"expected protocol v1 or v2 for a custom container (KServe's PROTOCOL variable), found {p.protocol!r}")
    assert p.container is not None
    taken = sorted({"STORAGE_URI", "PROTOCOL"} & set(p.container.env))
    if taken:
        raise ValueError(f"expected no {' or '.join(taken)} in the container's env (servespec sets it from storage_uri/protocol), "
                         f"found it")


class Model(SpecModel):
    """One InferenceService, described once and rendered into every environment."""

    name: Name
    """InferenceService name (DNS-1035 label)."""
    predictor: Predictor
    """The model server."""
    storage: Name | None = None
    """Name of the storage endpoint (``S3Storage``, ``GCSStorage``, ``AzureStorage``, ``HuggingFaceStorage``,
    ``HTTPStorage``) holding the model; its ServiceAccount is used."""
    service_account_name: str | None = None
    """ServiceAccount override; by default the storage endpoint's, else the environment's
    ``defaults.serviceAccountName`` (node or workload identity for an ``s3://`` model without an endpoint)."""
    transformer: Transformer | None = None
    """Optional pre/post-processing container."""
    explainer: Explainer | None = None
    """Optional explainer: ART or a container."""
    logger: Logger | None = None
    """Request/response logging."""
    deployment_mode: Literal["Knative", "Standard"] = "Knative"
    """KServe deployment mode; immutable once deployed."""
    labels: LabelMap = {}
    """Labels on the InferenceService."""
    annotations: LabelMap = {}
    """Annotations on the InferenceService (copied to pods by KServe)."""
    rollout: RolloutPlan | None = None
    """Canary rollout plan; unset uses the environment's default plan."""
    monitoring: Monitoring = Monitoring()
    """Scraping, SLOs and dashboards."""
    not_secret: list[str] = []
    """Names of env vars whose plaintext values were reviewed and are not secrets (a false
    positive of the secret scan, README "Security"); rendered as the annotation
    ``serving.servespec.io/not-secret`` so ``validate`` knows too."""
