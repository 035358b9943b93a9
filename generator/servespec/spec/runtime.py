"""Serving runtimes of your own: ``Runtime`` renders a ServingRuntime (or ClusterServingRuntime) whose image
is pinned by digest and whose name carries a short hash of its spec.

Models reference a runtime by the spec object (``Predictor(runtime=VLLM)``). Changing anything in the
runtime changes its name, so the InferenceServices of exactly the models that use it change with it
(``servespec diff`` lists them), and a model under rollout keeps the runtime its state records until it
is released: a runtime upgrade goes model by model through the plan and its gates, never as a fleet-wide
restart. Runtimes no model and no rollout state references are not rendered (pruned).
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

import orjson
from pydantic import field_validator, model_validator

from .base import LabelMap, Name, PositiveInt, SpecModel
from .container import ContainerFields
from .resources import Resources
from .scheduling import Affinity, Toleration
from .volumes import Volume

__all__ = ["SupportedModelFormat", "Runtime", "DIGEST", "runtime_hash"]

DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
"""An image reference pinned by digest: ``registry/name[:tag]@sha256:<64 hex>``."""

HASH_LENGTH = 8


class SupportedModelFormat(SpecModel):
    """A model format the runtime serves (``supportedModelFormats``)."""

    name: str
    """Format name, e.g. ``huggingface``, ``vLLM``, ``sklearn``."""
    version: str | None = None
    """Format version: "major", "major.minor" or "major.minor.patch"."""
    auto_select: bool | None = None
    """Pick this runtime for models that name no runtime."""
    priority: PositiveInt | None = None
    """Among auto-selected runtimes, the highest wins."""


class Runtime(ContainerFields):
    """A ServingRuntime (namespaced) or ClusterServingRuntime, image pinned by digest.

    Rendered as ``<name>-<8 hex of the spec's hash>``; the container is ``kserve-container``."""

    name: Name
    """Base name; the rendered name appends a hash of the spec (``huggingface-gpu-1a2b3c4d``)."""
    image: str
    """Image pinned by digest (``registry.example.com/kserve/huggingfaceserver@sha256:...``)."""
    cluster_scoped: bool = False
    """Render a ClusterServingRuntime (no namespace) instead of a ServingRuntime in the env's namespace."""
    supported_model_formats: list[SupportedModelFormat]
    """Model formats served."""
    protocol_versions: list[Literal["v1", "v2", "grpc-v1", "grpc-v2"]] = []
    """Inference protocols the server speaks."""
    multi_model: bool | None = None
    """Serves several models per pod (ModelMesh-style)."""
    resources: Resources = Resources()
    """Default requests/limits of the container (a model's own resources win)."""
    annotations: LabelMap = {}
    """Annotations on the runtime's pods, e.g. ``prometheus.kserve.io/port``."""
    labels: LabelMap = {}
    """Labels on the runtime's pods."""
    node_selector: LabelMap = {}
    """Node labels the runtime's pods must run on."""
    tolerations: list[Toleration] = []
    """Taints the runtime's pods tolerate."""
    affinity: Affinity | None = None
    """Node and pod (anti-)affinity of the runtime's pods."""
    image_pull_secrets: list[str] = []
    """Secrets to pull the image with."""
    volumes: list[Volume] = []
    """Volumes the container mounts."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not DIGEST.match(value):
            raise ValueError(f"expected an image pinned by digest (name@sha256:<64 hex>), found {value!r}")
        return value

    @field_validator("supported_model_formats")
    @classmethod
    def _formats(cls, value: list[SupportedModelFormat]) -> list[SupportedModelFormat]:
        if not value:
            raise ValueError("expected at least one supported model format, found none")
        return value

    @model_validator(mode="after")
    def _mounts(self) -> Runtime:
        volumes = {v.name for v in self.volumes}
        missing = [m.name for m in self.volume_mounts if m.name not in volumes]
        if missing:
            raise ValueError(f"expected volume_mounts to name volumes of the runtime, found {', '.join(missing)}")
        return self

    @property
    def rendered_name(self) -> str:
        """``<name>-<hash>``: what models' ``runtime`` and the rendered object say."""
        return f"{self.name}-{runtime_hash(self)}"

    @property
    def kind(self) -> str:
        """``ClusterServingRuntime`` or ``ServingRuntime``."""
        return "ClusterServingRuntime" if self.cluster_scoped else "ServingRuntime"


def runtime_hash(runtime: Runtime) -> str:
    """8 hex digits of the sha256 of the runtime's canonical JSON (every field, defaults included)."""
    data = orjson.dumps(runtime.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
