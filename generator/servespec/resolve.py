"""Resolution: specs + environment defaults + per-model overrides -> one typed context per env.

Everything that decides whether a model can be rendered in an environment is checked here, so
emitters only build objects and never raise: overlay entries naming declared models and storage,
storage endpoints for ``s3://`` models, the rollout state against the plan, plaintext
credentials, required limits, what the legacy v1alpha2 API cannot express, a Standard-mode canary
on a KServe without ``spec.canary[]``, the metrics port annotation.

Precedence for a model's fields: the spec's explicit values beat the environment's
``defaults``, which beat the spec model's own defaults; a per-model entry under ``models:``
beats everything. A new overlay field is declared in ``spec/overlay.py`` and merged here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .clock import parse_time
from .compat import FRAMEWORKS, LEGACY_API, legacy_problems, merge_surface, surface_problems
from .envparts import (RuntimeObject, env_graphs, env_runtimes, extra_problems, runtime_catalog, runtime_override_problems,
                       storage_surface_problems)
from .errors import Problem, PromoteError, RenderError, SpecError
from .kserve.versions import Features, features, first_minor_with
from .overlay import Env, discover_envs
from .project import Project
from .resolve_llm import llm_state_problems, resolve_llms
from .rollout.policy import requirement_cycle
from .rollout.state import load_state
from .resolve_secrets import secret_problems
from .secretscan import control_characters, redact_url, uri_credentials
from .spec import LLM, InferenceGraph, Model, PlaintextCredentials, RolloutPlan, Runtime
from .spec.base import SpecModel
from .spec.model import STORAGE_URI_PREFIXES
from .spec.overlay import ModelOverride
from .spec.rollout import ModelState
from .spec.storage_kinds import Storage
from .validation_messages import describe_pydantic_error
from .cache.warm import Scope, scope

__all__ = ["EnvContext", "build_context", "resolve_model", "resolve_storage", "plan_for", "check_state", "canary_problem",
           "kserve_features", "LEGACY_API", "FRAMEWORKS"]


_NO_OVERRIDE = ModelOverride()
_DEFAULT_PLAN = RolloutPlan()
_M = TypeVar("_M", bound=SpecModel)


@dataclass(frozen=True)
class EnvContext:
    """One environment, resolved and checked (``resolve.build_context``): its overlay and the
    models and storage it renders."""

    project: Project
    env: Env
    models: dict[str, Model]
    """Enabled models with the environment's overrides applied, by name (sorted)."""
    storage: dict[str, Storage]
    """Storage endpoints used by at least one enabled model, overrides applied."""
    rollout: dict[str, ModelState] = field(default_factory=dict)
    """Rollout state by model from ``overlays/<env>.rollout.yaml``."""
    kserve: Features = field(default_factory=lambda: features("0.20"))
    """What the env's KServe version accepts and acts on (``kserve/versions.py``)."""
    llms: dict[str, LLM] = field(default_factory=dict)
    """Enabled LLMs with the environment's overrides applied, by name (sorted; ``resolve_llm.py``);
    their rollout state is in ``rollout`` too."""
    runtimes: dict[str, RuntimeObject] = field(default_factory=dict)
    """Serving runtimes the env may render, by rendered name: the models' ``Runtime`` specs and what their
    states pin (``envparts.py``); the runtime emitter renders those the models and states need."""
    graphs: dict[str, InferenceGraph] = field(default_factory=dict)
    """InferenceGraphs rendered in this environment, overrides applied."""

    @property
    def namespace(self) -> str:
        return self.env.overlay.namespace


def build_context(project: Project, env_name: str) -> EnvContext:
    """Resolve one environment and check it; every problem of a stage is reported at once."""
    env = project.envs[env_name]
    problems = _cross_check(project, env)
    kserve = kserve_features(env)
    if problems:
        raise SpecError(problems)
    by_base, by_rendered = runtime_catalog(project.specs.models.values())
    problems = runtime_override_problems(env, by_rendered)
    if problems:
        raise SpecError(problems)
    memo = scope(("resolve", project.root, env_name), (env.overlay.model_dump_json(), *sorted(by_base.items())))
    models: dict[str, Model] = {}
    for name in sorted(project.specs.models):
        try:
            resolved = _resolved(project.specs.models[name], env, by_base, memo)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if resolved is not None:
            models[name] = resolved
    storage = _resolve_storage_of(project, env, models, problems)
    llms, llm_found = resolve_llms(project, env, kserve)  # LLMs: resolve_llm.py
    problems.extend(llm_found)
    if problems:
        raise RenderError(problems)
    state, lines = load_state(project.root, env_name)
    check_state(env, models, {n: s for n, s in state.items() if n not in llms}, lines, set(project.specs.models) | set(project.specs.llms))
    llm_state = llm_state_problems(env, kserve, llms, state, lines)
    if llm_state:
        raise PromoteError(llm_state)
    by_rendered.update(runtime_catalog(models.values())[1])
    runtimes, problems = env_runtimes(project.root, env, models, state, lines, by_rendered)
    graphs, graph_problems = env_graphs(project.specs.graphs, project.specs.models, project.specs.origin, env, models)
    ctx = EnvContext(project, env, models, storage, rollout=state, kserve=kserve, llms=llms, runtimes=runtimes, graphs=graphs)
    problems += graph_problems + extra_problems(env) + _storage_problems(ctx)
    problems += storage_surface_problems(env, kserve, storage, models, project.specs.origin)
    problems += [p for m in models.values() for p in _checked(ctx, m, memo)]
    if problems:
        raise RenderError(problems)
    return ctx


