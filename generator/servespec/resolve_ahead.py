"""Models whose spec is ahead of their environment's rollout state: the state wins when rendering,
so ``render`` and ``status`` say which release would bring the spec's version in."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .errors import Problem
from .resolve import EnvContext

__all__ = ["SpecAhead", "spec_ahead"]


@dataclass(frozen=True)
class SpecAhead:
    """A model whose spec names a storage URI the environment's rollout state does not serve:
    the state wins when rendering, so the spec's version reaches the env only by a release."""

    model: str
    spec_uri: str
    """What the spec says."""
    serving: str
    """What the env serves, as ``describe`` puts it (``stable s3://...``)."""
    command: str
    """The exact command that releases the spec's version."""
    warning: Problem
    """The one-line warning ``render`` prints."""


def spec_ahead(ctx: EnvContext) -> list[SpecAhead]:
    """Models whose spec's ``storage_uri`` was edited since their rollout state in this environment
    was written (``ModelState.spec_uri``) to a version the state neither serves nor rolls out
    (one per model, by name). A release made with ``--storage-uri`` leaves the spec as it was, so
    a spec that merely lags behind the state is not reported."""
    out = []
    for name, s in sorted(ctx.rollout.items()):
        model = ctx.models.get(name)
        if model is None or s.spec_uri is None or model.predictor.storage_uri in (s.spec_uri, s.stable, s.candidate):
            continue
        uri = model.predictor.storage_uri
        command = f"servespec release {name} --env {ctx.env.name} --storage-uri {shlex.quote(uri)}"
        if s.phase == "canary":
            serving = f"canary {s.traffic}% {s.candidate} (stable {s.stable})"
            todo = f"finish or roll back that canary, then release it: {command}"
        elif s.phase == "rolled-back" and s.rolled_back == uri:
            serving = f"stable {s.stable} ({uri} was rolled back)"
            todo = f"release it again (or change the spec): {command}"
        else:
            serving = f"stable {s.stable}"
            todo = f"release it: {command}"
        message = (f"env {ctx.env.name} serves {serving} (overlays/{ctx.env.name}.rollout.yaml), the spec says {uri}: "
                   f"not rendered until released; {todo}")
        origin = ctx.project.specs.origin.get(("model", name), "")
        out.append(SpecAhead(name, uri, serving, command, Problem(origin, None, f"{name}.predictor.storage_uri", message)))
    return out
