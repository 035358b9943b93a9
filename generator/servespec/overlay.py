"""Environment overlays: what differs per environment, and how it merges into the specs.

An environment is ``overlays/<env>.yaml`` or a folder ``overlays/<env>/`` whose ``*.yaml`` files
are merged key by key (a key may appear in only one of them). ``overlays/<env>.rollout.yaml`` is
the rollout state, which only ``release``/``promote``/``rollback`` edit.

Precedence for a model's fields: the spec's explicit values beat the environment's
``defaults``, which beat the spec model's own defaults; a per-model entry under ``models:``
beats everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, field_validator

from .errors import Problem, SpecError
from .spec import Credentials, LabelMap, Model, Resources, S3Storage
from .spec.base import Name, NonNegativeInt, SpecModel, SubdomainName
from .spec.cost import Budget, Pricing
from .spec.delivery import EnvDelivery
from .spec.monitoring import EnvMonitoring
from .spec.rollout import EnvRollout
from .validation_messages import describe_pydantic_error
from .yamlio import load_with_lines

__all__ = ["EnvOverlay", "ModelDefaults", "ModelOverride", "StorageOverride", "Env", "load_envs", "discover_envs", "resolve_model", "resolve_storage"]

_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
_ENV_FILE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class ModelDefaults(SpecModel):
    """Values for every model of the environment that its spec does not set itself."""

    min_replicas: NonNegativeInt | None = None
    """Minimum replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas (0 = no maximum)."""
    deployment_mode: Literal["Knative", "Standard"] | None = None
    """KServe deployment mode."""
    logger_url: str | None = None
    """Sink for models whose logger sets no URL (default: the message dumper, when enabled)."""
    labels: LabelMap = {}
    """Labels added to every InferenceService."""
    annotations: LabelMap = {}
    """Annotations added to every InferenceService."""


class ModelOverride(SpecModel):
    """Per-model changes in one environment."""

    enabled: bool = True
    """Render this model in this environment."""
    min_replicas: NonNegativeInt | None = None
    """Minimum replicas."""
    max_replicas: NonNegativeInt | None = None
    """Maximum replicas (0 = no maximum)."""
    resources: Resources | None = None
    """Predictor requests/limits, replacing the spec's."""
    labels: LabelMap = {}
    """Labels merged over the spec's."""
    annotations: LabelMap = {}
    """Annotations merged over the spec's."""
    storage: Name | None = None
    """Use another storage endpoint."""
    deployment_mode: Literal["Knative", "Standard"] | None = None
    """KServe deployment mode."""


class StorageOverride(SpecModel):
    """Per-environment changes to a storage endpoint."""

    endpoint: str | None = None
    """Host[:port]."""
    region: str | None = None
    """S3 region."""
    use_https: bool | None = None
    """Talk HTTPS to the endpoint."""
    verify_ssl: bool | None = None
    """Verify the endpoint's certificate."""
    anonymous: bool | None = None
    """Anonymous credentials."""
    credentials: Credentials | None = None
    """Where this environment's credentials come from (replaces the spec's)."""
    secret_name: SubdomainName | None = None
    """Name of the credentials Secret."""
    service_account_name: SubdomainName | None = None
    """Name of the ServiceAccount."""


class EnvOverlay(SpecModel):
    """One environment: namespace, cluster versions, policies, defaults and overrides."""

    namespace: Name
    """Namespace every object of this environment goes to."""
    create_namespace: bool = False
    """Render the Namespace object too."""
    namespace_labels: LabelMap = {}
    """Labels on the rendered Namespace."""
    kubernetes_version: str = "1.30"
    """Kubernetes version of the cluster; built-in kinds are validated against it."""
    kserve_version: str = "0.15"
    """KServe version of the cluster; decides which fields may be rendered."""
    kserve_api: Literal["serving.kserve.io/v1beta1", "serving.kubeflow.org/v1alpha2"] = "serving.kserve.io/v1beta1"
    """InferenceService API: current KServe, or legacy KFServing (v1alpha2) clusters."""
    allow_plaintext_secrets: bool = False
    """Allow plaintext credentials in git: only for a throwaway local demo."""
    require_resource_limits: bool = False
    """Every container must set cpu and memory limits in its spec (defaults do not count)."""
    defaults: ModelDefaults = ModelDefaults()
    """Defaults for every model."""
    storage: dict[str, StorageOverride] = {}
    """Per storage endpoint changes."""
    models: dict[str, ModelOverride] = {}
    """Per model changes."""
    rollout: EnvRollout = EnvRollout()
    """Rollout settings."""
    monitoring: EnvMonitoring = EnvMonitoring()
    """Monitoring settings."""
    delivery: EnvDelivery = EnvDelivery()
    """Argo CD / Flux settings."""
    pricing: Pricing | None = None
    """What capacity costs here: the cost figures of ``servespec diff`` and budgets in money."""
    budget: Budget | None = None
    """Bounds on this environment's rendered capacity and cost, checked by ``servespec validate``."""

    @field_validator("kubernetes_version", "kserve_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"expected a version such as \"1.30\", found {value!r}")
        return value.lstrip("v")

    @property
    def kserve_version_tuple(self) -> tuple[int, ...]:
        """KServe version as a comparable tuple, e.g. ``(0, 15)``."""
        return tuple(int(p) for p in self.kserve_version.split("."))


