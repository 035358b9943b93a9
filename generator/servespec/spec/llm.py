"""A served large language model: one KServe ``LLMInferenceService`` (vLLM through llm-d), described
once and rendered into every environment whose KServe has the kind (0.16+)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..metrics import LLMMetricNames
from .base import EnvName, LabelMap, Name, PositiveInt, PromDuration, Quantity, SpecModel, SubdomainName
from .model import Resources
from .rollout import RolloutPlan
from .scheduling import Accelerators, Toleration
from .storage import RemoteRef

__all__ = [
    "LLM", "Parallelism", "Prefill", "LLMRouter", "GatewayRef", "LLMScaling", "LLMCache", "LLMMonitoring",
    "HFTokenExternalSecret", "HFTokenSealedSecret", "HFTokenExistingSecret", "HFToken", "LLM_URI_PREFIXES", "HF_TOKEN_KEY",
]

LLM_URI_PREFIXES = ("hf://", "s3://", "pvc://", "oci://")
"""Model URI schemes an LLMInferenceService downloads from (its storage initializer, or a PVC/OCI mount)."""

_HF_URI = re.compile(r"^hf://[^/:]+/[^/:]+(:[^/:]+)?$")
"""KServe's storage initializer splits ``hf://`` URIs into exactly owner and model[:revision]
(``kserve/kserve@v0.20.0:python/storage/kserve_storage/kserve_storage.py:629-650``)."""

HF_TOKEN_KEY = "HF_TOKEN"
"""The Secret key KServe's credential builder passes to the storage initializer as ``HF_TOKEN``
(``kserve/kserve@v0.20.0:pkg/credentials/hf/hf_secret.go:24``)."""


class Parallelism(SpecModel):
    """How one replica's model is split over GPUs and pods (``spec.parallelism``)."""

    tensor: PositiveInt | None = None
    """Tensor-parallel size (GPUs one model shard spans)."""
    pipeline: PositiveInt | None = None
    """Pipeline-parallel size."""
    data: PositiveInt | None = None
    """Data-parallel size across pods (with ``multi_node``)."""
    data_local: PositiveInt | None = None
    """Data-parallel ranks per pod."""
    expert: bool = False
    """Expert parallelism for mixture-of-experts models."""

    @property
    def data_parallel(self) -> bool:
        """KServe's ``IsDataParallel``: data or dataLocal set."""
        return bool(self.data or self.data_local)


class Prefill(SpecModel):
    """A separate prefill pool (prefill/decode disaggregation); the LLM's own fields describe decode."""

    replicas: PositiveInt = 1
    """Prefill replicas."""
    parallelism: Parallelism | None = None
    """Prefill parallelism."""
    multi_node: bool = False
    """Prefill spans several pods (LeaderWorkerSet); needs data parallelism."""
    resources: Resources = Resources()
    """Requests and limits of the prefill container."""
    accelerators: Accelerators | None = None
    """GPUs per prefill pod."""


class GatewayRef(SpecModel):
    """An existing Gateway API Gateway the LLM is published on."""

    name: SubdomainName
    """Gateway name."""
    namespace: Name | None = None
    """Gateway namespace; unset: the LLM's."""


class LLMRouter(SpecModel):
    """How requests reach the model servers (``spec.router``)."""

    gateway: list[GatewayRef] = []
    """Gateways to publish on; empty: KServe's default gateway."""
    route: bool = True
    """A managed HTTPRoute (needed for weighted canaries)."""
    scheduler: bool = True
    """The llm-d endpoint picker in front of the pods (prefix-cache and load aware), with its InferencePool."""


class LLMScaling(SpecModel):
    """Autoscaling of the replicas (``spec.scaling``, KServe 0.17+) by the workload variant autoscaler."""

    min_replicas: PositiveInt = 1
    """Fewest replicas."""
    max_replicas: PositiveInt
    """Most replicas."""
    actuator: Literal["keda", "hpa"] = "keda"
    """What applies the autoscaler's decisions."""

    @model_validator(mode="after")
    def _bounds(self) -> LLMScaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"expected min_replicas <= max_replicas, found {self.min_replicas} > {self.max_replicas}")
        return self


