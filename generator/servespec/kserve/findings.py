"""The ``Finding`` every KServe rule returns, the supported KServe minors, deployment-mode names
per minor, and typed readers over rendered (plain dict) objects. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Finding",
    "Minor",
    "SUPPORTED_MINORS",
    "MODE_ANNOTATION",
    "v",
    "check_minor",
    "known_modes",
    "normalized_mode",
    "raw_branch",
    "as_map",
    "as_list",
    "as_str",
    "as_int",
]

Minor = tuple[int, int]

SUPPORTED_MINORS: tuple[Minor, ...] = ((0, 14), (0, 15), (0, 16), (0, 17), (0, 18), (0, 19), (0, 20))
"""KServe minors whose webhooks and controller these rules were read from (tags v0.14.1,
v0.15.2, v0.16.0, v0.17.1, v0.18.1, v0.19.0, v0.20.0)."""

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"

LEGACY_MODES = {"Serverless": "Knative", "RawDeployment": "Standard"}
"""Old mode name -> the name KServe 0.16 introduced for it (constants.go, #4608)."""


@dataclass(frozen=True, order=True)
class Finding:
    """One rule a rendered InferenceService breaks: where (a field path such as
    ``metadata.annotations.serving.kserve.io/deploymentMode``), what was expected and what was
    found, and the rule's id (stable, for allow-lists and tests)."""

    path: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def v(minor: Minor) -> str:
    """``(0, 15)`` -> ``"0.15"``."""
    return f"{minor[0]}.{minor[1]}"


def check_minor(minor: Minor) -> None:
    """Raise ``ValueError`` for a KServe minor these rules were not read from."""
    if tuple(minor) not in SUPPORTED_MINORS:
        known = ", ".join(v(m) for m in SUPPORTED_MINORS)
        raise ValueError(f"KServe {v(minor)} is not supported: expected one of {known}")


def known_modes(minor: Minor) -> tuple[str, ...]:
    """Deployment-mode annotation values the controller of ``minor`` recognises (anything else
    silently runs in the cluster default: ``GetDeploymentMode`` in
    pkg/controller/v1beta1/inferenceservice/utils/utils.go)."""
    if minor < (0, 16):
        return ("Serverless", "RawDeployment", "ModelMesh")
    return ("Knative", "Standard", "ModelMesh", "Serverless", "RawDeployment")


def normalized_mode(value: str) -> str:
    """The 0.16+ name of a mode value (legacy names mapped, others unchanged)."""
    return LEGACY_MODES.get(value, value)


def raw_branch(value: str | None, minor: Minor) -> bool:
    """Whether the validating webhook of ``minor`` takes the raw-deployment branch of
    ``validateAutoScalingCompExtension`` for this annotation value, as it sees it after the
    mutating webhook: up to 0.15 only ``RawDeployment``; in 0.16 only ``Standard`` (legacy values
    are not rewritten yet); from 0.17 either, because the defaulter rewrites the legacy name."""
    if value is None:
        return False
    if minor < (0, 16):
        return value == "RawDeployment"
    if minor == (0, 16):
        return value == "Standard"
    return normalized_mode(value) == "Standard"


def as_map(value: object) -> Mapping[str, object]:
    """``value`` if it is a mapping, else an empty one."""
    if type(value) is dict:  # what rendered objects hold: no abstract-class check (the hot path of every rule)
        return value
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> Sequence[object]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    """``value`` if it is a string."""
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    """``value`` if it is an integer (not a bool)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
