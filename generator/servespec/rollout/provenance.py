"""Provenance from git: what each environment's rollout commits did, verified against what they
changed.

Every ``release``/``promote``/``rollback`` commit carries ``Servespec-*`` trailers (Action, Model,
Env, From, To). A trailer alone proves nothing (anyone can write one), so a commit counts only
when what it claims is what it committed:

- its ``Servespec-To`` is the state entry it committed in ``overlays/<env>.rollout.yaml``;
- it changed the model's rendered InferenceService under ``rendered/<env>/``;
- that InferenceService serves the claimed state (the stable URI and no canary for ``stable``,
  the candidate for ``canary``, the stable URI for ``rolled-back``).

A commit that fails any of these is kept aside with the reason (``History.rejected``), so a
refusal can say which commit was not counted and why. Times are the committed state's ``since``
(servespec's clock, ``SERVESPEC_NOW`` in tests), not commit dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
from pydantic import ValidationError

from ..clock import parse_time
from ..gitrepo import LoggedCommit, blob_at, trailer_log
from ..spec.rollout import ModelState
from ..yamlio import load_all
from .policy import Event
from .transitions import describe

__all__ = ["History", "Rejected", "read_history"]

_ACTIONS = ("release", "promote", "rollback")


@dataclass(frozen=True)
class Rejected:
    """A rollout commit that is not counted, and why."""

    commit: str
    claim: str
    """Its ``Servespec-To`` trailer."""
    why: str

    def note(self) -> str:
        """``commit 1a2b3c4d5e claims 'stable s3://...' but ...``."""
        return f"commit {self.commit[:10]} claims {self.claim!r} but {self.why}"


@dataclass
class History:
    """The rollout commits of one environment reachable from HEAD, by model, read once and
    verified when a model's events are asked for."""

    root: Path
    env: str
    repo: git.Repo | None
    commits: dict[str, list[LoggedCommit]] = field(default_factory=dict)
    _states: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _verified: dict[str, tuple[list[Event], list[Rejected]]] = field(default_factory=dict)

    def events(self, model: str) -> tuple[list[Event], list[Rejected]]:
        """The verified events of ``model`` (oldest first) and the commits not counted."""
        if model not in self._verified:
            events: list[Event] = []
            rejected: list[Rejected] = []
            for c in self.commits.get(model, []):
                result = self._verify(model, c)
                if isinstance(result, Event):
                    events.append(result)
                else:
                    rejected.append(result)
            self._verified[model] = (events, rejected)
        return self._verified[model]

    def _state_doc(self, sha: str) -> dict[str, Any] | None:
        if sha not in self._states:
            assert self.repo is not None
            data = blob_at(self.repo, self.root, sha, f"overlays/{self.env}.rollout.yaml")
            doc = _load(data)
            models = doc.get("models") if isinstance(doc, dict) else None
            self._states[sha] = models if isinstance(models, dict) else None
        return self._states[sha]

    def _verify(self, model: str, c: LoggedCommit) -> Event | Rejected:
        claim = c.trailers.get("Servespec-To", "")
        action = c.trailers.get("Servespec-Action", "")
        if action not in _ACTIONS or not claim:
            return Rejected(c.sha, claim, f"has no Servespec-Action of {'/'.join(_ACTIONS)} and Servespec-To")
        entry = (self._state_doc(c.sha) or {}).get(model)
        try:
            state = ModelState.model_validate(_plain(entry), by_alias=True, by_name=False)
            at = parse_time(state.since)
        except (ValidationError, ValueError):
            return Rejected(c.sha, claim, f"overlays/{self.env}.rollout.yaml has no valid entry for {model} there")
        if describe(state, "") != claim:
            return Rejected(c.sha, claim, f"overlays/{self.env}.rollout.yaml says {describe(state, '')!r} there")
        isvc = _isvc_path(c.files, self.env, model)
        if isvc is None:
            return Rejected(c.sha, claim, f"does not change the rendered InferenceService of {model} under rendered/{self.env}/")
        assert self.repo is not None
        problem = _serves(_load_isvc(blob_at(self.repo, self.root, c.sha, isvc), model), state)
        if problem:
            return Rejected(c.sha, claim, f"{isvc} {problem} there")
        return Event(c.sha, action, at, state, c.trailers.get("Servespec-Reason", ""), _previous(c.trailers.get("Servespec-From", "")))


def read_history(root: Path, env: str) -> History:
    """The rollout commits of ``env`` reachable from HEAD (one ``git log``); an empty history
    when ``root`` is not in a git repository or has no commit yet."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
        commits = trailer_log(repo, root, "Servespec-Env", env)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError):
        return History(root, env, None)
    by_model: dict[str, list[LoggedCommit]] = {}
    for c in commits:
        by_model.setdefault(c.trailers.get("Servespec-Model", ""), []).append(c)
    return History(root, env, repo, by_model)


def _previous(described: str) -> str | None:
    """The stable URI in a ``Servespec-From`` value (``stable X``, ``canary 10% C (stable X)``)."""
    if described.startswith("stable "):
        return described.removeprefix("stable ")
    head, sep, tail = described.rpartition("(stable ")
    return tail[:-1] if sep and tail.endswith(")") else None


def _load(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        docs = load_all(data)
    except Exception:  # any YAML error: the file is not what servespec writes, the commit does not count
        return None
    return docs[0] if len(docs) == 1 else None


def _plain(node: Any) -> Any:
    """A committed entry as the state loader sees it (YAML timestamps back to ISO strings)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node.isoformat() if hasattr(node, "isoformat") else node


def _isvc_path(files: tuple[str, ...], env: str, model: str) -> str | None:
    """The model's InferenceService among a commit's changed files (``models/<m>/`` or a shard)."""
    for f in files:
        parts = f.split("/")
        if parts[:2] != ["rendered", env] or parts[-1] != "inferenceservice.yaml" or len(parts) < 5:
            continue
        if parts[2:4] == ["models", model] or (parts[2] == "shards" and len(parts) == 6 and parts[4] == model):
            return f
    return None


def _load_isvc(data: bytes | None, model: str) -> dict[str, Any] | None:
    doc = _load(data)
    if isinstance(doc, dict) and doc.get("kind") == "InferenceService" and (doc.get("metadata") or {}).get("name") == model:
        return doc
    return None


def _walk(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in _walk(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v, key)]
    return []


def _serves(isvc: dict[str, Any] | None, state: ModelState) -> str:
    """Why the rendered InferenceService does not serve ``state`` ("" when it does)."""
    if isvc is None:
        return "is no InferenceService of the model"
    uris = _walk(isvc, "storageUri")
    canary = bool(_walk(isvc, "canaryTrafficPercent")) or bool((isvc.get("spec") or {}).get("canary"))
    if state.phase == "stable":
        if state.stable not in uris:
            return f"does not serve {state.stable}"
        return "still routes traffic to a canary" if canary else ""
    if state.phase == "canary":
        return "" if state.candidate in uris else f"does not serve the candidate {state.candidate}"
    return "" if state.stable in uris else f"does not serve {state.stable}"
