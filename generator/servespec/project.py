"""A servespec repository: its specs and environments, loaded once and checked together."""

from __future__ import annotations

import os
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
    shown = os.path.relpath(start) if start.is_relative_to(Path.cwd()) else str(start)
    raise SpecError(Problem(shown, None, "", "not a servespec repo: expected specs/ and overlays/ here or above (use --root DIR)"))


@dataclass
class Project:
    """Specs plus the environments being worked on."""

    root: Path
    specs: SpecSet
    envs: dict[str, Env]

    @classmethod
    def load(cls, root: Path, envs: list[str] | None = None) -> Project:
        """Load specs and overlays; every problem in either is reported together (``resolve.py``
        checks them against each other)."""
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
        if problems:
            raise SpecError(problems)
        return cls(root, specs, loaded)
