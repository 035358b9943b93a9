"""``servespec diff``: what a change does to the rendered output, per environment and object.

The two sides:

- **base**: the ``rendered/`` tree committed at ``--base REF`` (read from git objects, no
  checkout). That is what the controllers deploy from the base branch today, whatever generator
  version produced it; the base's specs are not re-rendered, so a generator change is visible too.
- **head**: a fresh in-memory render of the working tree's specs and overlays (what ``render``
  would commit; with ``render --check`` green in CI it equals the head's committed ``rendered/``).

Objects are matched by ``(kind, namespace, name)``, not by file, so moving a file is no change.
Each changed object is shown as a unified diff of its canonical YAML. Secret ``data``/
``stringData`` and SealedSecret ``encryptedData`` values are never shown: every value becomes
``<redacted>``, and ``<redacted (changed)>`` on the head side where it differs from the base.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

import yaml

from .errors import GitError, Problem
from .gitrepo import files_at
from .project import Project
from .render import RENDERED, render_project
from .yamlio import dump, load_all

__all__ = ["ObjectChange", "EnvDiff", "DiffReport", "diff_project", "format_text", "format_markdown", "mask_secrets", "MARKER"]

MARKER = "<!-- servespec-diff -->"
"""First line of the markdown output: lets a workflow find and update its own PR comment."""
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted (changed)>"
MAX_MARKDOWN = 60_000
"""GitHub refuses comments over 65,536 characters; the markdown is cut before that."""

Key = tuple[str, str, str]


@dataclass
class ObjectChange:
    """One object added, changed or removed."""

    key: Key
    status: str
    """``added``, ``changed`` or ``removed``."""
    diff: list[str]
    """Unified diff lines (masked)."""

    @property
    def label(self) -> str:
        kind, ns, name = self.key
        return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


@dataclass
class EnvDiff:
    """The changes of one environment."""

    env: str
    changes: list[ObjectChange] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.changes if c.status == status)

    @property
    def summary(self) -> str:
        if not self.changes:
            return f"{self.env}: no changes"
        return f"{self.env}: {self.count('added')} added, {self.count('changed')} changed, {self.count('removed')} removed"


@dataclass
class DiffReport:
    """Every environment's changes against one base revision."""

    base: str
    envs: list[EnvDiff]

    @property
    def summary(self) -> str:
        return "; ".join(e.summary for e in self.envs) or "no environments"

    @property
    def changed(self) -> bool:
        return any(e.changes for e in self.envs)


# -- reading both sides ---------------------------------------------------------------------------
def _objects(files: dict[str, bytes], where: str) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for path, data in sorted(files.items()):
        if not path.endswith(".yaml"):
            continue
        try:
            docs = load_all(data)
        except yaml.YAMLError as exc:
            raise GitError(Problem(f"{where}/{path}", None, "", f"invalid YAML: {exc}")) from None
        for doc in docs:
            if not isinstance(doc, dict) or str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"):
                continue
            meta = doc.get("metadata") or {}
            out[(str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))] = doc
    return out


def _committed(root: Path, ref: str) -> dict[str, dict[str, bytes]]:
    """``rendered/<env>/`` files as committed at ``ref``, per env."""
    out: dict[str, dict[str, bytes]] = {}
    for rel, data in files_at(root, ref, RENDERED).items():
        env, _, inner = rel.partition("/")
        if inner:
            out.setdefault(env, {})[inner] = data
    return out


# -- masking ----------------------------------------------------------------------------------------
def _secret_maps(obj: dict[str, Any]) -> list[tuple[str, ...]]:
    kind = obj.get("kind")
    if kind == "Secret":
        return [("data",), ("stringData",)]
    if kind == "SealedSecret":
        return [("spec", "encryptedData"), ("spec", "template", "data")]
    return []


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def mask_secrets(obj: dict[str, Any] | None, other: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A copy of ``obj`` with every secret value replaced; where ``other`` (the base) holds a
    different value for the same key, the mask says so."""
    if obj is None:
        return None
    paths = _secret_maps(obj)
    if not paths:
        return obj
    masked = copy.deepcopy(obj)
    for path in paths:
        values = _get(masked, path)
        if not isinstance(values, dict):
            continue
        before = _get(other, path) if other is not None else None
        for key in list(values):
            changed = isinstance(before, dict) and key in before and before[key] != values[key]
            values[key] = REDACTED_CHANGED if changed else REDACTED
    return masked


# -- diffing ----------------------------------------------------------------------------------------
def _unified(env: str, key: Key, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    a = dump(old).splitlines(keepends=True) if old is not None else []
    b = dump(new).splitlines(keepends=True) if new is not None else []
    name = "/".join(p for p in key if p)
    return [line if line.endswith("\n") else line + "\n"
            for line in difflib.unified_diff(a, b, f"a/{env}/{name}", f"b/{env}/{name}", n=3)]


def diff_env(env: str, old: dict[Key, dict[str, Any]], new: dict[Key, dict[str, Any]]) -> EnvDiff:
    """Object-level changes of one environment."""
    result = EnvDiff(env)
    for key in sorted({*old, *new}):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "changed"
        shown_old = mask_secrets(before)
        shown_new = mask_secrets(after, before)
        result.changes.append(ObjectChange(key, status, _unified(env, key, shown_old, shown_new)))
    return result


def diff_project(root: Path, base: str = "HEAD", envs: Iterable[str] | None = None) -> DiffReport:
    """Compare ``rendered/`` committed at ``base`` with a fresh render of the working tree."""
    committed = _committed(root, base)
    wanted = list(envs) if envs else None
    project = Project.load(root, wanted)
    rendered = render_project(project)
    names = wanted or sorted({*rendered, *committed})
    report = DiffReport(base, [])
    for env in names:
        old = _objects(committed.get(env, {}), f"{base}:{RENDERED}/{env}")
        new = _objects(rendered.get(env, {}), f"{RENDERED}/{env}")
        report.envs.append(diff_env(env, old, new))
    return report


# -- output -----------------------------------------------------------------------------------------
def format_text(report: DiffReport) -> str:
    """Summary line, then every change as a unified diff."""
    lines = [f"servespec diff against {report.base}: {report.summary}\n"]
    for env in report.envs:
        for change in env.changes:
            lines.extend(change.diff)
    return "".join(lines)


def format_markdown(report: DiffReport, limit: int = MAX_MARKDOWN) -> str:
    """A pull-request comment: summary, a table per environment, the diffs folded."""
    head = [MARKER, f"### servespec: rendered changes against `{report.base}`", "",
            f"**{report.summary}**", ""]
    body: list[str] = []
    for env in report.envs:
        if not env.changes:
            continue
        body += [f"#### {env.summary}", "", "| object | change |", "| --- | --- |"]
        body += [f"| `{c.label}` | {c.status} |" for c in env.changes]
        body.append("")
        for c in env.changes:
            body += ["<details>", f"<summary>{env.env}: {c.label} ({c.status})</summary>", "", "```diff",
                     "".join(c.diff).rstrip("\n").replace("```", "` ` `"), "```", "</details>", ""]
    text = "\n".join(head + body) + "\n"
    if len(text) > limit:
        cut = text[:limit].rsplit("\n<details>", 1)[0]
        text = cut + "\n\n_… diff cut to fit a comment: run `servespec diff` locally for the rest._\n"
    return text
