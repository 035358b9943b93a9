"""The rollout state of an environment checked against its models' plans (``overlays/<env>.rollout.yaml``):
which plan a model follows there (``plan_for``) and whether each state entry agrees with it
(``check_state``). ``resolve.py`` calls it while building the env's context; ``rollout/`` asks
``plan_for`` when it moves a model along its plan."""

from __future__ import annotations

from .clock import parse_time
from .errors import Problem, PromoteError
from .overlay import Env
from .secretscan import control_characters, redact_url, uri_credentials
from .spec import Model, RolloutPlan
from .spec.model import STORAGE_URI_PREFIXES
from .spec.overlay import ModelOverride
from .spec.rollout import ModelState

__all__ = ["plan_for", "check_state", "state_problems", "settled_problems"]

_NO_OVERRIDE = ModelOverride()
_DEFAULT_PLAN = RolloutPlan()


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
        found = [(f"{where}.{fld}" if fld else where, msg) for fld, msg in state_problems(env, models, name, s, known)]
        problems.extend(Problem(display, lines.get(name), fld, msg) for fld, msg in found)
    if problems:
        raise PromoteError(problems)


def state_problems(env: Env, models: dict[str, Model], name: str, s: ModelState, known: set[str] | None) -> list[tuple[str, str]]:
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
        out += settled_problems(s)
    return out


def settled_problems(s: ModelState) -> list[tuple[str, str]]:
    """(field, message) for an entry that is not a canary (``resolve_llm.py`` asks it too)."""
    out = []
    extra = [f for f in ("candidate", "step") if getattr(s, f) is not None]
    if extra:
        out.append(("", f"phase {s.phase} has no {' or '.join(extra)} (only a canary has)"))
    if s.phase == "rolled-back" and s.traffic not in (0, None):
        out.append(("traffic", f"phase rolled-back sends 0% to the candidate, found traffic {s.traffic}"))
    return out
