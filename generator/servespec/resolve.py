"""Resolution: specs + environment defaults + per-model overrides -> one typed context per env.

Everything that decides whether a model can be rendered in an environment is checked here, so
emitters only build objects and never raise: overlay entries naming declared models and storage,
storage endpoints for ``s3://`` models, the rollout state against the plan (``resolve_state.py``),
plaintext credentials, required limits, what the legacy v1alpha2 API cannot express, a
Standard-mode canary on a KServe without ``spec.canary[]``, the metrics port annotation.

Each declaration is merged with the environment by ``resolve_merge.py`` (precedence: the spec's
explicit values beat the environment's ``defaults``, which beat the spec model's own defaults; a
per-model entry under ``models:`` beats everything). A new overlay field is declared in
``spec/overlay.py`` and merged there. In a long-lived process an env's last context is patched
when only model declarations changed (:func:`build_context`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any


from .compat import FRAMEWORKS, LEGACY_API, legacy_problems, surface_problems
from .envparts import (RuntimeObject, env_graphs, env_runtimes, extra_problems, runtime_catalog, runtime_override_problems,
                       storage_surface_problems, uri_problems)
from .errors import Problem, PromoteError, RenderError, SpecError
from .kserve.versions import Features, features, first_minor_with
from .overlay import Env, discover_envs
from .project import Project
from .resolve_llm import llm_state_problems, resolve_llms
from .resolve_merge import resolve_model, resolve_storage
from .resolve_state import check_state
from .rollout.policy import requirement_cycle
from .rollout.state import load_state
from .resolve_secrets import secret_problems
from .spec import LLM, InferenceGraph, Model, PlaintextCredentials, Runtime
from .spec.overlay import ModelOverride
from .spec.rollout import ModelState
from .spec.storage_kinds import Storage
from .cache.warm import Scope, scope

__all__ = ["EnvContext", "build_context", "resolve_model", "resolve_storage", "canary_problem", "kserve_features", "LEGACY_API",
           "FRAMEWORKS"]


_NO_OVERRIDE = ModelOverride()
_SERIALS = itertools.count()


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
    serial: int = field(init=False, repr=False, compare=False)
    """Unique to this context in this process (a copy made by ``dataclasses.replace`` gets its own)."""
    delta: tuple[int, frozenset[str]] | None = field(init=False, default=None, repr=False, compare=False)
    """``(serial of the context this one patched, the models resolved again)``: every other field holds
    the very objects that one did (``build_context``), so what was made from it may be patched too."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "serial", next(_SERIALS))
        object.__setattr__(self, "delta", None)

    @property
    def namespace(self) -> str:
        return self.env.overlay.namespace


def build_context(project: Project, env_name: str) -> EnvContext:
    """Resolve one environment and check it; every problem of a stage is reported at once.

    In a long-lived process (``servespec daemon``) the context of the env's last build is
    patched when only model declarations changed since (:func:`_patched`); anything else, or
    any problem, builds it whole, so a patched context is always the one a whole build gives."""
    env = project.envs[env_name]
    problems = _cross_check(project, env)
    kserve = kserve_features(env)
    if problems:
        raise SpecError(problems)
    memo = scope(("context", project.root, env_name), env)  # the very Env: the overlay files as last read (overlay.py)
    last = memo.hit("last")
    ctx = _patched(project, env, kserve, last) if isinstance(last, _Last) else None
    if ctx is None:
        ctx, by_base = _built(project, env, kserve)
    else:
        by_base = last.by_base
    specs = project.specs
    memo.put("last", _Last(specs.serial, dict(specs.models), dict(specs.storage), dict(specs.llms), dict(specs.graphs), by_base, ctx))
    return ctx


@dataclass(frozen=True)
class _Last:
    """What an env's last context in this process was built from (copies of the spec tables)."""

    specs: int
    """The serial of the spec set."""
    declared: dict[str, Model]
    storage: dict[str, Storage]
    llms: dict[str, LLM]
    graphs: dict[str, InferenceGraph]
    by_base: dict[str, Runtime]
    ctx: EnvContext


