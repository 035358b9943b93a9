"""What loading ``specs/`` gives (``loader.py``): the declarations by name, where each came from,
and per module the outcome of importing it, which the spec cache keeps (``cache/specs.py``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache.warm import scope
from .errors import Problem
from .spec import LLM, InferenceGraph, Model, Storage

__all__ = ["SpecSet", "Outcome", "Declaration", "merged"]

_SERIALS = itertools.count()

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
    serial: int = field(default_factory=lambda: next(_SERIALS), compare=False)
    """Unique to this set in this process."""
    delta: tuple[int, frozenset[str]] | None = field(default=None, compare=False)
    """``(serial of the set this one patched, the models declared anew)``: every other declaration,
    and where each came from, is the very one that set has (:func:`merged`)."""


_TABLES = {"model": "models", "llm": "llms", "graph": "graphs", "storage": "storage"}


def _kind(item: Declaration) -> str:
    return "model" if isinstance(item, Model) else "llm" if isinstance(item, LLM) else "graph" if isinstance(item, InferenceGraph) else "storage"


def merged(root: Path, files: list[Path], outcomes: dict[Path, Outcome]) -> tuple[SpecSet, list[Problem]]:
    """The declarations of every module's outcome by name, in file order, and what is wrong with
    them (problems of imports, names declared twice, storage names nobody declares). In a
    long-lived process, the last set patched when only a few modules have new outcomes that
    declare the same names of the same kinds, in order (:attr:`SpecSet.delta`)."""
    memo = scope(("merged specs", str(root)), None)
    last = memo.hit("last")
    found = _patched(last, files, outcomes) if isinstance(last, _Merged) else None
    problems: list[Problem] = []
    if found is None:
        found = SpecSet()
        for path in files:
            outcome = outcomes[path]
            display = path.relative_to(root).as_posix()
            problems.extend(outcome.problems)
            for item in outcome.items:
                _add(item, display, found, problems)
        problems += [] if problems else _unknown_storage(found, found.models.values())  # a failed import hides declarations
    found.outcomes = outcomes
    if not problems:
        memo.put("last", _Merged(list(files), dict(outcomes), found))
    return found, problems


@dataclass(frozen=True)
class _Merged:
    files: list[Path]
    outcomes: dict[Path, Outcome]
    result: SpecSet


def _patched(last: _Merged, files: list[Path], outcomes: dict[Path, Outcome]) -> SpecSet | None:
    """``last``'s set with the declarations of the modules whose outcome is new put in place of
    the ones they had, when those are as many models, of the same names, each the one registered
    under its name, and refer to declared storage; None otherwise."""
    if files != last.files:
        return None
    changed = [p for p in files if outcomes[p] is not last.outcomes[p]]
    was = last.result
    pairs: list[tuple[Model, Model]] = []
    for path in changed:
        old, new = last.outcomes[path], outcomes[path]
        if old.problems or new.problems or len(old.items) != len(new.items):
            return None
        for before, now in zip(old.items, new.items, strict=True):
            if not (isinstance(before, Model) and isinstance(now, Model) and before.name == now.name
                    and was.models.get(now.name) is before and was.origin[("model", now.name)].endswith("/" + path.name)):
                return None
            pairs.append((before, now))
    if len(pairs) * 4 > len(was.models) + 4:
        return None
    result = SpecSet(dict(was.models), dict(was.storage), dict(was.llms), dict(was.graphs), dict(was.origin))
    names = {now.name for before, now in pairs if not _same_declaration(before, now)}
    for path in changed:
        items = outcomes[path].items
        for i, now in enumerate(items):
            if now.name in names:
                result.models[now.name] = now  # type: ignore[assignment]  # a Model: checked above
            else:  # declared as before (the module's other models): the very object, so nothing downstream sees a change
                items[i] = was.models[now.name]
    if _unknown_storage(result, [result.models[name] for name in names]):
        return None
    result.delta = (was.serial, frozenset(names))
    return result


def _same_declaration(a: Model, b: Model) -> bool:
    """Declared alike: the same values and the same fields set explicitly, at every level (what
    resolving a model in an environment reads: ``resolve_merge.py``)."""
    return a.model_dump_json() == b.model_dump_json() and a.model_dump_json(exclude_unset=True) == b.model_dump_json(exclude_unset=True)


def _unknown_storage(result: SpecSet, models: Any) -> list[Problem]:
    problems = []
    for model in models:
        if model.storage and model.storage not in result.storage:
            known = ", ".join(sorted(result.storage)) or "none declared"
            problems.append(Problem(result.origin[("model", model.name)], None, f"{model.name}.storage",
                                    f"expected the name of a declared S3Storage ({known}), found {model.storage!r}"))
    return problems


def _add(item: Declaration, display: str, result: SpecSet, problems: list[Problem]) -> None:
    kind = _kind(item)
    table: dict[str, Any] = getattr(result, _TABLES[kind])
    key = (kind, item.name)
    if key in result.origin:
        if table[item.name] is item:  # the same object exported twice (e.g. in a list too)
            return
        problems.append(Problem(display, None, item.name, f"duplicate {kind} name (also declared in {result.origin[key]})"))
        return
    table[item.name] = item
    result.origin[key] = display
