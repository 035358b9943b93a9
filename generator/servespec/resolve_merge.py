"""Merging a declaration with an environment (``resolve.py`` calls it for every model and storage
endpoint): the spec's explicit values beat the environment's ``defaults``, which beat the spec
model's own defaults; a per-model entry under ``models:`` beats everything. The merged object is
validated again, and what the merge made invalid is located in the overlay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .compat import merge_surface
from .errors import Problem, SpecError
from .overlay import Env
from .spec import Model, Runtime
from .spec.base import SpecModel
from .spec.overlay import ModelOverride
from .spec.storage_kinds import Storage
from .validation_messages import describe_pydantic_error

__all__ = ["resolve_model", "resolve_storage"]

_M = TypeVar("_M", bound=SpecModel)


def resolve_storage(storage: Storage, env: Env) -> Storage:
    """The storage endpoint with this environment's overrides applied."""
    override = env.overlay.storage.get(storage.name)
    if override is None:
        return storage
    update = {k: getattr(override, k) for k in override.model_fields_set}
    return _revalidate(type(storage), storage, update, env, ("storage", storage.name))


def resolve_model(model: Model, env: Env, *, runtimes: Mapping[str, Runtime] | None = None) -> Model | None:
    """The model as rendered in ``env``, or None when the environment disables it. ``runtimes``: the
    ``Runtime`` specs an overlay's ``runtime:`` may name, by base name."""
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
    surface_pred, surface_model = merge_surface(model, env, runtimes or {})
    pred_update.update(surface_pred)
    update.update(surface_model)
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


def _revalidate(cls: type[_M], obj: _M, update: dict[str, Any], env: Env, where: tuple[Any, ...]) -> _M:
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
