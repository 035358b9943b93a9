"""Load ``specs/*.py``: import each module under a fresh name and collect what it declares.

A spec module only declares: module-level ``Model`` and ``S3Storage`` instances (or lists of
them). Modules whose names start with ``_`` are helpers other specs import and are not
collected themselves. A module that fails to import is reported as that file's error, with the
line that raised, never as "not found".
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from .errors import Problem, SpecError
from .spec import LLM, Model, S3Storage
from .validation_messages import describe_pydantic_error

__all__ = ["SpecSet", "load_specs"]


@dataclass
class SpecSet:
    """Everything ``specs/`` declares, by name, and the file each came from."""

    models: dict[str, Model] = field(default_factory=dict)
    storage: dict[str, S3Storage] = field(default_factory=dict)
    llms: dict[str, LLM] = field(default_factory=dict)
    """LLMs (``LLMInferenceService``), by name."""
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    """(kind, name) -> spec file (relative to the repo root)."""
    files: list[Path] = field(default_factory=list)


def load_specs(root: Path) -> SpecSet:
    """Import every spec module below ``root/specs`` and collect its declarations."""
    specs_dir = root / "specs"
    result = SpecSet()
    if not specs_dir.is_dir():
        raise SpecError(Problem("specs/", None, "", "expected a specs/ folder with Python modules, found none"))
    problems: list[Problem] = []
    files = sorted(p for p in specs_dir.glob("*.py") if not p.name.startswith("_"))
    result.files = sorted(specs_dir.glob("*.py"))
    before = set(sys.modules)
    sys.path.insert(0, str(specs_dir))
    try:
        for path in files:
            display = path.relative_to(root).as_posix()
            try:
                module = _import(path)
            except _ImportFailed as exc:
                problems.extend(exc.problems)
                continue
            _collect(module, display, result, problems)
    finally:
        sys.path.remove(str(specs_dir))
        for name in set(sys.modules) - before:
            mod_file = getattr(sys.modules[name], "__file__", None) or ""
            if name.startswith("_servespec_spec_") or mod_file.startswith(str(specs_dir)):
                del sys.modules[name]
    for name, model in result.models.items() if not problems else ():  # a failed import hides declarations
        if model.storage and model.storage not in result.storage:
            known = ", ".join(sorted(result.storage)) or "none declared"
            problems.append(
                Problem(result.origin[("model", name)], None, f"{name}.storage",
                        f"expected the name of a declared S3Storage ({known}), found {model.storage!r}")
            )
    if problems:
        raise SpecError(problems)
    return result


class _ImportFailed(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems


def _import(path: Path) -> ModuleType:
    display = f"specs/{path.name}"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"_servespec_spec_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise _ImportFailed([Problem(display, exc.lineno, "", f"syntax error: {exc.msg}")]) from None
    except ValidationError as exc:
        line = _line_in(exc, path)
        raise _ImportFailed(
            [Problem(display, line, f"{exc.title}.{describe_pydantic_error(e)[0]}".rstrip("."),
                     describe_pydantic_error(e)[1]) for e in exc.errors()]
        ) from None
    except (Exception, SystemExit) as exc:  # a spec module may raise anything; report it as its error
        line = _line_in(exc, path)
        raise _ImportFailed(
            [Problem(display, line, "", f"importing the spec raised {type(exc).__name__}: {exc}")]
        ) from None
    return module


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The deepest line of ``path`` in the traceback of ``exc``."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def _collect(module: ModuleType, display: str, result: SpecSet, problems: list[Problem]) -> None:
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_"):
            continue
        items: list[Any] = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, Model):
                _add(result.models, "model", item, display, result, problems)
            elif isinstance(item, S3Storage):
                _add(result.storage, "storage", item, display, result, problems)
            elif isinstance(item, LLM):
                _add(result.llms, "llm", item, display, result, problems)


def _add(table: dict[str, Any], kind: str, item: Any, display: str, result: SpecSet, problems: list[Problem]) -> None:
    key = (kind, item.name)
    if key in result.origin:
        if table[item.name] is item:  # the same object exported twice (e.g. in a list too)
            return
        problems.append(
            Problem(display, None, item.name, f"duplicate {kind} name (also declared in {result.origin[key]})")
        )
        return
    table[item.name] = item
    result.origin[key] = display
