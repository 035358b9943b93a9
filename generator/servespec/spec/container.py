"""Container and pod fields of a KServe component (predictor, transformer, explainer), in the shape
Kubernetes gives them: a field here dumps (``to_k8s``) to exactly the YAML a Pod spec holds, so
what users copy from Kubernetes docs is what they write (camelCase in overlays).

``ContainerFields`` are the serving container's (args, command, env as values or references,
envFrom, ports, probes, volume mounts, security context); ``PodFields`` the component's pod's
(node selector, tolerations, affinity, priority class, image pull secrets, pod security context,
runtime class, volumes, component labels/annotations, deployment strategy).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Tag, field_validator, model_validator

from .base import LabelMap, NonNegativeInt, PositiveInt, Quantity, SpecModel, SubdomainName
from .scheduling import Affinity, DeploymentStrategy, Toleration
from .volumes import PodSecurityContext, SecurityContext, Volume, VolumeMount

__all__ = [
    "SecretKeyRef", "ConfigMapKeyRef", "FieldRef", "ResourceFieldRef", "EnvValue", "EnvFrom", "ContainerPort",
    "HTTPHeader", "HTTPGetAction", "TCPSocketAction", "ExecAction", "GRPCAction", "Probe", "ContainerFields",
    "PodFields", "to_k8s", "env_list", "ENV_NAME",
]

ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
"""A C_IDENTIFIER-ish environment variable name as Kubernetes accepts it (``validation.IsEnvVarName``)."""


def to_k8s(obj: SpecModel) -> dict[str, Any]:
    """The Kubernetes shape of a spec object: camelCase keys, unset fields left out."""
    dumped: dict[str, Any] = obj.model_dump(by_alias=True, exclude_none=True, exclude={"source"}, mode="json")
    return dumped


# -- env --------------------------------------------------------------------------------------------------
class _Tagged(SpecModel):
    """A member of a union told apart by ``source``: the tag counts as set, so every dump names it (two
    references can otherwise have the same keys)."""

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("source")


class SecretKeyRef(_Tagged):
    """The value of one key of a Secret (``valueFrom.secretKeyRef``): tokens, passwords, API keys."""

    source: Literal["secret"] = "secret"
    """Picks this kind of reference in YAML (``source: secret``)."""
    name: SubdomainName
    """Name of the Secret in the environment's namespace."""
    key: str
    """Key within the Secret."""
    optional: bool | None = None
    """Start even when the Secret or key is missing."""


class ConfigMapKeyRef(_Tagged):
    """The value of one key of a ConfigMap (``valueFrom.configMapKeyRef``)."""

    source: Literal["configMap"] = "configMap"
    """Picks this kind of reference in YAML (``source: configMap``)."""
    name: SubdomainName
    """Name of the ConfigMap."""
    key: str
    """Key within the ConfigMap."""
    optional: bool | None = None
    """Start even when the ConfigMap or key is missing."""


class FieldRef(_Tagged):
    """A field of the pod (``valueFrom.fieldRef``), e.g. ``metadata.name`` or ``status.podIP``."""

    source: Literal["field"] = "field"
    """Picks this kind of reference in YAML (``source: field``)."""
    field_path: str
    """Path of the field, e.g. ``metadata.namespace``."""


class ResourceFieldRef(_Tagged):
    """A resource request or limit of the container (``valueFrom.resourceFieldRef``)."""

    source: Literal["resource"] = "resource"
    """Picks this kind of reference in YAML (``source: resource``)."""
    resource: str
    """``limits.cpu``, ``requests.memory``, ``limits.nvidia.com/gpu`` ..."""
    divisor: Quantity | None = None
    """Unit of the value, e.g. ``1Mi``."""


def _env_tag(value: Any) -> str | None:
    """Which member of ``EnvValue`` a value is: ``literal`` for a string, else its ``source``."""
    if isinstance(value, str):
        return "literal"
    source = value.get("source") if isinstance(value, dict) else getattr(value, "source", None)
    return source if isinstance(source, str) else None


EnvValue = Annotated[
    Annotated[str, Tag("literal")] | Annotated[SecretKeyRef, Tag("secret")] | Annotated[ConfigMapKeyRef, Tag("configMap")]
    | Annotated[FieldRef, Tag("field")] | Annotated[ResourceFieldRef, Tag("resource")],
    Discriminator(_env_tag, custom_error_type="env_value",
                  custom_error_message="expected a string, or a reference with source: secret, configMap, field or resource"),
]
"""An environment variable's value: a literal string, or a reference (``SecretKeyRef``,
``ConfigMapKeyRef``, ``FieldRef``, ``ResourceFieldRef``; in YAML a mapping with ``source``)."""

