"""Where a component's pods run and how they are replaced: tolerations, node and pod affinity,
deployment strategy, in the shape Kubernetes gives them (dumped as is by ``container.to_k8s``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import SpecModel

__all__ = ["Toleration", "NodeSelectorRequirement", "NodeSelectorTerm", "NodeSelector", "PreferredSchedulingTerm",
           "NodeAffinity", "LabelSelectorRequirement", "LabelSelector", "PodAffinityTerm", "WeightedPodAffinityTerm",
           "PodAffinity", "Affinity", "RollingUpdate", "DeploymentStrategy"]


# -- scheduling -------------------------------------------------------------------------------------------
class Toleration(SpecModel):
    """Lets pods run on tainted nodes (GPU nodes usually carry ``nvidia.com/gpu:NoSchedule``)."""

    key: str | None = None
    """Taint key; unset with ``Exists`` tolerates everything."""
    operator: Literal["Exists", "Equal"] | None = None
    """``Equal`` (default) or ``Exists``."""
    value: str | None = None
    """Taint value (with ``Equal``)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect; unset matches all."""
    toleration_seconds: int | None = None
    """How long a ``NoExecute`` taint is tolerated."""

    @model_validator(mode="after")
    def _exists_has_no_value(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError(f"expected no value with operator Exists, found {self.value!r}")
        return self


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
