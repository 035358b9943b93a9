"""Small repos for the InferenceService-surface tests: one spec module and a few overlays written into
``tmp_path``, rendered in memory, the InferenceService read back, problems as their one-line strings."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from servespec.errors import ServespecError
from servespec.kserve.schemas import SUPPORTED
from servespec.project import Project
from servespec.render import render_env
from servespec.validate import SchemaRegistry
from servespec.validate.tree import validate_objects

HEADER = "from servespec.spec import *  # noqa: F403\n"
MINORS = tuple(release.rsplit(".", 1)[0] for release in SUPPORTED)
"""``0.14`` ... ``0.20``."""


def overlay(kserve: str = "0.20", extra: str = "", namespace: str = "ml") -> str:
    """An overlay text for one env at a KServe version (monitoring off, so only the objects under test render)."""
    return f'namespace: {namespace}\nkserveVersion: "{kserve}"\nkubernetesVersion: "1.31"\nmonitoring: {{enabled: false}}\n' + extra


def make_repo(root: Path, spec: str, overlays: dict[str, str] | None = None, extra_specs: dict[str, str] | None = None) -> Path:
    """A repo at ``root`` with ``specs/main.py`` (``spec``, after a star import of ``servespec.spec``)."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "overlays").mkdir(exist_ok=True)
    (root / "specs/main.py").write_text(HEADER + textwrap.dedent(spec))
    for name, text in (extra_specs or {}).items():
        (root / f"specs/{name}.py").write_text(HEADER + textwrap.dedent(text))
    for env, text in (overlays or {"dev": overlay()}).items():
        (root / f"overlays/{env}.yaml").write_text(text)
    return root


def render(repo: Path, env: str = "dev") -> dict[str, bytes]:
    """Every rendered file of ``env``, in memory."""
    return render_env(Project.load(repo, [env]), env)


def obj(files: dict[str, bytes], path: str) -> dict[str, Any]:
    """One rendered object."""
    loaded: dict[str, Any] = yaml.safe_load(files[path])
    return loaded


def isvc(files: dict[str, bytes], model: str) -> dict[str, Any]:
    """The rendered InferenceService of ``model``."""
    return obj(files, f"models/{model}/inferenceservice.yaml")


def problems(repo: Path, env: str = "dev") -> list[str]:
    """What keeps ``env`` from rendering, one string per problem (fails when it renders)."""
    try:
        render(repo, env)
    except ServespecError as exc:
        return [str(p) for p in exc.problems]
    raise AssertionError(f"{env} rendered, expected problems")


REGISTRY = SchemaRegistry(None)


def schema_errors(repo: Path, env: str, files: dict[str, bytes]) -> list[str]:
    """Every rendered object of ``env`` checked against the schemas of its KServe and Kubernetes versions
    (the shipped CRDs, no ``--crds``) and servespec's policies."""
    loaded = Project.load(repo, [env]).envs[env]
    docs = [(path, d) for path, data in files.items() for d in yaml.safe_load_all(data) if d]
    return [str(p) for p in validate_objects(docs, loaded, REGISTRY).problems]
