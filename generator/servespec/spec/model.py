"""A served model: predictor, optional transformer and explainer, logger, scaling, deployment mode."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import LabelMap, Name, NonNegativeInt, PositiveInt, Quantity, SpecModel
from .monitoring import Monitoring
from .rollout import RolloutPlan

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
    "STORAGE_URI_PREFIXES",
    "KSERVE_DEFAULT_RESOURCES",
]

STORAGE_URI_PREFIXES = (
    "gs://", "s3://", "pvc://", "file://", "https://", "http://", "hdfs://", "webhdfs://",
    "oci://", "oci+native://", "oci+fetch://", "hf://",
)
"""Storage URI schemes KServe's storage initializer accepts (KSERVE.md §2)."""

KSERVE_DEFAULT_RESOURCES = {"cpu": "1", "memory": "2Gi"}
"""What KServe's webhook fills in for a missing cpu/memory request or limit (KSERVE.md §2)."""

_RESOURCE_KEYS = {"cpu", "memory", "ephemeral-storage", "nvidia.com/gpu", "amd.com/gpu"}


class Resources(SpecModel):
    """Requests and limits. Missing cpu/memory keys are filled explicitly at render time with
    the values KServe's webhook would add, so the live object never differs from git."""

    requests: dict[str, Quantity] = {}
    """Resource requests, e.g. ``{"cpu": "100m", "memory": "1Gi"}``."""
    limits: dict[str, Quantity] = {}
    """Resource limits, e.g. ``{"cpu": "1", "memory": "1Gi"}``."""

    @field_validator("requests", "limits")
    @classmethod
    def _known_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key not in _RESOURCE_KEYS:
                raise ValueError(f"expected one of {sorted(_RESOURCE_KEYS)}, found {key!r}")
        return value


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


class Container(SpecModel):
    """A custom container (transformer or explainer)."""

    image: str
    """Image reference; pin a tag or digest."""
    args: list[str] = []
    """Container arguments."""
    env: dict[str, str] = {}
    """Environment variables."""
    resources: Resources = Resources()
    """Requests and limits."""


class Transformer(SpecModel):
    """Pre/post-processing in front of the predictor."""

    container: Container
    """The transformer container (named ``kserve-container``)."""
    min_replicas: NonNegativeInt | None = None
    """Minimum replicas; defaults to the predictor's."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas; defaults to the predictor's."""


class ArtExplainer(SpecModel):
    """An Adversarial Robustness Toolbox explainer."""

    type: Literal["art"] = "art"
    art_type: str = "SquareAttack"
    """ART explainer type."""
    config: dict[str, str] = {}
    """ART explainer configuration."""
    resources: Resources = Resources()
    """Requests and limits."""


class ContainerExplainer(SpecModel):
    """A custom explainer container."""

    type: Literal["container"] = "container"
    container: Container
    """The explainer container."""


Explainer = Annotated[ArtExplainer | ContainerExplainer, Field(discriminator="type")]


class Predictor(SpecModel):
    """The model server: format, runtime, storage, resources and scaling."""

    model_format: str
    """Model format name as KServe knows it: tensorflow, sklearn, xgboost, onnx, pytorch, ..."""
    model_format_version: str | None = None
    """Format version: "major", "major.minor" or "major.minor.patch"."""
    runtime: str | None = None
    """ServingRuntime name; unset lets KServe pick one for the format."""
    runtime_version: str | None = None
    """Runtime image version, e.g. "2.5.1"."""
    protocol: Literal["v1", "v2", "grpc-v1", "grpc-v2"] | None = None
    """Inference protocol; unset means v2 for triton/vllm (as KServe defaults) and v1 otherwise."""
    storage_uri: str
    """Where the model lives: s3://, gs://, pvc://, hf://, ..."""
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
    container_concurrency: NonNegativeInt | None = None
    """Hard limit of concurrent requests per replica (0 = unlimited)."""
    timeout: PositiveInt | None = None
    """Request timeout in seconds."""
    batcher: Batcher | None = None
    """Request batching."""
    env: dict[str, str] = {}
    """Environment variables of the model server."""

    @field_validator("storage_uri")
    @classmethod
    def _storage_uri(cls, value: str) -> str:
        if not value.startswith(STORAGE_URI_PREFIXES):
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
        return self

    @property
    def effective_protocol(self) -> str:
        """The protocol rendered: explicit, or KServe's default for the format."""
        if self.protocol:
            return self.protocol
        return "v2" if self.model_format.lower() in ("triton", "vllm") else "v1"


class Model(SpecModel):
    """One InferenceService, described once and rendered into every environment."""

    name: Name
    """InferenceService name (DNS-1035 label)."""
    predictor: Predictor
    """The model server."""
    storage: Name | None = None
    """Name of the storage endpoint (``S3Storage``) holding the model; its ServiceAccount is used."""
    service_account_name: str | None = None
    """ServiceAccount override; by default the storage endpoint's."""
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
