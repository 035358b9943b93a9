"""``servespec init DIR``: a new GitOps repo that renders and validates on the first try.

The files come from the package data ``servespec/templates/init/`` (a leading ``dot-`` in a
name becomes ``.``, so ``.github``/``.gitignore`` survive packaging). ``@@REPO_URL@@`` and
``@@SERVESPEC_SOURCE@@`` (the pip requirement the README and workflows install, see
``install_source.py``) are filled in; with ``crds`` the CRD files are copied to ``crds/`` so
the new repo's CI validates offline. For editors, the overlay and state JSON Schemas go to
``.servespec/`` (each overlay's first line points at it) and ``.vscode/settings.json`` maps the
state files to theirs. The new repo is rendered at once.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from .codeowners import sync_codeowners
from .errors import Problem, UsageError
from .install_source import resolve_source
from .jsonschema_export import schema_text
from .project import Project
from .render import render_project, write_env

__all__ = ["init_repo", "InitResult", "DEFAULT_REPO_URL", "EDITOR_FILES"]

DEFAULT_REPO_URL = "https://git.example.com/ORG/REPO.git"
EDITOR_FILES = (".servespec/overlay.schema.json", ".servespec/state.schema.json", ".vscode/settings.json")
"""What ``init`` writes for editors besides the templates (refresh: ``servespec schema KIND > FILE``)."""


@dataclass
class InitResult:
    """What ``init`` wrote."""

    root: Path
    files: list[str] = field(default_factory=list)
    crds: int = 0
    envs: list[str] = field(default_factory=list)
    editor: list[str] = field(default_factory=list)
    """JSON Schemas and editor settings (:data:`EDITOR_FILES`)."""
    servespec_source: str = ""
    """The pip requirement the README and workflows install."""
    notes: list[str] = field(default_factory=list)
    """Warnings for the user (e.g. a servespec source only this machine has)."""


def _editor_files() -> dict[str, str]:
    overlay, state, settings = EDITOR_FILES
    # Overlays name their schema in their first line (a modeline beats settings); settings map the
    # state files, which the rollout commands write without one.
    return {overlay: schema_text("overlay"), state: schema_text("state"),
            settings: json.dumps({"yaml.schemas": {state: ["overlays/*.rollout.yaml"]}}, indent=2) + "\n"}


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


def init_repo(target: Path, repo_url: str | None = None, crds: Path | None = None,
              servespec_source: str | None = None) -> InitResult:
    """Create a servespec repo in ``target`` (new or empty); refuse anything else.

    ``servespec_source`` is the pip requirement its README and workflows install; None: the
    running servespec's own source (``install_source.resolve_source``)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(Problem(str(target), None, "", "expected a new or empty directory, found a file"))
    if target.is_dir() and any(target.iterdir()):
        count = sum(1 for _ in target.iterdir())
        raise UsageError(Problem(str(target), None, "", f"expected a new or empty directory, found {count} entries (init never overwrites)"))
    if crds is not None and not any(Path(crds).rglob("*.yaml")):
        raise UsageError(Problem(str(crds), None, "--crds", "expected a folder of CRD *.yaml files, found none"))
    source = resolve_source(servespec_source)
    subst = {"@@REPO_URL@@": repo_url or DEFAULT_REPO_URL, "@@SERVESPEC_SOURCE@@": source.requirement}
    result = InitResult(target, servespec_source=source.requirement, notes=[source.note] if source.note else [])
    target.mkdir(parents=True, exist_ok=True)
    for rel, node in _walk(resources.files("servespec") / "templates" / "init"):
        text = node.read_text(encoding="utf-8")
        for token, value in subst.items():
            text = text.replace(token, value)
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        result.files.append(rel)
    for rel, text in _editor_files().items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
        result.editor.append(rel)
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
    owners = sync_codeowners(target, project.envs)
    if owners is not None:
        result.files.append(owners.path)
    return result
