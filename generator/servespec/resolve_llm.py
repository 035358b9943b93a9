"""Resolution of LLMs: spec + per-env overrides -> the LLMs an environment renders, and every
LLM/env compatibility check, so the LLM emitters never raise.

``resolve.build_context`` calls :func:`resolve_llms` and :func:`llm_state_problems` (this module
imports nothing of ``resolve`` to keep the layer free of cycles). Refused here, each as one
``file:line: field: expected ..., found ...`` problem: an LLM enabled where the env's KServe has no
LLMInferenceService (before 0.16), ``scaling`` before 0.17, a cache before 0.19 (the first release
that serves LLMs from LocalModelCaches), a plan with canary steps where KServe cannot split traffic
between LLM services (before 0.20) or without a managed route, names too long for the canary,
missing limits where the env requires them, and rollout state entries that disagree with the plan.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .clock import parse_time
from .errors import Problem
from .kserve.llm_presets import wellknown_presets
from .kserve.versions import Features, first_minor_with
from .overlay import Env
from .project import Project
from .resolve_state import settled_problems
from .secretscan import control_characters, redact_url, secret_like, uri_credentials
from .spec import LLM, RolloutPlan
from .spec.llm import LLM_URI_PREFIXES
from .spec.overlay import LLMOverride
from .spec.rollout import ModelState
from .validation_messages import describe_pydantic_error

__all__ = ["resolve_llms", "resolve_llm", "llm_plan", "llm_problems", "llm_state_problems", "CANARY_SUFFIX", "canary_name",
           "presets_of"]

CANARY_SUFFIX = "-canary"
"""The canary LLMInferenceService of ``chat`` is ``chat-canary`` (same route group, same model name)."""


def canary_name(llm: str) -> str:
    """Name of the canary LLMInferenceService of an LLM."""
    return f"{llm}{CANARY_SUFFIX}"


def presets_of(llm: LLM) -> list[str]:
    """The well-known presets KServe applies to this LLM's shape (``kserve/llm_presets.py``): the ones
    servespec pins when ``pin_presets`` is on."""
    prefill = llm.prefill
    return wellknown_presets(scheduler=llm.router.scheduler, prefill=prefill is not None,
                             prefill_multi_node=bool(prefill and prefill.multi_node), multi_node=llm.multi_node)


def llm_plan(llm: LLM, env: Env, kserve: Features) -> RolloutPlan:
    """The plan of ``llm`` in ``env``: its own, else the environment's, else the default one where
    KServe splits traffic between LLM services (0.20) and ``[100]`` where it cannot."""
    return llm.rollout or env.overlay.rollout.plan or (RolloutPlan() if kserve.llm_router_route_weight else RolloutPlan(steps=[100]))


def resolve_llms(project: Project, env: Env, kserve: Features) -> tuple[dict[str, LLM], list[Problem]]:
    """The LLMs ``env`` renders, by name, with its overrides applied, and every problem found."""
    specs = project.specs
    problems: list[Problem] = []
    for name in env.overlay.llms:
        if name not in specs.llms:
            file, line = env.where("llms", name)
            problems.append(Problem(file, line, f"llms.{name}", f"unknown LLM (declared: {', '.join(sorted(specs.llms)) or 'none'})"))
    llms: dict[str, LLM] = {}
    for name in sorted(specs.llms):
        origin = specs.origin[("llm", name)]
        if name in specs.models:
            problems.append(Problem(origin, None, name, f"expected a name no Model uses, found {name!r} also declared in "
                                                        f"{specs.origin[('model', name)]} (both render models/{name}/)"))
            continue
        try:
            resolved = resolve_llm(specs.llms[name], env)
        except _Invalid as exc:
            problems.extend(exc.problems)
            continue
        if resolved is not None:
            llms[name] = resolved
            problems.extend(llm_problems(env, kserve, resolved, origin))
    return llms, problems


class _Invalid(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems


def resolve_llm(llm: LLM, env: Env) -> LLM | None:
    """The LLM as rendered in ``env``, or None when it is not for this environment (its spec's
    ``environments`` leave it out, or the overlay disables it).

    Raises:
        _Invalid: the overrides make the LLM invalid (located at the overlay entry).
    """
    override = env.overlay.llms.get(llm.name, LLMOverride())
    if not override.enabled or (llm.environments is not None and env.name not in llm.environments):
        return None
    update: dict[str, Any] = {}
    if override.replicas is not None:
        update["replicas"] = override.replicas
    for field in ("node_selector", "tolerations"):
        if getattr(override, field) is not None:
            update[field] = getattr(override, field)
    labels, annotations = {**llm.labels, **override.labels}, {**llm.annotations, **override.annotations}
    if labels != llm.labels:
        update["labels"] = labels
    if annotations != llm.annotations:
        update["annotations"] = annotations
    if not update:
        return llm
    merged = llm.model_copy(update=update)
    try:
        return LLM.model_validate(merged.model_dump(round_trip=True), by_name=True)
    except ValidationError as exc:
        file, line = env.where("llms", llm.name)
        raise _Invalid([Problem(file, line, f"llms.{llm.name}" + (f".{fld}" if fld else ""), msg)
                        for fld, msg in (describe_pydantic_error(e) for e in exc.errors())]) from None


def _needs(feature: str) -> str:
    return f"KServe {first_minor_with(feature)} or newer"


def llm_problems(env: Env, kserve: Features, llm: LLM, origin: str) -> list[Problem]:
    """What keeps one (resolved, enabled) LLM from rendering in ``env``."""
    o = env.overlay
    name = llm.name
    if not kserve.llm_inference_service:
        file, line = env.where("kserveVersion")
        return [Problem(file, line, "kserveVersion",
                        f"LLM {name} needs {_needs('llm_inference_service')} (LLMInferenceService), found {o.kserve_version}: "
                        f"upgrade, leave this environment out of its spec's environments, or disable it here with "
                        f"llms: {{{name}: {{enabled: false}}}}")]
    found: list[Problem] = []

    def spec(field: str, message: str) -> None:
        found.append(Problem(origin, None, f"{name}.{field}", message))

    if llm.scaling is not None and not kserve.llm_scaling:
        spec("scaling", f"expected replicas in env {env.name!r}: LLMInferenceService scaling needs {_needs('llm_scaling')}, "
                        f"found scaling on KServe {o.kserve_version}")
    if llm.cache is not None and not kserve.llm_local_model_cache:
        spec("cache", f"expected no cache in env {env.name!r}: LLMs are served from a LocalModelCache from "
                      f"{_needs('llm_local_model_cache')}, found a cache on KServe {o.kserve_version}")
    steps = llm_plan(llm, env, kserve).traffic
    if len(steps) > 1:
        found.extend(_canary_problems(env, kserve, llm, origin, steps))
    if o.require_resource_limits:
        missing = [k for k in ("cpu", "memory") if k not in llm.resources.limits]
        if missing:
            spec("resources.limits", f"env {env.name!r} requires resource limits: expected cpu and memory, missing {', '.join(missing)}")
    return found + _secret_problems(env, llm, origin)


def _secret_problems(env: Env, llm: LLM, origin: str) -> list[Problem]:
    """The models' secrets policy (``resolve._secret_problems``): credentials in the model URI
    (everywhere), secret-looking env values (outside envs that allow plaintext), control characters."""
    found = []
    why = uri_credentials(llm.model_uri)
    if why:
        found.append(Problem(origin, None, f"{llm.name}.model_uri", f"credentials in a URL are refused (found {why} in "
                             f"{redact_url(llm.model_uri)!r}): use hf_token or a storage Secret"))
    for name, value in sorted(llm.env.items()):
        why = None if env.overlay.allow_plaintext_secrets or name in llm.not_secret else secret_like(name, value)
        if why:
            found.append(Problem(origin, None, f"{llm.name}.env.{name}", f"looks like a secret ({why}); plaintext secrets are "
                                 f"refused in env {env.name!r}: use hf_token, or add {name!r} to not_secret after review"))
        bad = control_characters(value)
        if bad:
            found.append(Problem(origin, None, f"{llm.name}.env.{name}", f"expected no control characters, found {bad}"))
    return found


def _canary_problems(env: Env, kserve: Features, llm: LLM, origin: str, steps: list[int]) -> list[Problem]:
    """A plan with canary steps: KServe must split traffic between LLM services, through the route."""
    name = llm.name
    if not kserve.llm_router_route_weight:
        where = ("rollout", "plan") if llm.rollout is None and env.overlay.rollout.plan is not None else None
        file, line = env.where(*where) if where else (origin, None)
        field = "rollout.plan.steps" if where else f"{name}.rollout.steps"
        return [Problem(file, line, field,
                        f"LLM {name} in env {env.name!r}: a weighted canary needs {_needs('llm_router_route_weight')} "
                        f"(router.route group and weight), found KServe {env.overlay.kserve_version}: expected steps [100], found {steps}")]
    found = []
    if not llm.router.route:
        found.append(Problem(origin, None, f"{name}.router.route",
                             f"expected a managed route with the canary plan {steps} (traffic is split by its backend weights), found route: False"))
    if len(canary_name(name)) > 63:
        found.append(Problem(origin, None, f"{name}.name",
                             f"expected at most {63 - len(CANARY_SUFFIX)} characters with a canary plan (its canary is "
                             f"{name}{CANARY_SUFFIX}), found {len(name)}"))
    return found


def llm_state_problems(env: Env, kserve: Features, llms: dict[str, LLM], state: dict[str, ModelState],
                       lines: dict[str, int | None]) -> list[Problem]:
    """Every state entry of an LLM must agree with its plan. A canary at step 0 with 0% is the
    cache-then-switch step of an LLM with a cache: the candidate's cache object only."""
    display = f"overlays/{env.name}.rollout.yaml"
    problems = []
    for name in sorted(set(state) & set(llms)):
        for fld, msg in _state_problems(env, kserve, llms[name], state[name]):
            problems.append(Problem(display, lines.get(name), f"models.{name}" + (f".{fld}" if fld else ""), msg))
    return problems


