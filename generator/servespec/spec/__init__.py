"""The typed spec model: what users write in ``specs/*.py`` (and overlays refine).

Import everything from here: ``from servespec.spec import Model, Predictor, S3Storage, LLM``.
"""

from .autoscaling import (
    AuthenticationRef,
    AutoScaling,
    ExternalAuthentication,
    ExternalMetric,
    ExternalMetricQuery,
    MetricTarget,
    PodMetric,
    PodMetricQuery,
    ResourceMetric,
    ScalingBehavior,
    ScalingMetric,
    ScalingPolicy,
    ScalingRules,
    WorkerSpec,
)
from .base import EnvName, LabelMap, Name, Quantity, SpecModel, SubdomainName
from .container import (
    ConfigMapKeyRef,
    ContainerPort,
    EnvFrom,
    ExecAction,
    FieldRef,
    GRPCAction,
    HTTPGetAction,
    HTTPHeader,
    Probe,
    ResourceFieldRef,
    SecretKeyRef,
    TCPSocketAction,
)
from .extra import EnvServiceAccount, ExtraManifest, ManifestMetadata
from .graph import GraphMonitoring, GraphNode, GraphStep, InferenceGraph
from .model import (
    KSERVE_DEFAULT_RESOURCES,
    ArtExplainer,
    Batcher,
    Container,
    ContainerExplainer,
    Logger,
    Model,
    Predictor,
    Resources,
    StorageSpec,
    Transformer,
)
from .runtime import Runtime, SupportedModelFormat
from .scheduling import (
    Accelerators,
    Affinity,
    DeploymentStrategy,
    LabelSelector,
    LabelSelectorRequirement,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinity,
    PodAffinityTerm,
    PreferredSchedulingTerm,
    RollingUpdate,
    Scheduling,
    Toleration,
    WeightedPodAffinityTerm,
)
from .storage_kinds import AzureStorage, GCSStorage, HTTPStorage, HuggingFaceStorage, Storage
from .volumes import (
    Capabilities,
    ConfigMapVolume,
    EmptyDirVolume,
    KeyToPath,
    PersistentVolumeClaimVolume,
    PodSecurityContext,
    SeccompProfile,
    SecretVolume,
    SecurityContext,
    Volume,
    VolumeMount,
)
from .llm import (
    LLM,
    GatewayRef,
    HFTokenExistingSecret,
    HFTokenExternalSecret,
    HFTokenSealedSecret,
    LLMCache,
    LLMMonitoring,
    LLMRouter,
    LLMScaling,
    Parallelism,
    Prefill,
)
from .monitoring import (
    CanaryObjective,
    ErrorRateObjective,
    LatencyObjective,
    MessageDumper,
    Monitoring,
    TrafficObjective,
)
from .rollout import Gate, RolloutPlan, Step
from .storage import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    Credentials,
    ExistingSecret,
    ExternalSecretCredentials,
    PlaintextCredentials,
    AwsIamRole,
    AzureManagedIdentity,
    GcpServiceAccount,
    RemoteRef,
    S3Storage,
    SealedSecretCredentials,
)

__all__ = [
    "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "KSERVE_DEFAULT_RESOURCES",
    "ArtExplainer", "Batcher", "CanaryObjective", "ErrorRateObjective", "LatencyObjective",
    "MessageDumper", "TrafficObjective", "Container", "ContainerExplainer", "Credentials", "EnvName",
    "ExistingSecret", "ExternalSecretCredentials", "LabelMap", "Logger", "Model", "Monitoring",
    "Name", "PlaintextCredentials", "Predictor", "Quantity", "RemoteRef", "Resources",
    "RolloutPlan", "S3Storage", "SealedSecretCredentials", "SpecModel", "Step", "SubdomainName",
    "Gate",
    "Transformer",
    # the InferenceService surface (containers, scheduling, scaling, storage kinds, runtimes, graphs, extras)
    "AuthenticationRef", "AutoScaling", "ExternalAuthentication", "ExternalMetric", "ExternalMetricQuery", "MetricTarget",
    "PodMetric", "PodMetricQuery", "ResourceMetric", "ScalingBehavior", "ScalingMetric", "ScalingPolicy", "ScalingRules",
    "WorkerSpec", "ConfigMapKeyRef", "ContainerPort", "EnvFrom", "ExecAction", "FieldRef", "GRPCAction", "HTTPGetAction",
    "HTTPHeader", "Probe", "ResourceFieldRef", "SecretKeyRef", "TCPSocketAction", "EnvServiceAccount", "ExtraManifest",
    "ManifestMetadata", "GraphMonitoring", "GraphNode", "GraphStep", "InferenceGraph", "StorageSpec", "Runtime",
    "SupportedModelFormat", "Affinity", "DeploymentStrategy", "LabelSelector", "LabelSelectorRequirement", "NodeAffinity",
    "NodeSelector", "NodeSelectorRequirement", "NodeSelectorTerm", "PodAffinity", "PodAffinityTerm",
    "PreferredSchedulingTerm", "RollingUpdate", "Toleration", "WeightedPodAffinityTerm", "AzureStorage", "GCSStorage",
    "HTTPStorage", "HuggingFaceStorage", "Storage", "Capabilities", "ConfigMapVolume", "EmptyDirVolume", "KeyToPath",
    "PersistentVolumeClaimVolume", "PodSecurityContext", "SeccompProfile", "SecretVolume", "SecurityContext", "Volume",
    "VolumeMount", "AwsIamRole", "AzureManagedIdentity", "GcpServiceAccount",
    "LLM", "GatewayRef", "HFTokenExistingSecret", "HFTokenExternalSecret", "HFTokenSealedSecret", "LLMCache",
    "LLMMonitoring", "LLMRouter", "LLMScaling", "Parallelism", "Prefill", "Accelerators", "Scheduling",
]