_REF_KEY = {"secret": "secretKeyRef", "configMap": "configMapKeyRef", "field": "fieldRef", "resource": "resourceFieldRef"}


def env_list(env: dict[str, EnvValue]) -> list[dict[str, Any]]:
    """``env`` as a Kubernetes ``env`` list, sorted by name."""
    out: list[dict[str, Any]] = []
    for name, value in sorted(env.items()):
        if isinstance(value, str):
            out.append({"name": name, "value": value})
        else:
            out.append({"name": name, "valueFrom": {_REF_KEY[value.source]: to_k8s(value)}})
    return out


class EnvFrom(SpecModel):
    """Every key of a Secret or ConfigMap as environment variables (one of ``secret``, ``config_map``)."""

    secret: SubdomainName | None = None
    """Name of a Secret."""
    config_map: SubdomainName | None = None
    """Name of a ConfigMap."""
    prefix: str | None = None
    """Prefix added to every variable name."""
    optional: bool | None = None
    """Start even when the object is missing."""

    @model_validator(mode="after")
    def _one(self) -> EnvFrom:
        if (self.secret is None) == (self.config_map is None):
            raise ValueError("expected exactly one of secret or config_map, found " + ("both" if self.secret else "neither"))
        return self

    def k8s(self) -> dict[str, Any]:
        """The ``envFrom`` entry."""
        ref: dict[str, Any] = {"name": self.secret or self.config_map}
        if self.optional is not None:
            ref["optional"] = self.optional
        out: dict[str, Any] = {"secretRef" if self.secret else "configMapRef": ref}
        if self.prefix:
            out["prefix"] = self.prefix
        return out


# -- ports and probes -------------------------------------------------------------------------------------
def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"expected a port number from 1 to 65535, found {value}")
    return value


class ContainerPort(SpecModel):
    """A port the container listens on."""

    container_port: Annotated[int, AfterValidator(_port)]
    """Port number."""
    name: str | None = None
    """IANA name; Knative wants ``http1`` or ``h2c`` for the serving port."""
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None
    """Protocol (``TCP`` by default)."""


class HTTPHeader(SpecModel):
    """A header sent by an HTTP probe."""

    name: str
    """Header name."""
    value: str
    """Header value."""


class HTTPGetAction(SpecModel):
    """An HTTP GET probe."""

    path: str | None = None
    """Path, e.g. ``/v2/health/ready``."""
    port: int | str | None = None
    """Port number or name; Knative wants it unset or the container port."""
    scheme: Literal["HTTP", "HTTPS"] | None = None
    """Scheme."""
    http_headers: list[HTTPHeader] | None = None
    """Extra headers."""


class TCPSocketAction(SpecModel):
    """A TCP connect probe."""

    port: int | str
    """Port number or name."""


class ExecAction(SpecModel):
    """A command probe (exit 0 = healthy)."""

    command: list[str]
    """The command and its arguments."""


class GRPCAction(SpecModel):
    """A gRPC health-check probe."""

    port: int
    """Port number."""
    service: str | None = None
    """Service name for the health check."""


class Probe(SpecModel):
    """A liveness, readiness or startup probe: exactly one of ``http_get``, ``tcp_socket``, ``exec``, ``grpc``."""

    http_get: HTTPGetAction | None = None
    """HTTP GET."""
    tcp_socket: TCPSocketAction | None = None
    """TCP connect."""
    exec: ExecAction | None = None
    """Run a command."""
    grpc: GRPCAction | None = None
    """gRPC health check."""
    initial_delay_seconds: NonNegativeInt | None = None
    """Wait before the first probe (large models load for minutes: prefer a startup probe)."""
    period_seconds: PositiveInt | None = None
    """Seconds between probes."""
    timeout_seconds: PositiveInt | None = None
    """Seconds before a probe times out."""
    success_threshold: PositiveInt | None = None
    """Successes in a row to be healthy."""
    failure_threshold: PositiveInt | None = None
    """Failures in a row to be unhealthy."""

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        found = [f for f in ("http_get", "tcp_socket", "exec", "grpc") if getattr(self, f) is not None]
        if len(found) != 1:
            raise ValueError(f"expected exactly one of http_get, tcp_socket, exec or grpc, found {', '.join(found) or 'none'}")
        return self


