"""The typed spec model: what users write in ``specs/*.py`` (and overlays refine).

Import everything from here: ``from servespec.spec import Model, Predictor, S3Storage, LLM``.
"""

from .base import EnvName, LabelMap, Name, Quantity, SpecModel, SubdomainName
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
    Transformer,
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
from .scheduling import Accelerators, Scheduling, Toleration
from .storage import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    Credentials,
    ExistingSecret,
    ExternalSecretCredentials,
    PlaintextCredentials,
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
    "LLM", "GatewayRef", "HFTokenExistingSecret", "HFTokenExternalSecret", "HFTokenSealedSecret", "LLMCache",
    "LLMMonitoring", "LLMRouter", "LLMScaling", "Parallelism", "Prefill", "Accelerators", "Scheduling", "Toleration",
]
