"""Requests and limits: cpu, memory, ephemeral storage, hugepages and any extended resource (GPUs and other
accelerators), with Kubernetes' rule for the latter enforced where it is written: an extended resource
or hugepages size cannot be overcommitted, so its limit is required and a request, when given, must equal
it; extended resources count whole devices."""

from __future__ import annotations

import re

from pydantic import field_validator, model_validator

from ..quantity import parse
from .base import Quantity, SpecModel

__all__ = ["Resources", "KSERVE_DEFAULT_RESOURCES", "STANDARD_RESOURCES", "is_extended", "EXAMPLE_ACCELERATORS"]

KSERVE_DEFAULT_RESOURCES = {"cpu": "1", "memory": "2Gi"}
"""What KServe's webhook fills in for a missing cpu/memory request or limit (KSERVE.md §2)."""

STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
"""Resources that may be overcommitted (request below limit)."""

EXAMPLE_ACCELERATORS = ("nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "amd.com/gpu", "gpu.intel.com/i915", "habana.ai/gaudi",
                        "aws.amazon.com/neuron", "google.com/tpu")
"""Extended resources device plugins advertise (any ``domain/name`` outside ``kubernetes.io`` is accepted)."""

_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)/"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_HUGEPAGES = re.compile(r"^hugepages-[0-9]+(Ki|Mi|Gi)$")


def is_extended(key: str) -> bool:
    """An extended resource (``nvidia.com/gpu``): a qualified name outside the ``kubernetes.io`` domain."""
    match = _QUALIFIED.match(key)
    return match is not None and not match.group(1).endswith("kubernetes.io") and len(key) <= 253


def _key_problem(key: str) -> str | None:
    if key in STANDARD_RESOURCES or _HUGEPAGES.match(key) or is_extended(key):
        return None
    return (f"expected cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource such as "
            f"nvidia.com/gpu, found {key!r}")


class Resources(SpecModel):
    """Requests and limits. Missing cpu/memory keys are filled explicitly at render time with the values
    KServe's webhook would add, so the live object never differs from git. Extended resources
    (``nvidia.com/gpu``, ``amd.com/gpu``, ``gpu.intel.com/i915``, ``habana.ai/gaudi``, MIG profiles such as
    ``nvidia.com/mig-1g.5gb``, ``aws.amazon.com/neuron``, ``google.com/tpu``) and ``hugepages-<size>`` need a
    limit; their request, rendered equal to it, may be left out."""

    requests: dict[str, Quantity] = {}
    """Resource requests, e.g. ``{"cpu": "100m", "memory": "1Gi"}``."""
    limits: dict[str, Quantity] = {}
    """Resource limits, e.g. ``{"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}``."""

    @field_validator("requests", "limits")
    @classmethod
    def _known_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key, quantity in value.items():
            problem = _key_problem(key)
            if problem:
                raise ValueError(problem)
            if is_extended(key) and not _whole(quantity):
                raise ValueError(f"expected a whole number of {key} (extended resources count devices), found {quantity!r}")
        return value

    @model_validator(mode="after")
    def _not_overcommitted(self) -> Resources:
        for key, request in sorted(self.requests.items()):
            if key in STANDARD_RESOURCES:
                continue
            limit = self.limits.get(key)
            if limit is None:
                raise ValueError(f"{key}: expected a limit equal to the request {request!r} (extended resources and "
                                 f"hugepages cannot be overcommitted), found none")
            if parse(limit)[0] != parse(request)[0]:
                raise ValueError(f"{key}: expected the request to equal the limit {limit!r} (extended resources and "
                                 f"hugepages cannot be overcommitted), found {request!r}")
        return self

    def fixed(self) -> dict[str, str]:
        """Extended resources and hugepages with their limit (rendered as request and limit alike)."""
        return {k: v for k, v in self.limits.items() if k not in STANDARD_RESOURCES}


def _whole(quantity: str) -> bool:
    value = parse(quantity)[0]
    return value == int(value)