class HFTokenExternalSecret(SpecModel):
    """The Hugging Face token synced from a secret manager by External Secrets Operator."""

    source: Literal["externalSecret"] = "externalSecret"
    store: SubdomainName
    """Name of the SecretStore or ClusterSecretStore."""
    store_kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    """Kind of the store."""
    token: RemoteRef
    """Where the token lives in the store."""
    refresh_interval: str = "1h"
    """How often the operator re-reads the store."""


class HFTokenSealedSecret(SpecModel):
    """The Hugging Face token encrypted with ``kubeseal`` for the target cluster; safe to commit."""

    source: Literal["sealedSecret"] = "sealedSecret"
    token: str
    """The sealed token, as ``kubeseal --raw`` prints it."""
    scope: Literal["strict", "namespace-wide", "cluster-wide"] = "strict"
    """Sealing scope used with kubeseal."""


class HFTokenExistingSecret(SpecModel):
    """A Secret already in the namespace, with the token under the key ``HF_TOKEN``."""

    source: Literal["existingSecret"] = "existingSecret"
    name: SubdomainName
    """Name of the existing Secret."""


HFToken = Annotated[HFTokenExternalSecret | HFTokenSealedSecret | HFTokenExistingSecret, Field(discriminator="source")]
"""Where a Hugging Face token comes from: never a literal in git."""


class LLMCache(SpecModel):
    """Node-local model caching (KServe's LocalModel): weights are downloaded to the nodes before
    traffic moves, so a new version does not start cold. Needs KServe 0.19+ for LLMs."""

    node_groups: Annotated[list[Name], Field(min_length=1)]
    """LocalModelNodeGroups to cache on (their nodes' local storage)."""
    model_size: Quantity
    """Size of the model files, checked against the node group's reserved space."""
    scope: Literal["namespace", "cluster"] = "namespace"
    """``namespace``: a LocalModelNamespaceCache only this namespace uses; ``cluster``: a LocalModelCache."""


class LLMMonitoring(SpecModel):
    """Scraping, token-level service levels and the dashboard of an LLM."""

    enabled: bool = True
    """Render the PodMonitor, alert rules and dashboard."""
    dashboard: bool = True
    """Render the Grafana dashboard."""
    severity: str = "warning"
    """``severity`` label of the alerts."""
    ttft_p99_seconds: Annotated[float, Field(gt=0)] = 2.0
    """p99 time to first token above which ``LLMTimeToFirstTokenHigh`` fires."""
    tpot_p99_seconds: Annotated[float, Field(gt=0)] = 0.2
    """p99 time per output token above which ``LLMTimePerOutputTokenHigh`` fires."""
    error_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Share of requests finishing with an error above which ``LLMErrorRateHigh`` fires."""
    queue_depth: PositiveInt = 10
    """Requests waiting in one pod's engine above which ``LLMQueueDepthHigh`` fires."""
    kv_cache_usage: Annotated[float, Field(gt=0, le=1)] = 0.95
    """KV-cache use of a pod above which ``LLMKVCacheNearlyFull`` fires."""
    canary_ttft_factor: Annotated[float, Field(gt=1)] = 1.5
    """``LLMCanaryTimeToFirstTokenWorse`` fires when the canary's p99 TTFT exceeds stable's times this."""
    window: PromDuration = "5m"
    """Range of the rates and quantiles."""
    for_duration: PromDuration = "10m"
    """How long a condition must hold before an alert fires."""
    scheme: Literal["http", "https"] = "http"
    """How vLLM serves ``/metrics`` (https when the cluster enables LLMInferenceService TLS)."""
    metrics: LLMMetricNames = LLMMetricNames()
    """vLLM's metric names (the defaults are the pinned vLLM's)."""