@dataclass(frozen=True)
class Env:
    """A loaded environment: its name, overlay and where each key came from."""

    name: str
    overlay: EnvOverlay
    files: tuple[str, ...]
    """Overlay files, relative to the repo root."""
    lines: dict[tuple[Any, ...], tuple[str, int]]
    """Field path -> (file, line)."""

    def where(self, *path: Any) -> tuple[str, int | None]:
        """File and line of an overlay key (or its nearest ancestor)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return (self.files[0], None)


def discover_envs(root: Path) -> list[str]:
    """Names of the environments under ``root/overlays``, sorted."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return []
    names = set()
    for p in overlays.iterdir():
        stem = p.name[:-5] if p.is_file() and p.name.endswith(".yaml") else p.name if p.is_dir() else None
        if stem and _ENV_FILE.match(stem):
            names.add(stem)
    return sorted(names)


def load_envs(root: Path, names: list[str] | None = None) -> dict[str, Env]:
    """Load and validate overlays; every problem of every env is reported at once."""
    available = discover_envs(root)
    if not available:
        raise SpecError(Problem("overlays/", None, "", "expected at least one overlays/<env>.yaml, found none"))
    wanted = names or available
    problems: list[Problem] = []
    envs: dict[str, Env] = {}
    for name in wanted:
        if name not in available:
            problems.append(Problem("overlays/", None, "", f"unknown environment {name!r} (known: {', '.join(available)})"))
            continue
        try:
            envs[name] = _load_env(root, name)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return envs


def _load_env(root: Path, name: str) -> Env:
    folder = root / "overlays" / name
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else [root / "overlays" / f"{name}.yaml"]
    data: dict[str, Any] = {}
    lines: dict[tuple[Any, ...], tuple[str, int]] = {}
    problems: list[Problem] = []
    for path in paths:
        display = path.relative_to(root).as_posix()
        doc, doc_lines = load_with_lines(path, display)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            problems.append(Problem(display, doc_lines.get(()), "", f"expected a mapping of settings, found {type(doc).__name__}"))
            continue
        for key, value in doc.items():
            if key in data:
                first = lines[(key,)]
                problems.append(Problem(display, doc_lines.get((key,)), str(key), f"already set in {first[0]}:{first[1]}"))
                continue
            data[key] = value
        for path_key, line in doc_lines.items():
            if path_key:
                lines.setdefault(path_key, (display, line))
    files = tuple(p.relative_to(root).as_posix() for p in paths)
    if problems:
        raise SpecError(problems)
    if not files:
        raise SpecError(Problem(f"overlays/{name}/", None, "", "expected *.yaml files, found none"))
    env_probe = Env(name, EnvOverlay.model_construct(), files, lines)
    try:
        overlay = EnvOverlay.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise SpecError(_problems_from(exc, env_probe)) from None
    return Env(name, overlay, files, lines)


def _problems_from(exc: ValidationError, env: Env, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        field, message = describe_pydantic_error({**err, "loc": loc})
        clean = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        file, line = env.where(*clean)
        out.append(Problem(file, line, field, message))
    return out


def resolve_storage(storage: S3Storage, env: Env) -> S3Storage:
    """The storage endpoint with this environment's overrides applied."""
    override = env.overlay.storage.get(storage.name)
    if override is None:
        return storage
    update = {k: getattr(override, k) for k in override.model_fields_set}
    return _revalidate(S3Storage, storage, update, env, ("storage", storage.name))


def resolve_model(model: Model, env: Env) -> Model | None:
    """The model as rendered in ``env``, or None when the environment disables it."""
    defaults = env.overlay.defaults
    override = env.overlay.models.get(model.name, ModelOverride())
    if not override.enabled:
        return None
    pred_update: dict[str, Any] = {}
    update: dict[str, Any] = {}
    set_pred = model.predictor.model_fields_set
    for f in ("min_replicas", "max_replicas"):
        if f not in set_pred and getattr(defaults, f) is not None:
            pred_update[f] = getattr(defaults, f)
        if getattr(override, f) is not None:
            pred_update[f] = getattr(override, f)
    if override.resources is not None:
        pred_update["resources"] = override.resources
    mode = override.deployment_mode or (None if "deployment_mode" in model.model_fields_set else defaults.deployment_mode)
    if mode:
        update["deployment_mode"] = mode
    if override.storage:
        update["storage"] = override.storage
    labels = {**defaults.labels, **model.labels, **override.labels}
    annotations = {**defaults.annotations, **model.annotations, **override.annotations}
    if labels != model.labels:
        update["labels"] = labels
    if annotations != model.annotations:
        update["annotations"] = annotations
    logger_url = defaults.logger_url or env.overlay.monitoring.default_logger_url(env.overlay.namespace)
    if model.logger and model.logger.url is None and logger_url:
        update["logger"] = model.logger.model_copy(update={"url": logger_url})
    if pred_update:
        update["predictor"] = model.predictor.model_copy(update=pred_update)
    if not update:
        return model
    return _revalidate(Model, model, update, env, ("models", model.name))


def _revalidate(cls: type[SpecModel], obj: SpecModel, update: dict[str, Any], env: Env, where: tuple[Any, ...]) -> Any:
    merged = obj.model_copy(update=update)
    try:
        return cls.model_validate(merged.model_dump(round_trip=True, exclude_unset=False), by_name=True)
    except ValidationError as exc:
        file, line = env.where(*where)
        problems = []
        for err in exc.errors():
            field, message = describe_pydantic_error(err)
            problems.append(Problem(file, line, ".".join(str(p) for p in where) + (f".{field}" if field else ""), message))
        raise SpecError(problems) from None
