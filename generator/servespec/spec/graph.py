"""InferenceGraphs: models chained (``Sequence``), chosen by a condition (``Switch``), run side by side
(``Ensemble``) or split by weight (``Splitter``), each step referencing a model by its spec object.

The structural rules of KServe's validating webhook hold by construction here
(``pkg/apis/serving/v1alpha1/inference_graph_validation.go``): a node named ``root``, unique step names
per node, exactly one target per step, Splitter weights on every step summing to 100; and every
``node`` a step names exists.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import LabelMap, Name, NonNegativeInt, PositiveInt, SpecModel
from .model import Model
from .monitoring import ErrorRateObjective, LatencyObjective
from .resources import Resources
from .scheduling import Affinity

__all__ = ["GraphStep", "GraphNode", "GraphMonitoring", "InferenceGraph", "ROOT"]

ROOT = "root"
"""The node KServe's router starts at."""


class GraphStep(SpecModel):
    """One step of a node: a model (by spec object), another node, or a URL."""

    name: str | None = None
    """Step name (unique within its node)."""
    model: Model | None = None
    """The model to call (its InferenceService, ``serviceName``)."""
    node: str | None = None
    """Another node of the graph to call (``nodeName``)."""
    service_url: str | None = None
    """Any URL to call (``serviceUrl``)."""
    data: Literal["$request", "$response"] | None = None
    """What the step receives: the graph's request or the previous step's response (Sequence)."""
    condition: str | None = None
    """GJSON condition on the request (Switch; Sequence: skip the step when false)."""
    weight: Annotated[int, Field(ge=0, le=100)] | None = None
    """Share of the traffic in percent (Splitter)."""
    dependency: Literal["Soft", "Hard"] | None = None
    """``Hard``: the graph fails when this step fails."""

    @model_validator(mode="after")
    def _one_target(self) -> GraphStep:
        targets = [f for f in ("model", "node", "service_url") if getattr(self, f) is not None]
        if len(targets) != 1:
            raise ValueError(f"expected exactly one of model, node or service_url, found {', '.join(targets) or 'none'}")
        return self


class GraphNode(SpecModel):
    """A router node and its steps."""

    router_type: Literal["Sequence", "Switch", "Ensemble", "Splitter"]
    """How the steps are used."""
    steps: list[GraphStep]
    """The steps, in order."""

    @model_validator(mode="after")
    def _steps(self) -> GraphNode:
        names = [s.name for s in self.steps if s.name]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"expected unique step names, found {', '.join(dup)} twice")
        if self.router_type == "Splitter":
            missing = [i for i, s in enumerate(self.steps) if s.weight is None]
            if missing:
                raise ValueError(f"expected a weight on every step of a Splitter, found none on step {missing[0]}")
            total = sum(s.weight or 0 for s in self.steps)
            if total != 100:
                raise ValueError(f"expected the Splitter's weights to sum to 100, found {total}")
        return self


class GraphMonitoring(SpecModel):
    """Alerts on the graph's own traffic (its router's queue-proxy; Knative mode)."""

    enabled: bool = True
    """Scrape the router and alert on it."""
    error_rate: ErrorRateObjective = ErrorRateObjective()
    """Error-rate objective (alert ``GraphErrorRateHigh``)."""
    latency: LatencyObjective = LatencyObjective()
    """p99 latency objective (alert ``GraphLatencyP99High``)."""
    severity: str = "warning"
    """``severity`` label of the alerts."""


class InferenceGraph(SpecModel):
    """A KServe InferenceGraph, rendered into every environment where all its models are."""

    name: Name
    """Graph name (DNS-1035 label, like KServe's ``[a-z]([-a-z0-9]*[a-z0-9])?``)."""
    nodes: dict[str, GraphNode]
    """Nodes by name; one must be ``root``."""
    deployment_mode: Literal["Knative", "Standard"] = "Knative"
    """How the router runs; its metrics (queue-proxy) exist in Knative mode only."""
    min_replicas: NonNegativeInt | None = None
    """Minimum router replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum router replicas."""
    scale_target: PositiveInt | None = None
    """Autoscaling target."""
    scale_metric: Literal["concurrency", "rps", "cpu", "memory"] | None = None
    """Autoscaling metric."""
    timeout: PositiveInt | None = None
    """Request timeout of the router, in seconds."""
    resources: Resources | None = None
    """Router requests/limits."""
    affinity: Affinity | None = None
    """Router affinity."""
    labels: LabelMap = {}
    """Labels on the InferenceGraph."""
    annotations: LabelMap = {}
    """Annotations on the InferenceGraph."""
    monitoring: GraphMonitoring = GraphMonitoring()
    """Scraping and alerts."""

    @model_validator(mode="after")
    def _graph(self) -> InferenceGraph:
        if ROOT not in self.nodes:
            raise ValueError(f"expected a node named 'root' (KServe's router starts there), found {', '.join(sorted(self.nodes)) or 'none'}")
        for node_name, node in self.nodes.items():
            for i, step in enumerate(node.steps):
                if step.node is not None and step.node not in self.nodes:
                    raise ValueError(f"nodes.{node_name}.steps[{i}].node: expected one of {', '.join(sorted(self.nodes))}, "
                                     f"found {step.node!r}")
        return self

    def models(self) -> list[Model]:
        """The models the graph calls, in order of first use."""
        seen: dict[str, Model] = {}
        for node in self.nodes.values():
            for step in node.steps:
                if step.model is not None:
                    seen.setdefault(step.model.name, step.model)
        return list(seen.values())
