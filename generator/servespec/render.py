"""Render environments into ``rendered/<env>/``: in memory first, then an atomic swap.

Everything is computed before anything is written, so bad input never touches ``rendered/``.
Writing builds the new tree in a temp folder beside the old one (unchanged files are
hard-linked, so they keep their inode and mtime), then swaps the folders. A render that
changes nothing writes nothing.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .emit import build_context, emit_env
from .errors import Problem, RenderError
from .project import Project
from .yamlio import dump

__all__ = ["RenderResult", "render_env", "render_project", "write_env", "check_env", "read_tree", "RENDERED"]

RENDERED = "rendered"


@dataclass
class RenderResult:
    """What a render changed in one environment."""

    env: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)


def render_env(project: Project, env: str) -> dict[str, bytes]:
    """Every file of ``rendered/<env>/`` as bytes, keyed by relative path."""
    ctx = build_context(project, env)
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for out in emit_env(ctx):
        if out.path in files:
            problems.append(Problem(f"rendered/{env}/{out.path}", None, "", "two objects render to the same file"))
        files[out.path] = dump(out.obj).encode("utf-8")
    if problems:
        raise RenderError(problems)
    return dict(sorted(files.items()))


def render_project(project: Project) -> dict[str, dict[str, bytes]]:
    """All environments of the project, rendered in memory; all problems reported together."""
    out: dict[str, dict[str, bytes]] = {}
    problems: list[Problem] = []
    for env in project.envs:
        try:
            out[env] = render_env(project, env)
        except RenderError as exc:
            problems.extend(p if p.file else Problem(f"env {env}", None, p.field, p.message) for p in exc.problems)
    if problems:
        raise RenderError(sorted(set(problems), key=problems.index))
    return out


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, keyed by POSIX relative path."""
    if not folder.is_dir():
        return {}
    out = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(dirpath) / name
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return dict(sorted(out.items()))


def _compare(env: str, old: dict[str, bytes], new: dict[str, bytes]) -> RenderResult:
    res = RenderResult(env)
    for path, data in new.items():
        if path not in old:
            res.added.append(path)
        elif old[path] != data:
            res.changed.append(path)
    res.removed = [p for p in old if p not in new]
    return res


def write_env(root: Path, env: str, files: dict[str, bytes]) -> RenderResult:
    """Make ``rendered/<env>/`` hold exactly ``files``; atomic, and a no-op when nothing changed."""
    target = root / RENDERED / env
    old = read_tree(target)
    result = _compare(env, old, files)
    if result.unchanged:
        return result
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{env}.", dir=target.parent))
    try:
        for path, data in files.items():
            dest = tmp / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if old.get(path) == data:
                os.link(target / path, dest)
            else:
                dest.write_bytes(data)
        if target.exists():
            trash = target.parent / f".{env}.old-{os.getpid()}"
            os.rename(target, trash)
            os.rename(tmp, target)
            shutil.rmtree(trash)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def check_env(root: Path, env: str, files: dict[str, bytes], max_lines: int = 40) -> tuple[RenderResult, str]:
    """Compare ``files`` with ``rendered/<env>/``: the differences and a short unified diff."""
    target = root / RENDERED / env
    old = read_tree(target)
    result = _compare(env, old, files)
    lines: list[str] = []
    for path in sorted({*result.added, *result.changed, *result.removed}):
        a = old.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = files.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        lines.extend(difflib.unified_diff(a, b, f"a/{RENDERED}/{env}/{path}", f"b/{RENDERED}/{env}/{path}", n=2))
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... {len(lines) - max_lines} more diff lines\n"]
    return result, "".join(line if line.endswith("\n") else line + "\n" for line in lines)
