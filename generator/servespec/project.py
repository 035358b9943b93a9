"""A servespec repository: its specs and environments, loaded once and checked together."""

from __future__ import annotations

import os
from collections.abc import Callable
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


SpecsFrom = Callable[[Path, Callable[[], None]], SpecSet]
"""``(root, meanwhile) -> specs``: a spec loader running ``meanwhile()`` while it imports."""


@dataclass
class Project:
    """Specs plus the environments being worked on."""

    root: Path
    specs: SpecSet
    envs: dict[str, Env]

    @classmethod
    def load(cls, root: Path, envs: list[str] | None = None, specs_from: SpecsFrom | None = None) -> Project:
        """Load specs (with ``specs_from(root, meanwhile)``: the spec cache's loader) and overlays,
        the overlays while a child imports the spec modules (``loader.load_specs``); every problem
        in either is reported together (``resolve.py`` checks them against each other)."""
        problems: list[Problem] = []
        env_problems: list[Problem] = []
        specs = SpecSet()
        loaded: dict[str, Env] = {}
        ran = False

        def overlays() -> None:
            nonlocal loaded, ran
            ran = True
            try:
                loaded = load_envs(root, envs)
            except SpecError as exc:
                env_problems.extend(exc.problems)

        try:
            specs = (specs_from or _load_specs)(root, overlays)
        except SpecError as exc:
            problems.extend(exc.problems)
        if not ran:  # the specs failed before importing anything
            overlays()
        if problems or env_problems:
            raise SpecError([*problems, *env_problems])
        return cls(root, specs, loaded)


def _load_specs(root: Path, meanwhile: Callable[[], None]) -> SpecSet:
    return load_specs(root, None, meanwhile)
