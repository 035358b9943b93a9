"""A servespec repository: its specs and environments, loaded once and checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, SpecError
from .loader import SpecSet, load_specs
from .overlay import Env, load_envs

__all__ = ["Project", "find_root"]


def find_root(start: Path) -> Path:
    """The repo root: ``start`` or the nearest parent holding ``specs/`` and ``overlays/``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "specs").is_dir() and (candidate / "overlays").is_dir():
            return candidate
    raise SpecError(Problem(str(start), None, "", "not a servespec repo: expected specs/ and overlays/ here or above (use --root DIR)"))


@dataclass
class Project:
    """Specs plus the environments being worked on."""

    root: Path
    specs: SpecSet
    envs: dict[str, Env]

    @classmethod
    def load(cls, root: Path, envs: list[str] | None = None) -> "Project":
        """Load specs and overlays; every problem in either is reported together."""
        problems: list[Problem] = []
        specs = SpecSet()
        loaded: dict[str, Env] = {}
        try:
            specs = load_specs(root)
        except SpecError as exc:
            problems.extend(exc.problems)
        try:
            loaded = load_envs(root, envs)
        except SpecError as exc:
            problems.extend(exc.problems)
        if not problems:
            problems.extend(_cross_check(specs, loaded))
        if problems:
            raise SpecError(problems)
        return cls(root, specs, loaded)


def _cross_check(specs: SpecSet, envs: dict[str, Env]) -> list[Problem]:
    """Overlay entries must name models and storage endpoints the specs declare."""
    problems = []
    for env in envs.values():
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
    return problems
