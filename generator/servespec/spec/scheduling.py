"""Where pods may run and how they are replaced, as Kubernetes spells them: node selector, tolerations,
accelerators (GPUs), node and pod affinity, deployment strategy (dumped as is by ``container.to_k8s``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import LabelMap, NonNegativeInt, PositiveInt, SpecModel

__all__ = ["Toleration", "Scheduling", "Accelerators", "NodeSelectorRequirement", "NodeSelectorTerm", "NodeSelector",
           "PreferredSchedulingTerm", "NodeAffinity", "LabelSelectorRequirement", "LabelSelector", "PodAffinityTerm",
           "WeightedPodAffinityTerm", "PodAffinity", "Affinity", "RollingUpdate", "DeploymentStrategy"]


class Toleration(SpecModel):
    """A Kubernetes toleration (``kubectl explain pod.spec.tolerations``)."""

    key: str | None = None
    """Taint key; unset with operator ``Exists`` tolerates every taint."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """``Equal`` matches ``value``; ``Exists`` any value."""
    value: str | None = None
    """Taint value (operator ``Equal`` only)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect; unset matches every effect."""
    toleration_seconds: NonNegativeInt | None = None
    """How long a ``NoExecute`` taint is tolerated before eviction."""

    @model_validator(mode="after")
    def _shape(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError(f"expected no value with operator Exists, found {self.value!r}")
        if self.operator == "Equal" and self.key is None:
            raise ValueError("expected a key with operator Equal, found none")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError(f"expected effect NoExecute with tolerationSeconds, found {self.effect!r}")
        return self

    def rendered(self) -> dict[str, object]:
        """As in a pod spec."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Scheduling(SpecModel):
    """Node selector and tolerations of a workload's pods."""

    node_selector: LabelMap = {}
    """Node labels the pods require, e.g. ``{"nvidia.com/gpu.product": "NVIDIA-L4"}``."""
    tolerations: list[Toleration] = []
    """Taints the pods tolerate, e.g. the GPU nodes' ``nvidia.com/gpu`` taint."""


class Accelerators(SpecModel):
    """GPUs per pod: requested and limited as the device plugin's extended resource."""

    resource: Literal["nvidia.com/gpu", "amd.com/gpu"] = "nvidia.com/gpu"
    """Extended resource name of the device plugin."""
    count: PositiveInt = 1
    """GPUs per pod (with tensor parallelism, usually the tensor size)."""


class NodeSelectorRequirement(SpecModel):
    """``key operator values`` on node labels."""

    key: str
    """Node label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    """How to compare."""
    values: list[str] | None = None
    """Values (none for Exists/DoesNotExist, one for Gt/Lt)."""


class NodeSelectorTerm(SpecModel):
    """Requirements that must all hold."""

    match_expressions: list[NodeSelectorRequirement] | None = None
    """On node labels."""
    match_fields: list[NodeSelectorRequirement] | None = None
    """On node fields (``metadata.name``)."""


class NodeSelector(SpecModel):
    """Terms of which one must hold."""

    node_selector_terms: list[NodeSelectorTerm]
    """The terms (ORed)."""


class PreferredSchedulingTerm(SpecModel):
    """A weighted preference for nodes."""

    weight: Annotated[int, Field(ge=1, le=100)]
    """1-100."""
    preference: NodeSelectorTerm
    """The nodes preferred."""


class NodeAffinity(SpecModel):
    """Which nodes the pods may or prefer to run on."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    """Hard requirement."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None
    """Soft preferences."""


class LabelSelectorRequirement(SpecModel):
    """``key operator values`` on pod labels."""

    key: str
    """Label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How to compare."""
    values: list[str] | None = None
    """Values."""


class LabelSelector(SpecModel):
    """Pods selected by labels."""

    match_labels: dict[str, str] | None = None
    """Exact labels."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Expressions."""


class PodAffinityTerm(SpecModel):
    """Pods to be (or not be) near, per topology domain."""

    label_selector: LabelSelector | None = None
    """The pods."""
    topology_key: str
    """Node label defining the domain, e.g. ``kubernetes.io/hostname``."""
    namespaces: list[str] | None = None
    """Namespaces of the pods (default: the pod's own)."""


class WeightedPodAffinityTerm(SpecModel):
    """A weighted soft pod (anti-)affinity."""

    weight: Annotated[int, Field(ge=1, le=100)]
    """1-100."""
    pod_affinity_term: PodAffinityTerm
    """The term."""


class PodAffinity(SpecModel):
    """Pod affinity or anti-affinity."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    """Hard requirement."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None
    """Soft preferences."""


class Affinity(SpecModel):
    """Node affinity, pod affinity and pod anti-affinity."""

    node_affinity: NodeAffinity | None = None
    """Nodes."""
    pod_affinity: PodAffinity | None = None
    """Near other pods."""
    pod_anti_affinity: PodAffinity | None = None
    """Away from other pods (spread replicas over nodes)."""


class RollingUpdate(SpecModel):
    """How a rolling update proceeds."""

    max_surge: int | str | None = None
    """Extra pods during the update (``1`` or ``"25%"``)."""
    max_unavailable: int | str | None = None
    """Pods that may be down during the update."""


class DeploymentStrategy(SpecModel):
    """How Standard mode replaces pods (KServe rejects it in Knative mode)."""

    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    """``Recreate`` stops old pods first (a GPU node without room for a second pod)."""
    rolling_update: RollingUpdate | None = None
    """Surge and unavailability (``RollingUpdate`` only)."""

    @model_validator(mode="after")
    def _recreate(self) -> DeploymentStrategy:
        if self.type == "Recreate" and self.rolling_update is not None:
            raise ValueError("expected no rolling_update with type Recreate, found one")
        return self
