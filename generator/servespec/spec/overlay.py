"""The overlay file of an environment (``overlays/<env>.yaml``): what differs per environment.

Precedence for a model's fields (applied by ``resolve.py``): the spec's explicit values beat the
environment's ``defaults``, which beat the spec model's own defaults; a per-model entry under
``models:`` beats everything. The same holds for rollout plans (``resolve.plan_for``): the fields
set under ``models.<name>.rollout`` override the model's plan, which is its spec's, else the
environment's ``rollout.plan``, else the default.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator

from .base import LabelMap, Name, NonNegativeInt, PositiveInt, SpecModel, SubdomainName
from .container import EnvValue
from .cost import Budget, Pricing
from .delivery import EnvDelivery
from .extra import EnvServiceAccount, ExtraManifest
from .model import Resources
from .monitoring import EnvMonitoring
from .promotion import Owner
from .rollout import EnvRollout, RolloutPlan
from .scheduling import Affinity, Toleration
from .storage import Credentials, WorkloadIdentity

__all__ = ["EnvOverlay", "ModelDefaults", "ModelOverride", "StorageOverride", "GraphOverride", "LLMOverride"]

_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")


class ModelDefaults(SpecModel):
    """Values for every model of the environment that its spec does not set itself."""

    min_replicas: NonNegativeInt | None = None
    """Minimum replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas (0 = no maximum)."""
    deployment_mode: Literal["Knative", "Standard"] | None = None
    """KServe deployment mode."""
    logger_url: str | None = None
    """Sink for models whose logger sets no URL (default: the message dumper, when enabled)."""
    labels: LabelMap = {}
    """Labels added to every InferenceService."""
    annotations: LabelMap = {}
    """Annotations added to every InferenceService."""
    service_account_name: SubdomainName | None = None
    """ServiceAccount of ``s3://`` models with neither a storage endpoint nor a ServiceAccount of their own
    (read through node or workload identity, e.g. a ServiceAccount of ``serviceAccounts`` with an IAM role)."""
    node_selector: LabelMap = {}
    """Node labels every predictor must run on (a model's own keys win)."""
    tolerations: list[Toleration] = []
    """Tolerations of predictors that set none themselves."""
    priority_class_name: str | None = None
    """PriorityClass of predictors that set none themselves."""
    image_pull_secrets: list[SubdomainName] = []
    """Pull secrets added to every predictor's."""


class ModelOverride(SpecModel):
    """Per-model changes in one environment."""

    enabled: bool = True
    """Render this model in this environment."""
    min_replicas: NonNegativeInt | None = None
    """Minimum replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas (0 = no maximum)."""
    resources: Resources | None = None
    """Predictor requests/limits, replacing the spec's."""
    labels: LabelMap = {}
    """Labels merged over the spec's."""
    annotations: LabelMap = {}
    """Annotations merged over the spec's."""
    storage: Name | None = None
    """Use another storage endpoint."""
    deployment_mode: Literal["Knative", "Standard"] | None = None
    """KServe deployment mode."""
    env: dict[str, EnvValue] = {}
    """Predictor environment variables merged over the spec's (a value or a reference)."""
    args: list[str] | None = None
    """Predictor arguments, replacing the spec's."""
    runtime: str | None = None
    """Runtime: the name of a ``Runtime`` a spec declares (rendered pinned), or of one that exists already."""
    runtime_version: str | None = None
    """Runtime image version."""
    node_selector: LabelMap = {}
    """Predictor node labels merged over the spec's."""
    tolerations: list[Toleration] | None = None
    """Predictor tolerations, replacing the spec's."""
    affinity: Affinity | None = None
    """Predictor affinity, replacing the spec's."""
    priority_class_name: str | None = None
    """Predictor PriorityClass."""
    image_pull_secrets: list[SubdomainName] | None = None
    """Predictor pull secrets, replacing the spec's."""
    service_account_name: SubdomainName | None = None
    """ServiceAccount of the model's pods."""

    rollout: RolloutPlan | None = None
    """Rollout plan fields for this model here (``{onFailure: rollback}``, ``{steps: [50, 100]}``):
    each field set overrides the model's plan (its spec's, else the environment's, else the default)."""


class GraphOverride(SpecModel):
    """Per-environment changes to an InferenceGraph."""

    enabled: bool = True
    """Render this graph in this environment (turn it off where one of its models is)."""
    min_replicas: NonNegativeInt | None = None
    """Minimum router replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum router replicas."""


class LLMOverride(SpecModel):
    """Per-LLM changes in one environment (overlay key ``llms``)."""

    enabled: bool = True
    """Render this LLM in this environment (set false where the env's KServe is older than 0.16)."""
    replicas: PositiveInt | None = None
    """Fixed replicas, replacing the spec's (not with the spec's ``scaling``)."""
    labels: LabelMap = {}
    """Labels merged over the spec's."""
    annotations: LabelMap = {}
    """Annotations merged over the spec's."""
    node_selector: LabelMap | None = None
    """Node selector, replacing the spec's."""
    tolerations: list[Toleration] | None = None
    """Tolerations, replacing the spec's."""


class StorageOverride(SpecModel):
    """Per-environment changes to a storage endpoint."""

    endpoint: str | None = None
    """Host[:port]."""
    region: str | None = None
    """S3 region."""
    use_https: bool | None = None
    """Talk HTTPS to the endpoint."""
    verify_ssl: bool | None = None
    """Verify the endpoint's certificate."""
    anonymous: bool | None = None
    """Anonymous credentials."""
    credentials: Credentials | None = None
    """Where this environment's credentials come from (replaces the spec's)."""
    identity: WorkloadIdentity | None = None
    """This environment's cloud identity for the endpoint's ServiceAccount (replaces the spec's)."""
    secret_name: SubdomainName | None = None
    """Name of the credentials Secret."""
    service_account_name: SubdomainName | None = None
    """Name of the ServiceAccount."""


class EnvOverlay(SpecModel):
    """One environment: namespace, cluster versions, policies, defaults and overrides."""

    namespace: Name
    """Namespace every object of this environment goes to."""
    create_namespace: bool = False
    """Render the Namespace object too."""
    namespace_labels: LabelMap = {}
    """Labels on the rendered Namespace."""
    kubernetes_version: str = "1.30"
    """Kubernetes version of the cluster; built-in kinds are validated against it."""
    kserve_version: str = "0.15"
    """KServe version of the cluster; decides which fields may be rendered."""
    kserve_api: Literal["serving.kserve.io/v1beta1", "serving.kubeflow.org/v1alpha2"] = "serving.kserve.io/v1beta1"
    """InferenceService API: current KServe, or legacy KFServing (v1alpha2) clusters."""
    allow_plaintext_secrets: bool = False
    """Allow plaintext credentials in git: only for a throwaway local demo."""
    require_resource_limits: bool = False
    """Every container must set cpu and memory limits in its spec (defaults do not count)."""
    defaults: ModelDefaults = ModelDefaults()
    """Defaults for every model."""
    storage: dict[str, StorageOverride] = {}
    """Per storage endpoint changes."""
    models: dict[str, ModelOverride] = {}
    """Per model changes."""
    llms: dict[str, LLMOverride] = {}
    """Per LLM changes."""
    rollout: EnvRollout = EnvRollout()
    """Rollout settings."""
    monitoring: EnvMonitoring = EnvMonitoring()
    """Monitoring settings."""
    delivery: EnvDelivery = EnvDelivery()
    """Argo CD / Flux settings."""
    pricing: Pricing | None = None
    """What capacity costs here: the cost figures of ``servespec diff`` and budgets in money."""
    budget: Budget | None = None
    """Bounds on this environment's rendered capacity and cost, checked by ``servespec validate``."""
    service_accounts: dict[SubdomainName, EnvServiceAccount] = {}
    """ServiceAccounts of this environment by name, e.g. one bound to a cloud identity."""
    extra_manifests: list[ExtraManifest] = []
    """Kubernetes objects servespec does not model, rendered under ``common/extra/``."""
    graphs: dict[str, GraphOverride] = {}
    """Per InferenceGraph changes."""
    owners: list[Owner] = []
    """Code owners of this environment (``@org/team``): ``render`` writes CODEOWNERS lines for its
    overlays and ``rendered/<env>/`` from them, so changes to it need their review."""

    @field_validator("kubernetes_version", "kserve_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"expected a version such as \"1.30\", found {value!r}")
        return value.lstrip("v")

    @property
    def kserve_version_tuple(self) -> tuple[int, ...]:
        """KServe version as a comparable tuple, e.g. ``(0, 15)``."""
        return tuple(int(p) for p in self.kserve_version.split("."))