# -- the mixins -------------------------------------------------------------------------------------------
class ContainerFields(SpecModel):
    """Fields of a serving container."""

    args: list[str] = []
    """Container arguments (e.g. ``["--model_id=meta-llama/Meta-Llama-3-8B-Instruct"]``)."""
    command: list[str] = []
    """Entrypoint override."""
    env: dict[str, EnvValue] = {}
    """Environment variables: a string, or a reference (``SecretKeyRef``...; YAML: ``{source: secret, name, key}``).
    A literal value for a token-like name (``HF_TOKEN``, ``*_SECRET``, ``*PASSWORD*``...) is refused outside
    environments that allow plaintext secrets."""
    env_from: list[EnvFrom] = []
    """Whole Secrets or ConfigMaps as environment variables."""
    ports: list[ContainerPort] = []
    """Ports (Knative mode: at most one)."""
    volume_mounts: list[VolumeMount] = []
    """Volumes of the component mounted into the container."""
    liveness_probe: Probe | None = None
    """Restart the container when it fails."""
    readiness_probe: Probe | None = None
    """Send traffic only when it passes."""
    startup_probe: Probe | None = None
    """Hold the other probes until it passes (slow model loads)."""
    security_context: SecurityContext | None = None
    """Container security context."""

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, EnvValue]) -> dict[str, EnvValue]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"expected an environment variable name (letters, digits, '_', '-', '.', not starting "
                                 f"with a digit), found {name!r}")
        return value

    def container_body(self) -> dict[str, Any]:
        """These fields as Kubernetes container keys (only those set)."""
        body: dict[str, Any] = {}
        if self.args:
            body["args"] = list(self.args)
        if self.command:
            body["command"] = list(self.command)
        if self.env:
            body["env"] = env_list(self.env)
        if self.env_from:
            body["envFrom"] = [e.k8s() for e in self.env_from]
        for key, value in (("ports", self.ports), ("volumeMounts", self.volume_mounts)):
            if value:
                body[key] = [to_k8s(v) for v in value]
        for key, probe in (("livenessProbe", self.liveness_probe), ("readinessProbe", self.readiness_probe),
                           ("startupProbe", self.startup_probe), ("securityContext", self.security_context)):
            if probe is not None:
                body[key] = to_k8s(probe)
        return body


class PodFields(SpecModel):
    """Fields of a component's pod (and KServe's component extension)."""

    node_selector: LabelMap = {}
    """Node labels the pods must run on, e.g. ``{"nvidia.com/gpu.product": "NVIDIA-A10G"}``."""
    tolerations: list[Toleration] = []
    """Taints the pods tolerate."""
    affinity: Affinity | None = None
    """Node and pod (anti-)affinity."""
    priority_class_name: str | None = None
    """PriorityClass of the pods."""
    runtime_class_name: str | None = None
    """RuntimeClass, e.g. ``nvidia``."""
    image_pull_secrets: list[SubdomainName] = []
    """Secrets to pull private images with."""
    pod_security_context: PodSecurityContext | None = None
    """Pod security context (``securityContext`` of the component)."""
    volumes: list[Volume] = []
    """Volumes the containers mount."""
    labels: LabelMap = {}
    """Labels on this component's pods only (KServe ``labels``)."""
    annotations: LabelMap = {}
    """Annotations on this component's pods only (KServe ``annotations``)."""
    deployment_strategy: DeploymentStrategy | None = None
    """Rollout of the pods in Standard mode (refused in Knative mode)."""

    @model_validator(mode="after")
    def _unique_volumes(self) -> PodFields:
        names = [v.name for v in self.volumes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"expected unique volume names, found {', '.join(dup)} twice")
        return self

    def pod_body(self) -> dict[str, Any]:
        """These fields as component keys (only those set)."""
        body: dict[str, Any] = {}
        if self.node_selector:
            body["nodeSelector"] = dict(sorted(self.node_selector.items()))
        if self.tolerations:
            body["tolerations"] = [to_k8s(t) for t in self.tolerations]
        for key, value in (("affinity", self.affinity), ("securityContext", self.pod_security_context),
                           ("deploymentStrategy", self.deployment_strategy)):
            if value is not None:
                body[key] = to_k8s(value)
        if self.priority_class_name:
            body["priorityClassName"] = self.priority_class_name
        if self.runtime_class_name:
            body["runtimeClassName"] = self.runtime_class_name
        if self.image_pull_secrets:
            body["imagePullSecrets"] = [{"name": n} for n in self.image_pull_secrets]
        if self.volumes:
            body["volumes"] = [to_k8s(v) for v in self.volumes]
        if self.labels:
            body["labels"] = dict(sorted(self.labels.items()))
        if self.annotations:
            body["annotations"] = dict(sorted(self.annotations.items()))
        return body
