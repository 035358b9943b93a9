"""What loading ``specs/`` gives (``loader.py``): the declarations by name, where each came from,
and per module the outcome of importing it, which the spec cache keeps (``cache/specs.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem
from .spec import LLM, InferenceGraph, Model, Storage

__all__ = ["SpecSet", "Outcome", "Declaration"]

Declaration = Model | Storage | LLM | InferenceGraph


@dataclass
class Outcome:
    """What importing one spec module gave: its declarations in order, or its problems."""

    items: list[Declaration] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    """Files of the modules loaded by then besides servespec's own (other than spec modules): what
    the declarations may depend on."""


@dataclass
class SpecSet:
    """Everything ``specs/`` declares, by name, and the file each came from."""

    models: dict[str, Model] = field(default_factory=dict)
    storage: dict[str, Storage] = field(default_factory=dict)
    llms: dict[str, LLM] = field(default_factory=dict)
    graphs: dict[str, InferenceGraph] = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    """(kind, name) -> spec file (relative to the repo root)."""
    files: list[Path] = field(default_factory=list)
    outcomes: dict[Path, Outcome] = field(default_factory=dict)
    """Spec module -> what importing it gave (now, or kept by the spec cache)."""
    digests: dict[str, str] = field(default_factory=dict)
    """Model name -> digest of its declaration, where the spec cache computed one (the render
    cache keys a model rendered as declared on it)."""