def _resolved(declared: Model, env: Env, runtimes: Mapping[str, Runtime], memo: Scope) -> Model | None:
    """``resolve_model``, or what it gave for this very declaration under the same overlay and
    runtimes earlier in this process (``cache/warm.py``; a failure is never kept)."""
    hit = memo.hit(("model", declared.name))
    if hit is not None and hit[0] is declared:
        return hit[1]  # type: ignore[no-any-return]
    resolved = resolve_model(declared, env, runtimes=runtimes)
    memo.put(("model", declared.name), (declared, resolved))
    return resolved


def _checked(ctx: EnvContext, model: Model, memo: Scope) -> list[Problem]:
    """``_model_problems``; a model found sound is not checked again while it, its origin and its
    rollout state stay the same (the memo's overlay too: ``build_context``)."""
    origin, state = ctx.project.specs.origin[("model", model.name)], ctx.rollout.get(model.name)
    hit = memo.hit(("sound", model.name))
    if hit is not None and hit[0] is model and hit[1] == origin and hit[2] == state:
        return []
    problems = _model_problems(ctx, model)
    if not problems:
        memo.put(("sound", model.name), (model, origin, state))
    return problems


def _resolve_storage_of(project: Project, env: Env, models: dict[str, Model], problems: list[Problem]) -> dict[str, Storage]:
    """The endpoints the enabled models use (overrides applied); an ``s3://`` model without one needs a
    ServiceAccount with access (node or workload identity)."""
    storage: dict[str, Storage] = {}
    for model in models.values():
        if model.storage and model.storage not in storage:
            try:
                storage[model.storage] = resolve_storage(project.specs.storage[model.storage], env)
            except SpecError as exc:
                problems.extend(exc.problems)
        if model.predictor.storage_uri.startswith("s3://") and not model.storage and not model.service_account_name:
            problems.append(Problem(project.specs.origin[("model", model.name)], None, f"{model.name}.storage",
                                    f"expected a storage endpoint for {model.predictor.storage_uri!r} (env {env.name}), found none: "
                                    f"name one (storage=...), or a ServiceAccount that reads the bucket through node or workload "
                                    f"identity (service_account_name=..., or defaults.serviceAccountName in {env.files[0]})"))
    return storage


def _cross_check(project: Project, env: Env) -> list[Problem]:
    """Overlay entries must name models and storage endpoints the specs declare."""
    specs = project.specs
    problems = []
    for name, override in env.overlay.models.items():
        if name not in specs.models:
            file, line = env.where("models", name)
            problems.append(Problem(file, line, f"models.{name}", f"unknown model (declared: {', '.join(sorted(specs.models)) or 'none'})"))
        if override.storage and override.storage not in specs.storage:
            file, line = env.where("models", name, "storage")
            problems.append(Problem(file, line, f"models.{name}.storage", f"unknown storage endpoint {override.storage!r} (declared: {', '.join(sorted(specs.storage)) or 'none'})"))
    for name in env.overlay.storage:
        if name not in specs.storage:
            file, line = env.where("storage", name)
            problems.append(Problem(file, line, f"storage.{name}", f"unknown storage endpoint (declared: {', '.join(sorted(specs.storage)) or 'none'})"))
    return problems + _requirement_problems(project, env)