class LLM(SpecModel):
    """One LLMInferenceService, described once and rendered into every environment that supports it."""

    name: Name
    """LLMInferenceService name (DNS-1035 label); a canary is ``<name>-canary``."""
    model_uri: str
    """Where the weights live: ``hf://org/model``, ``s3://``, ``pvc://`` or ``oci://``."""
    served_name: str | None = None
    """Model name clients ask for (``spec.model.name``); default: ``name``."""
    environments: list[EnvName] | None = None
    """Environments to render it in; unset: every one (an overlay can still disable it with
    ``llms: {NAME: {enabled: false}}``). Each must run KServe 0.16+ (an LLM there is refused otherwise)."""
    replicas: PositiveInt | None = None
    """Fixed replicas (default 1); not with ``scaling``."""
    scaling: LLMScaling | None = None
    """Autoscaling (KServe 0.17+); not with ``replicas``."""
    parallelism: Parallelism | None = None
    """Tensor/pipeline/data/expert parallelism."""
    multi_node: bool = False
    """One replica spans several pods (LeaderWorkerSet workers); needs data parallelism."""
    prefill: Prefill | None = None
    """A separate prefill pool (prefill/decode disaggregation)."""
    resources: Resources = Resources()
    """Requests and limits of the vLLM container (cpu, memory; GPUs through ``accelerators``)."""
    accelerators: Accelerators | None = None
    """GPUs per pod."""
    node_selector: LabelMap = {}
    """Node labels the pods require (e.g. a GPU product)."""
    tolerations: list[Toleration] = []
    """Taints the pods tolerate (e.g. the GPU nodes')."""
    env: dict[str, str] = {}
    """Environment variables of the vLLM container (``VLLM_ADDITIONAL_ARGS`` passes engine flags)."""
    not_secret: list[str] = []
    """Names of env vars whose plaintext values were reviewed and are not secrets (as ``Model.not_secret``)."""
    router: LLMRouter = LLMRouter()
    """Gateway, managed route and endpoint picker."""
    hf_token: HFToken | None = None
    """Hugging Face token for gated models: from the secret manager, a sealed secret or an existing Secret."""
    cache: LLMCache | None = None
    """Cache the weights on the nodes before traffic moves (KServe 0.19+)."""
    pin_presets: bool = True
    """Render versioned copies of KServe's presets this LLM uses and build on them, so a platform
    upgrade cannot swap the engine; false: whatever presets the cluster has."""
    base_refs: list[SubdomainName] = []
    """Further LLMInferenceServiceConfigs to build on, after the pinned presets."""
    labels: LabelMap = {}
    """Labels on the LLMInferenceService."""
    annotations: LabelMap = {}
    """Annotations on the LLMInferenceService."""
    rollout: RolloutPlan | None = None
    """Release plan; unset uses the environment's (weighted steps need KServe 0.20)."""
    monitoring: LLMMonitoring = LLMMonitoring()
    """Scraping, alerts and dashboard on vLLM's metrics."""

    @field_validator("model_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if not value.startswith(LLM_URI_PREFIXES) or value.endswith("://"):
            raise ValueError(f"expected a model URI starting with one of {', '.join(LLM_URI_PREFIXES)}, found {value!r}")
        if value.startswith("hf://") and not _HF_URI.match(value):
            raise ValueError(f"expected hf://OWNER/MODEL[:REVISION], found {value!r}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> LLM:
        if self.replicas is not None and self.scaling is not None:
            raise ValueError("expected replicas or scaling, found both (KServe rejects both together)")
        if self.multi_node and not (self.parallelism and self.parallelism.data_parallel):
            raise ValueError("expected parallelism.data or dataLocal with multi_node: KServe ships no pipeline-parallel worker preset")
        if self.prefill and self.prefill.multi_node and not (self.prefill.parallelism and self.prefill.parallelism.data_parallel):
            raise ValueError("expected prefill.parallelism.data or dataLocal with prefill.multi_node")
        return self

    @property
    def model_name(self) -> str:
        """The served model name (``spec.model.name``)."""
        return self.served_name or self.name