def _state_problems(env: Env, kserve: Features, llm: LLM, s: ModelState) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for fld in ("stable", "candidate", "rolled_back"):
        uri = getattr(s, fld)
        if uri is not None and not uri.startswith(LLM_URI_PREFIXES):
            out.append((fld, f"expected a model URI ({', '.join(LLM_URI_PREFIXES)}), found {uri!r}"))
    try:
        parse_time(s.since)
    except ValueError:
        out.append(("since", f"expected a UTC time such as \"2026-11-24T18:00:00Z\", found {s.since!r}"))
    steps = llm_plan(llm, env, kserve).traffic
    if s.phase != "canary":
        return out + settled_problems(s)
    if s.candidate is None or s.step is None or s.traffic is None:
        out.append(("", "phase canary needs candidate, step and traffic"))
    elif s.step == 0:
        if llm.cache is None:
            out.append(("step", "expected step 1 or more: step 0 (the candidate's cache only) needs a cache on the LLM, found none"))
        elif s.traffic != 0:
            out.append(("traffic", f"step 0 caches the candidate and sends it no traffic, found traffic {s.traffic}"))
    elif not 1 <= s.step < len(steps):
        out.append(("step", f"step {s.step} is outside the plan {steps} (a canary is at step 1..{len(steps) - 1}; the last step makes it stable)"))
    elif steps[s.step - 1] != s.traffic:
        out.append(("traffic", f"step {s.step} of the plan {steps} is {steps[s.step - 1]}%, found traffic {s.traffic}"))
    return out