def _requirement_problems(project: Project, env: Env) -> list[Problem]:
    """``rollout.requires``: other known environments, each once, never leading back here."""
    known, problems, seen = discover_envs(project.root), [], set()
    for i, req in enumerate(env.overlay.rollout.requires):
        what = "itself" if req.env == env.name else "twice" if req.env in seen else "" if req.env in known else f"(known: {', '.join(known)})"
        if what:
            problems.append(Problem(*env.where("rollout", "requires", i, "env"), f"rollout.requires[{i}].env",
                                    f"expected another known environment once, found {req.env!r} {what}"))
        seen.add(req.env)
    loop = requirement_cycle(env.name, {n: [r.env for r in e.overlay.rollout.requires] for n, e in project.envs.items()})
    if loop and not problems:
        problems.append(Problem(*env.where("rollout", "requires"), "rollout.requires", f"expected no cycle, found {' -> '.join(loop)}: nothing could be released"))
    return problems


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


def plan_for(model: Model, env: Env) -> RolloutPlan:
    """The plan of ``model`` in ``env``.

    Precedence, as for every other model field: the fields set in the overlay's
    ``models.<name>.rollout`` beat the model's plan, which is its spec's ``rollout`` (whole), else
    the environment's ``rollout.plan`` (whole), else the default ``RolloutPlan()``.
    """
    base = model.rollout or env.overlay.rollout.plan or _DEFAULT_PLAN
    override = env.overlay.models.get(model.name, _NO_OVERRIDE).rollout
    if override is None or not override.model_fields_set:
        return base
    return base.model_copy(update={f: getattr(override, f) for f in sorted(override.model_fields_set)})


def check_state(env: Env, models: dict[str, Model], state: dict[str, ModelState], lines: dict[str, int | None],
                known: set[str] | None = None) -> None:
    """Every entry must name an enabled model and agree with its plan; raise with all problems."""
    display = f"overlays/{env.name}.rollout.yaml"
    problems: list[Problem] = []
    for name, s in state.items():
        where = f"models.{name}"
        found = [(f"{where}.{fld}" if fld else where, msg) for fld, msg in _state_problems(env, models, name, s, known)]
        problems.extend(Problem(display, lines.get(name), fld, msg) for fld, msg in found)
    if problems:
        raise PromoteError(problems)


def _state_problems(env: Env, models: dict[str, Model], name: str, s: ModelState, known: set[str] | None) -> list[tuple[str, str]]:
    """(field, message) for one state entry."""
    if name not in models:
        what = "disabled in this environment" if known and name in known else "unknown model"
        return [("", f"{what} (rendered here: {', '.join(sorted(models)) or 'none'}): delete this entry")]
    out: list[tuple[str, str]] = []
    for fld in ("stable", "candidate", "rolled_back", "spec_uri"):
        uri = getattr(s, fld)
        if uri is None:
            continue
        bad, creds = control_characters(uri), uri_credentials(uri)
        if bad:
            out.append((fld, f"expected a storage URI without control characters, found {bad.removeprefix('contains ')}"))
        elif creds:
            out.append((fld, f"credentials in a URL are refused (found {creds} in {redact_url(uri)!r})"))
        elif not uri.startswith(STORAGE_URI_PREFIXES):
            out.append((fld, f"expected a storage URI (s3://, gs://, ...), found {uri!r}"))
    try:
        parse_time(s.since)
    except ValueError:
        out.append(("since", f"expected a UTC time such as \"2026-11-24T18:00:00Z\", found {s.since!r}"))
    steps = plan_for(models[name], env).traffic
    if s.phase == "canary":
        if s.candidate is None or s.step is None or s.traffic is None:
            out.append(("", "phase canary needs candidate, step and traffic"))
        elif not 1 <= s.step < len(steps):
            out.append(("step", f"step {s.step} is outside the plan {steps} (a canary is at step 1..{len(steps) - 1}; the last step makes it stable)"))
        elif steps[s.step - 1] != s.traffic:
            out.append(("traffic", f"step {s.step} of the plan {steps} is {steps[s.step - 1]}%, found traffic {s.traffic}"))
    else:
        extra = [f for f in ("candidate", "step") if getattr(s, f) is not None]
        if extra:
            out.append(("", f"phase {s.phase} has no {' or '.join(extra)} (only a canary has)"))
        if s.phase == "rolled-back" and s.traffic not in (0, None):
            out.append(("traffic", f"phase rolled-back sends 0% to the candidate, found traffic {s.traffic}"))
    return out


def kserve_features(env: Env) -> Features:
    """The features of the env's KServe version; an unsupported version is the overlay's error."""
    try:
        return features(env.overlay.kserve_version)
    except ValueError as exc:
        file, line = env.where("kserveVersion")
        raise SpecError(Problem(file, line, "kserveVersion", str(exc))) from None


