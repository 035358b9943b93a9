"""Where pods may run: node selector, tolerations and accelerators (GPUs), as Kubernetes spells them."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from .base import LabelMap, NonNegativeInt, PositiveInt, SpecModel

__all__ = ["Toleration", "Scheduling", "Accelerators"]


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
