"""What every emitter gets (``EnvContext``) and returns (``Output``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, RenderError, SpecError
from ..overlay import Env, resolve_model, resolve_storage
from ..project import Project
from ..spec import Model, S3Storage

__all__ = ["EnvContext", "Output", "build_context", "MANAGED_BY", "base_labels"]

MANAGED_BY = {"app.kubernetes.io/managed-by": "servespec"}


@dataclass(frozen=True)
class Output:
    """One object to write at ``path`` (relative to ``rendered/<env>/``)."""

    path: str
    obj: dict[str, Any]
    """The object; only ``{"kind": ...}`` when ``data`` came from the render cache."""
    model: str | None = None
    """The model the object belongs to, if any (for incremental renders and diffs)."""
    data: bytes | None = None
    """The object serialized, when already known (a render-cache hit)."""

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])


@dataclass
class EnvContext:
    """One environment, resolved: its overlay and the models and storage it renders."""

    project: Project
    env: Env
    models: dict[str, Model]
    """Enabled models with the environment's overrides applied, by name (sorted)."""
    storage: dict[str, S3Storage]
    """Storage endpoints used by at least one enabled model, overrides applied."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Scratch space for emitters that share derived data."""
    rollout: dict[str, Any] = field(default_factory=dict)
    """Rollout state by model (``rollout.ModelState``) from ``overlays/<env>.rollout.yaml``."""

    @property
    def namespace(self) -> str:
        return self.env.overlay.namespace


def base_labels(model: str | None = None) -> dict[str, str]:
    """Labels servespec puts on what it renders."""
    labels = dict(MANAGED_BY)
    if model:
        labels["app.kubernetes.io/name"] = model
    return labels


def build_context(project: Project, env_name: str) -> EnvContext:
    """Resolve one environment; every problem of its models is reported at once."""
    env = project.envs[env_name]
    problems: list[Problem] = []
    models: dict[str, Model] = {}
    for name in sorted(project.specs.models):
        try:
            resolved = resolve_model(project.specs.models[name], env)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if resolved is not None:
            models[name] = resolved
    storage: dict[str, S3Storage] = {}
    for model in models.values():
        if model.storage and model.storage not in storage:
            try:
                storage[model.storage] = resolve_storage(project.specs.storage[model.storage], env)
            except SpecError as exc:
                problems.extend(exc.problems)
        if model.predictor.storage_uri.startswith("s3://") and not model.storage and not model.service_account_name:
            problems.append(Problem(project.specs.origin[("model", model.name)], None, f"{model.name}.storage",
                                    f"expected a storage endpoint for {model.predictor.storage_uri!r} (env {env_name}), found none"))
    if problems:
        raise RenderError(problems)
    from ..rollout import check_state, load_state

    state, lines = load_state(project.root, env_name)
    check_state(env, models, state, lines, set(project.specs.models))
    return EnvContext(project, env, models, storage, rollout=state)