def canary_problem(env: Env, model: Model, traffic: int) -> Problem | None:
    """A canary the target cannot act on (never a field KServe silently ignores), or None.

    Standard mode: ``canaryTrafficPercent`` is ignored in every version, and ``spec.canary[]``
    (0.20) creates the canary's pods but routes no traffic to them in any shipped release
    (``Features.standard_canary_routes``)."""
    o = env.overlay
    if traffic >= 100 or o.kserve_api != "serving.kserve.io/v1beta1" or model.deployment_mode != "Standard":
        return None
    known = kserve_features(env)
    if known.standard_canary_routes:
        return None
    file, line = env.where("kserveVersion")
    routed = first_minor_with("standard_canary_routes")
    needs = f"KServe {routed}" if routed else "a KServe release newer than 0.20.0 (weighted HTTPRoutes, kserve#5912)"
    return Problem(file, line, "kserveVersion",
                   f"{model.name} runs in Standard mode: a canary there needs {needs}, found {o.kserve_version} "
                   "(canaryTrafficPercent is ignored and spec.canary[] routes no traffic); use a plan with steps [100] in this environment")


def _storage_problems(ctx: EnvContext) -> list[Problem]:
    """Plaintext credentials outside an environment that allows them."""
    problems = []
    for s in ctx.storage.values():
        if isinstance(s.credentials, PlaintextCredentials) and not ctx.env.overlay.allow_plaintext_secrets:
            if s.name in ctx.env.overlay.storage and "credentials" in ctx.env.overlay.storage[s.name].model_fields_set:
                file, line = ctx.env.where("storage", s.name, "credentials")
            else:
                file, line = ctx.project.specs.origin[("storage", s.name)], None
            problems.append(Problem(file, line, f"storage.{s.name}.credentials",
                                    f"plaintext credentials are refused in env {ctx.env.name!r}: use externalSecret, "
                                    "sealedSecret or existingSecret (allowPlaintextSecrets: true is for a local demo only)"))
    return problems


def _model_problems(ctx: EnvContext, model: Model) -> list[Problem]:
    """What keeps one model from rendering in this environment."""
    o = ctx.env.overlay
    problems = _missing_limits(ctx, model) if o.require_resource_limits else []
    problems.extend(surface_problems(ctx.env, ctx.kserve, model, ctx.project.specs.origin[("model", model.name)]))
    if o.kserve_api == LEGACY_API:
        problems.extend(legacy_problems(ctx.env.name, ctx.project.specs.origin[("model", model.name)], model))
    else:
        state = ctx.rollout.get(model.name)
        if state is not None and state.phase == "canary" and state.traffic is not None:
            refused = canary_problem(ctx.env, model, state.traffic)
            if refused is not None:
                problems.append(Problem(refused.file, refused.line, refused.field,
                                        f"overlays/{ctx.env.name}.rollout.yaml has a canary of {model.name}: {refused.message}"))
    mon = o.monitoring
    if mon.enabled and model.monitoring.enabled and (mon.prometheus_operator or model.deployment_mode != "Knative"):
        problems.extend(_port_problems(ctx, model))
    return problems + secret_problems(ctx.project.specs.origin[("model", model.name)], model, ctx.env)



def _missing_limits(ctx: EnvContext, model: Model) -> list[Problem]:
    origin = ctx.project.specs.origin[("model", model.name)]
    found = []
    p = model.predictor
    parts = [("predictor.container.resources", p.container.resources) if p.container else ("predictor.resources", p.resources)]
    if model.transformer:
        parts.append(("transformer.container.resources", model.transformer.container.resources))
    for part, res in parts:
        missing = [k for k in ("cpu", "memory") if k not in res.limits]
        if missing:
            found.append(Problem(origin, None, f"{model.name}.{part}.limits",
                                 f"env {ctx.env.name!r} requires resource limits: expected cpu and memory, missing {', '.join(missing)}"))
    return found


def _port_problems(ctx: EnvContext, model: Model) -> list[Problem]:
    key = "prometheus.kserve.io/port"
    port = model.annotations.get(key)
    if port is None or (port.isdigit() and 0 < int(port) < 65536):
        return []
    overlay = ctx.env.overlay
    if key in overlay.models.get(model.name, _NO_OVERRIDE).annotations:
        file, line = ctx.env.where("models", model.name, "annotations", key)
    elif key in overlay.defaults.annotations:
        file, line = ctx.env.where("defaults", "annotations", key)
    else:
        file, line = ctx.project.specs.origin[("model", model.name)], None
    return [Problem(file, line, f"{model.name}.annotations.{key}", f"expected a port number (env {ctx.env.name}), found {port!r}")]
