"""Large renders spread over the cores: one forked worker per environment (``forkjoin.py``).

Environments are rendered independently, so a cold render of a big repo (thousands of models to
emit and serialize, thousands of files to create) runs each environment in a child of its own.
Every worker computes its environment first; only when all of them succeeded do they write, so
bad input still leaves ``rendered/`` untouched, and all problems are reported together, in
environment order, as a sequential render would. Each worker saves its environment's render cache
and manifest (both are per environment). The result is byte-identical to a sequential render
(tested); only the time differs.

Used when it pays: a fork per environment costs a few milliseconds, so small or mostly cached
renders stay in one process. All workers run at once (they meet at a barrier), so it is used
only for at most 4 × ``SERVESPEC_JOBS`` environments (default: the number of cores);
``SERVESPEC_JOBS=1`` turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from .cache.render import RenderCache
from .envtree import Wanted
from .errors import Problem, RenderError
from .forkjoin import Phases, available, run_two_phase
from .project import Project
from .spec.base import build_all

__all__ = ["JOBS_VAR", "MIN_WORK", "jobs", "parallel_envs", "render_forked", "located"]

JOBS_VAR = "SERVESPEC_JOBS"
MIN_WORK = 400
"""Models to emit (summed over environments) from which forking pays: ~0.1 s of work per env."""

W = TypeVar("W")


def jobs() -> int:
    """The cores servespec may use (``SERVESPEC_JOBS``, default the number of cores)."""
    raw = os.environ.get(JOBS_VAR, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return os.cpu_count() or 1


def parallel_envs(project: Project, cache: RenderCache) -> bool:
    """True when the environments are worth rendering in forked workers: several of them, more
    than one core allowed, and at least :data:`MIN_WORK` models the render cache does not hold."""
    envs = project.envs
    if not available() or jobs() < 2 or not 2 <= len(envs) <= jobs() * 4:
        return False
    names = project.specs.models.keys()
    missing = sum(len(names) - len(names & cache.table(env).keys()) for env in envs)
    return missing >= MIN_WORK


def located(env: str, problems: list[Problem]) -> list[Problem]:
    """Problems of one environment, those without a file named by the environment."""
    return [p if p.file else Problem(f"env {env}", None, p.field, p.message) for p in problems]


def render_forked(envs: list[str], compute: Callable[[str, list[Problem]], Wanted], write: Callable[[str, Wanted], W],
                  warnings: list[Problem]) -> list[W]:
    """``compute(env, warnings)`` every env in its own worker, then, when none found a problem,
    ``write(env, wanted)`` in each; what ``write`` returned, in env order. The workers' warnings
    are added to ``warnings``; problems are raised together as one ``RenderError``."""
    done: dict[str, Wanted] = {}  # in the worker: what it computed, for its write

    def run(env: str) -> tuple[list[Problem], list[Problem]]:
        found: list[Problem] = []
        try:
            done[env] = compute(env, found)
        except RenderError as exc:
            return located(env, exc.problems), found
        return [], found

    build_all()  # once here, not once per worker
    computed, written = run_two_phase(envs, Phases(run, lambda env: write(env, done[env]),
                                                   lambda results: not any(problems for problems, _w in results)))
    for _problems, found in computed:
        warnings.extend(found)
    if written is None:
        raise RenderError(list(dict.fromkeys(p for problems, _w in computed for p in problems)))
    return written
