"""Volumes, volume mounts and security contexts of a component's pod and container, in the shape
Kubernetes gives them (dumped as is by ``container.to_k8s``)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from .base import NonNegativeInt, Quantity, SpecModel, SubdomainName

__all__ = ["VolumeMount", "KeyToPath", "SecretVolume", "ConfigMapVolume", "PersistentVolumeClaimVolume", "EmptyDirVolume",
           "Volume", "Capabilities", "SeccompProfile", "SecurityContext", "PodSecurityContext"]


# -- volumes ----------------------------------------------------------------------------------------------
class VolumeMount(SpecModel):
    """Where a volume of the pod appears in the container."""

    name: str
    """Name of a volume of the same component (``volumes``)."""
    mount_path: str
    """Absolute path in the container."""
    read_only: bool | None = None
    """Mount read-only."""
    sub_path: str | None = None
    """Mount only this path of the volume."""


class KeyToPath(SpecModel):
    """One key of a Secret or ConfigMap projected to a file."""

    key: str
    """Key in the object."""
    path: str
    """Relative file path."""


class SecretVolume(SpecModel):
    """A Secret as files."""

    secret_name: SubdomainName
    """Name of the Secret."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths."""
    default_mode: int | None = None
    """File mode, e.g. ``0o440`` (256 + ...)."""
    optional: bool | None = None
    """Start even when the Secret is missing."""


class ConfigMapVolume(SpecModel):
    """A ConfigMap as files."""

    name: SubdomainName
    """Name of the ConfigMap."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths."""
    default_mode: int | None = None
    """File mode."""
    optional: bool | None = None
    """Start even when the ConfigMap is missing."""


class PersistentVolumeClaimVolume(SpecModel):
    """A PersistentVolumeClaim of the namespace."""

    claim_name: SubdomainName
    """Name of the claim."""
    read_only: bool | None = None
    """Mount read-only."""


class EmptyDirVolume(SpecModel):
    """Scratch space for the pod's life; ``medium: Memory`` for ``/dev/shm`` of multi-GPU servers."""

    medium: Literal["", "Memory"] | None = None
    """``Memory`` for tmpfs."""
    size_limit: Quantity | None = None
    """Largest size, e.g. ``2Gi``."""


class Volume(SpecModel):
    """A volume of the component's pod: exactly one source (``secret``, ``config_map``,
    ``persistent_volume_claim``, ``empty_dir``)."""

    name: str
    """Name the containers' ``volume_mounts`` use."""
    secret: SecretVolume | None = None
    """A Secret as files."""
    config_map: ConfigMapVolume | None = None
    """A ConfigMap as files."""
    persistent_volume_claim: PersistentVolumeClaimVolume | None = None
    """A PersistentVolumeClaim."""
    empty_dir: EmptyDirVolume | None = None
    """Scratch space."""

    @model_validator(mode="after")
    def _one_source(self) -> Volume:
        found = [f for f in ("secret", "config_map", "persistent_volume_claim", "empty_dir") if getattr(self, f) is not None]
        if len(found) != 1:
            raise ValueError(f"expected exactly one of secret, config_map, persistent_volume_claim or empty_dir, "
                             f"found {', '.join(found) or 'none'}")
        return self


# -- security ---------------------------------------------------------------------------------------------
class Capabilities(SpecModel):
    """Linux capabilities."""

    add: list[str] | None = None
    """Capabilities added."""
    drop: list[str] | None = None
    """Capabilities dropped, e.g. ``["ALL"]``."""


class SeccompProfile(SpecModel):
    """The seccomp profile."""

    type: Literal["RuntimeDefault", "Localhost", "Unconfined"]
    """Profile kind."""
    localhost_profile: str | None = None
    """Profile file (``Localhost``)."""


class SecurityContext(SpecModel):
    """The serving container's security context."""

    run_as_user: NonNegativeInt | None = None
    """UID."""
    run_as_group: NonNegativeInt | None = None
    """GID."""
    run_as_non_root: bool | None = None
    """Refuse to start as root."""
    read_only_root_filesystem: bool | None = None
    """Read-only root filesystem."""
    allow_privilege_escalation: bool | None = None
    """Allow setuid and the like."""
    privileged: bool | None = None
    """Privileged container."""
    capabilities: Capabilities | None = None
    """Capabilities."""
    seccomp_profile: SeccompProfile | None = None
    """Seccomp profile."""


class PodSecurityContext(SpecModel):
    """The component pod's security context."""

    run_as_user: NonNegativeInt | None = None
    """UID."""
    run_as_group: NonNegativeInt | None = None
    """GID."""
    run_as_non_root: bool | None = None
    """Refuse to start as root."""
    fs_group: NonNegativeInt | None = None
    """Group owning mounted volumes."""
    supplemental_groups: list[NonNegativeInt] | None = None
    """Extra groups."""
    seccomp_profile: SeccompProfile | None = None
    """Seccomp profile."""