def _built(project: Project, env: Env, kserve: Features) -> tuple[EnvContext, dict[str, Runtime]]:
    """The context built whole, and the runtime catalog of the declared models by base name."""
    by_base, by_rendered = runtime_catalog(project.specs.models.values())
    problems = runtime_override_problems(env, by_rendered)
    if problems:
        raise SpecError(problems)
    memo = _memo(project, env, by_base)
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
    state, lines = load_state(project.root, env.name)
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
    return ctx, by_base


def _patched(project: Project, env: Env, kserve: Features, last: _Last) -> EnvContext | None:
    """The context of ``last`` with the models whose declaration changed resolved and checked
    again, when nothing else it was built from changed: the same storage and LLM declarations
    and rollout state (by identity: ``rollout/state.py`` gives the same objects for the same
    file), no InferenceGraph step naming a changed model (graphs read those), the same model names, no ``Runtime`` spec on either side of a change
    (the catalog, the pins), no runtime carried over from the committed render, and each
    changed model enabled before and after, on the same storage endpoint. None otherwise, and
    when a changed model has a problem (the whole build reports it with every other)."""
    specs, was = project.specs, last.ctx
    if not (len(specs.models) == len(last.declared) and _same(specs.storage, last.storage) and _same(specs.llms, last.llms)
            and _same(specs.graphs, last.graphs) and all(isinstance(rt, Runtime) for rt in was.runtimes.values())):
        return None
    if specs.delta is not None and specs.delta[0] == last.specs:  # the loader says which (specset.py)
        changed = sorted(specs.delta[1])
    else:
        changed = [name for name, m in specs.models.items() if last.declared.get(name) is not m]
    if any(step.model is not None and step.model.name in changed for g in specs.graphs.values() for node in g.nodes.values()
           for step in node.steps):
        return None  # a graph's checks read the models its steps name
    state, lines = load_state(project.root, env.name)
    if len(changed) * 4 > len(specs.models) or state is not was.rollout:
        return None
    memo = _memo(project, env, last.by_base)
    memo.keep()  # every model's entry stays: the next whole build reuses them
    models = dict(was.models)
    for name in changed:
        old, declared = last.declared.get(name), specs.models[name]
        if old is None or _has_runtime(old) or _has_runtime(declared):
            return None
        try:
            new = _resolved(declared, env, last.by_base, memo)
        except SpecError:
            return None
        before = was.models.get(name)
        if new is None or before is None or new.storage != before.storage or _has_runtime(new):
            return None
        models[name] = new
    problems: list[Problem] = []
    ctx = EnvContext(project, env, models, was.storage, rollout=state, kserve=kserve, llms=was.llms, runtimes=was.runtimes, graphs=was.graphs)
    object.__setattr__(ctx, "delta", (was.serial, frozenset(changed)))
    fresh = [models[name] for name in changed]
    problems += [p for m in fresh if (p := _storage_need(project, env, m))] + uri_problems(was.storage, fresh, specs.origin)
    problems += [p for m in fresh for p in _checked(ctx, m, memo)]
    try:
        check_state(env, models, {n: state[n] for n in changed if n in state}, lines, set(specs.models) | set(specs.llms))
    except PromoteError:
        return None
    return None if problems else ctx


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same names with the very same declarations."""
    return len(a) == len(b) and all(b.get(k) is v for k, v in a.items())


def _has_runtime(model: Model) -> bool:
    return isinstance(model.predictor.runtime, Runtime)


def _memo(project: Project, env: Env, by_base: dict[str, Runtime]) -> Scope:
    """The env's memo of resolved and checked models (``cache/warm.py``), for its overlay and runtimes."""
    return scope(("resolve", project.root, env.name), (env.overlay.model_dump_json(), *sorted(by_base.items())))


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
        need = _storage_need(project, env, model)
        if need is not None:
            problems.append(need)
    return storage


def _storage_need(project: Project, env: Env, model: Model) -> Problem | None:
    """An ``s3://`` model with neither a storage endpoint nor a ServiceAccount of its own."""
    if not model.predictor.storage_uri.startswith("s3://") or model.storage or model.service_account_name:
        return None
    return Problem(project.specs.origin[("model", model.name)], None, f"{model.name}.storage",
                   f"expected a storage endpoint for {model.predictor.storage_uri!r} (env {env.name}), found none: "
                   f"name one (storage=...), or a ServiceAccount that reads the bucket through node or workload "
                   f"identity (service_account_name=..., or defaults.serviceAccountName in {env.files[0]})")


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
