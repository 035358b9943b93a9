"""``servespec init DIR``: a new GitOps repo that renders and validates on the first try.

The files come from the package data ``servespec/templates/init/`` (a leading ``dot-`` in a
name becomes ``.``, so ``.github``/``.gitignore`` survive packaging). ``@@REPO_URL@@`` and
``@@SERVESPEC_VERSION@@`` are filled in; with ``crds`` the CRD files are copied to ``crds/`` so
the new repo's CI validates offline. The new repo is rendered at once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path

from .errors import Problem, UsageError
from .project import Project
from .render import render_project, write_env

__all__ = ["init_repo", "InitResult", "DEFAULT_REPO_URL"]

DEFAULT_REPO_URL = "https://git.example.com/ORG/REPO.git"


@dataclass
class InitResult:
    """What ``init`` wrote."""

    root: Path
    files: list[str] = field(default_factory=list)
    crds: int = 0
    envs: list[str] = field(default_factory=list)


def _version() -> str:
    try:
        return metadata.version("servespec")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.1.0"


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        name = ("." + child.name[4:]) if child.name.startswith("dot-") else child.name
        rel = f"{prefix}{name}"
        if child.is_dir():
            out.extend(_walk(child, rel + "/"))
        else:
            out.append((rel, child))
    return out


def init_repo(target: Path, repo_url: str | None = None, crds: Path | None = None) -> InitResult:
    """Create a servespec repo in ``target`` (new or empty); refuse anything else."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(Problem(str(target), None, "", "expected a new or empty directory, found a file"))
    if target.is_dir() and any(target.iterdir()):
        count = sum(1 for _ in target.iterdir())
        raise UsageError(Problem(str(target), None, "", f"expected a new or empty directory, found {count} entries (init never overwrites)"))
    if crds is not None and not any(Path(crds).rglob("*.yaml")):
        raise UsageError(Problem(str(crds), None, "--crds", "expected a folder of CRD *.yaml files, found none"))
    subst = {"@@REPO_URL@@": repo_url or DEFAULT_REPO_URL, "@@SERVESPEC_VERSION@@": _version()}
    result = InitResult(target)
    target.mkdir(parents=True, exist_ok=True)
    for rel, node in _walk(resources.files("servespec") / "templates" / "init"):
        text = node.read_text(encoding="utf-8")
        for token, value in subst.items():
            text = text.replace(token, value)
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        result.files.append(rel)
    if crds is not None:
        for src in sorted(Path(crds).rglob("*.yaml")):
            dest = target / "crds" / src.relative_to(crds)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            result.crds += 1
    project = Project.load(target)
    for env, files in render_project(project).items():
        write_env(target, env, files)
        result.envs.append(env)
    return result
