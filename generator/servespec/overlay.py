"""Load environment overlays: ``overlays/<env>.yaml`` or a folder ``overlays/<env>/`` whose
``*.yaml`` files are merged key by key (a key may appear in only one of them), validated against
:class:`~servespec.spec.overlay.EnvOverlay` with every key's file and line kept.
``overlays/<env>.rollout.yaml`` is the rollout state (``rollout/state.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .cache.warm import scope
from .errors import Problem, SpecError
from .spec.overlay import EnvOverlay
from .validation_messages import describe_pydantic_error
from .yamlio import load_with_lines

__all__ = ["Env", "load_envs", "discover_envs", "not_taken"]

_ENV_FILE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Env:
    """A loaded environment: its name, overlay and where each key came from."""

    name: str
    overlay: EnvOverlay
    files: tuple[str, ...]
    """Overlay files, relative to the repo root."""
    lines: dict[tuple[Any, ...], tuple[str, int]]
    """Field path -> (file, line)."""

    def where(self, *path: Any) -> tuple[str, int | None]:
        """File and line of an overlay key (or its nearest ancestor)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return (self.files[0], None)


def discover_envs(root: Path) -> list[str]:
    """Names of the environments under ``root/overlays``, sorted."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return []
    names = set()
    for p in overlays.iterdir():
        stem = p.name[:-5] if p.is_file() and p.name.endswith(".yaml") else p.name if p.is_dir() else None
        if stem and _ENV_FILE.match(stem):
            names.add(stem)
    return sorted(names)


def not_taken(root: Path) -> list[Problem]:
    """Every file or folder under ``overlays/`` that is not an environment, a rollout state file
    or documentation (``*.md``, dotfiles), with the reason: nothing is skipped without a word."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return []
    envs = set(discover_envs(root))
    problems = []
    for p in sorted(overlays.iterdir()):
        name, shown = p.name, f"overlays/{p.name}" + ("/" if p.is_dir() else "")
        if name.startswith(".") or name.endswith(".md"):
            continue
        if p.is_dir():
            if not _ENV_FILE.match(name):
                problems.append(Problem(shown, None, "", f"not an environment: expected a lower-case DNS label as its name, found {name!r}"))
            elif (overlays / f"{name}.yaml").is_file():
                problems.append(Problem(shown, None, "", f"environment {name!r} is both overlays/{name}.yaml and this folder: keep one"))
            else:
                problems.extend(Problem(f"{shown}{q.name}", None, "", "not an overlay file: expected *.yaml")
                                for q in sorted(p.iterdir()) if not q.name.endswith((".yaml", ".md")) and not q.name.startswith("."))
            continue
        stem, dot, ext = name.partition(".")
        if ext in ("yaml", "rollout.yaml") and stem in envs:
            continue
        if ext == "rollout.yaml":
            problems.append(Problem(shown, None, "", f"rollout state of an unknown environment {stem!r} (known: {', '.join(sorted(envs)) or 'none'})"))
        elif ext in ("yml", "rollout.yml"):
            problems.append(Problem(shown, None, "", f"not taken: overlays end in .yaml, found .{ext} (rename it to {stem}.{ext.replace('yml', 'yaml')})"))
        elif ext == "yaml":
            problems.append(Problem(shown, None, "", f"not an environment: expected a lower-case DNS label as its name, found {stem!r}"))
        else:
            problems.append(Problem(shown, None, "", "not an overlay: expected <env>.yaml, a folder <env>/ or <env>.rollout.yaml"))
    return problems


def load_envs(root: Path, names: list[str] | None = None) -> dict[str, Env]:
    """Load and validate overlays; every problem of every env is reported at once."""
    available = discover_envs(root)
    stray = not_taken(root)
    if not available:
        raise SpecError([*stray, Problem("overlays/", None, "", "expected at least one overlays/<env>.yaml, found none")])
    wanted = names or available
    problems: list[Problem] = list(stray)
    envs: dict[str, Env] = {}
    for name in wanted:
        if name not in available:
            problems.append(Problem("overlays/", None, "", f"unknown environment {name!r} (known: {', '.join(available)})"))
            continue
        try:
            envs[name] = _load_env(root, name)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return envs


def _load_env(root: Path, name: str) -> Env:
    """One env's overlay files merged and validated; the very same ``Env`` again while the files
    hold the same bytes (``cache/warm.py``: ``resolve.py`` patches the last context of an env
    whose overlay is that object)."""
    folder = root / "overlays" / name
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else [root / "overlays" / f"{name}.yaml"]
    try:
        read = tuple((p.name, p.read_bytes()) for p in paths)
    except OSError:
        read = None  # reported below, where the file is read again
    memo = scope(("overlay", str(root), name), read)
    kept = memo.hit("env")
    if read is not None and isinstance(kept, Env):
        return kept
    env = _loaded(root, name, paths)
    if read is not None:
        memo.put("env", env)
    return env


def _loaded(root: Path, name: str, paths: list[Path]) -> Env:
    data: dict[str, Any] = {}
    lines: dict[tuple[Any, ...], tuple[str, int]] = {}
    problems: list[Problem] = []
    for path in paths:
        display = path.relative_to(root).as_posix()
        doc, doc_lines = load_with_lines(path, display)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            problems.append(Problem(display, doc_lines.get(()), "", f"expected a mapping of settings, found {type(doc).__name__}"))
            continue
        for key, value in doc.items():
            if key in data:
                first = lines[(key,)]
                problems.append(Problem(display, doc_lines.get((key,)), str(key), f"already set in {first[0]}:{first[1]}"))
                continue
            data[key] = value
        for path_key, line in doc_lines.items():
            if path_key:
                lines.setdefault(path_key, (display, line))
    files = tuple(p.relative_to(root).as_posix() for p in paths)
    if problems:
        raise SpecError(problems)
    if not files:
        raise SpecError(Problem(f"overlays/{name}/", None, "", "expected *.yaml files, found none"))
    env_probe = Env(name, EnvOverlay.model_construct(), files, lines)
    try:
        overlay = EnvOverlay.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise SpecError(_problems_from(exc, env_probe)) from None
    return Env(name, overlay, files, lines)


def _problems_from(exc: ValidationError, env: Env, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        field, message = describe_pydantic_error({**err, "loc": loc})
        clean = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        file, line = env.where(*clean)
        out.append(Problem(file, line, field, message))
    return out


