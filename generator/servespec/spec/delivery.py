"""How an environment is delivered to its cluster: Argo CD or Flux.

The overlay key ``delivery`` decides which controller objects ``render`` writes to
``rendered/<env>/bootstrap/`` (see ``emit/delivery.py``) and how the environment's tree is split
into small units (``common/`` plus one folder per model, or per shard) so that each
controller-side kustomize build stays small.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from .base import GoDuration, Name, PositiveInt, SpecModel

__all__ = ["EnvDelivery", "MAX_SHARD_OBJECTS", "SyncPolicy"]

MAX_SHARD_OBJECTS = 40
"""The most objects a shard should hold: kustomize builds a unit of this many in under 0.1 s
(``bench/delivery_kustomize.py --sweep`` on a shared 2-core machine, kubectl's own start included;
README "Thousands of models"). A typical model renders 4 objects, an LLM up to 8."""


class SyncPolicy(SpecModel):
    """What the controller may do on its own."""

    automated: bool = True
    """Sync every new commit without a click (Argo CD ``syncPolicy.automated``; Flux: not suspended)."""
    prune: bool = True
    """Delete objects that disappeared from git (a removed model is deleted from the cluster)."""
    self_heal: bool = True
    """Revert changes made to the cluster by hand (Argo CD ``selfHeal``; Flux always corrects drift)."""


class EnvDelivery(SpecModel):
    """Per-environment delivery settings (overlay key ``delivery``)."""

    controller: Literal["argocd", "flux", "none"] = "none"
    """Which GitOps controller syncs this environment; ``none`` renders no controller objects."""
    repo_url: str | None = None
    """URL the controller clones, e.g. ``https://github.com/acme/ml-serving.git`` (required unless ``none``)."""
    revision: str = "main"
    """Branch the controller follows (Argo CD ``targetRevision``, Flux ``ref.branch``)."""
    path: str = ""
    """Folder of the servespec repo inside the git repo, when it is not the git root (e.g. ``serving``)."""
    name: Name | None = None
    """Name (and prefix) of the controller objects; default ``servespec-<env>``."""
    controller_namespace: Name | None = None
    """Namespace of the controller objects; default ``argocd`` or ``flux-system``."""
    sync: SyncPolicy = SyncPolicy()
    """Sync policy."""
    shards: PositiveInt | None = None
    """Spread the models over this many folders (by a stable hash of the name); default: one folder per model.
    A new count renames the units, which restarts their models (README "Delivery"): choose it with room to grow."""
    max_shard_objects: PositiveInt = MAX_SHARD_OBJECTS
    """With ``shards``: the most objects a shard should hold; ``render`` and ``validate`` warn above it, naming a
    count that fits (default: what kustomize builds in under 0.1 s, README "Thousands of models")."""
    interval: GoDuration = "5m"
    """Flux: how often to fetch and reconcile."""
    timeout: GoDuration = "10m"
    """Flux: how long to wait for objects (InferenceServices) to become ready."""
    secret_ref: str | None = None
    """Flux: Secret with the git credentials (``GitRepository.spec.secretRef``)."""
    project: str = "default"
    """Argo CD: the AppProject of the generated Applications."""
    destination_server: str = "https://kubernetes.default.svc"
    """Argo CD: the cluster the Applications deploy to (default: the one Argo CD runs in)."""

    @model_validator(mode="after")
    def _needs_repo(self) -> EnvDelivery:
        if self.controller != "none" and not self.repo_url:
            raise ValueError(f"expected repoUrl (the git URL {self.controller} clones) when controller is {self.controller!r}, found none")
        if self.path.startswith("/") or ".." in self.path.split("/"):
            raise ValueError(f"expected path relative to the git root, found {self.path!r}")
        return self
