"""``servespec forget MODEL --env E``: remove a deleted model's rollout state entry, as a commit.

A state entry must name a model the environment renders, so deleting a model from ``specs/``
(or disabling it in an overlay) stops every command at its entry in ``overlays/<env>.rollout.yaml``
until the entry is gone. ``forget`` removes it and re-renders the environment (the model's
files leave ``rendered/<env>/``) in one commit; a model still rendered there is refused, since
its entry decides what is rendered. With ``--push``, a rejected push is fetched, rebased and
redone like any rollout change; an entry already gone upstream is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from git import Repo

from ..errors import Problem, PromoteError, PushFailed, RaceLost
from ..fsutil import atomic_write
from ..gitrepo import Author, commit_paths, push_with_retry
from ..project import Project
from ..render import write_model_change
from ..resolve import build_context, resolve_model
from ..spec.rollout import ModelState
from .apply import Log, Push, load_project, prepare
from .state import load_state, remove_entry, state_path
from .transitions import describe

__all__ = ["Forgotten", "forget"]


def _quiet(_message: str) -> None:
    pass


@dataclass
class Forgotten:
    """What ``forget`` did: the entry removed, the commit's subject, its sha and push attempts."""

    env: str
    model: str
    before: ModelState
    subject: str
    commit: str | None = None
    pushes: int = 0

    def message(self) -> str:
        """The commit message: subject, then the same trailers as every rollout commit."""
        trailers = {"Servespec-Action": "forget", "Servespec-Model": self.model, "Servespec-Env": self.env,
                    "Servespec-From": describe(self.before, ""), "Servespec-To": "unmanaged (no state entry)"}
        return "\n".join([self.subject, "", *(f"{k}: {v}" for k, v in trailers.items())]) + "\n"


def _entry(root: Path, env: str, model: str) -> tuple[Project, ModelState]:
    """The project and the entry to forget; refused when there is none or the model is rendered."""
    project = load_project(root, [env])
    state, lines = load_state(root, env)
    display = f"overlays/{env}.rollout.yaml"
    if model not in state:
        raise PromoteError(Problem(display, None, "MODEL", f"no rollout state for {model!r} in env {env!r} "
                                   f"(entries: {', '.join(sorted(state)) or 'none'}): nothing to forget"))
    spec = project.specs.models.get(model)
    if spec is not None and resolve_model(spec, project.envs[env]) is not None:
        raise PromoteError(Problem(display, lines.get(model), f"models.{model}",
                                   f"{model} is still rendered in env {env!r}: its state decides what is rendered; forget is for a "
                                   "model deleted from specs/ or disabled in the overlay (to go back to the spec's version, release it)"))
    return project, state[model]


def _apply(root: Path, f: Forgotten, project: Project, repo: Repo, who: Author) -> str | None:
    """Remove the entry and re-render the env (restoring the state file on any error), commit both:
    the model's files leave it, the environment-wide ones are written again; unchanged models
    come from the render cache (``render.write_model_change``)."""
    path = state_path(root, f.env)
    before = path.read_bytes()
    remove_entry(root, f.env, f.model)
    try:
        write_model_change(root, build_context(project, f.env), f.model)
    except BaseException:
        atomic_write(path, before)
        raise
    return commit_paths(repo, root, [path.relative_to(root).as_posix(), f"rendered/{f.env}"], f.message(), who)


def forget(root: Path, env: str, model: str, *, author: str | None = None, push: Push | None = None,
           log: Log = _quiet) -> Forgotten:
    """``servespec forget MODEL --env E``: one commit removing the model's state entry and its
    rendered files; with ``push``, pushed (a rejected push is redone on the new upstream)."""
    repo, start, who = prepare(root, env, author, push)
    project, before = _entry(root, env, model)
    f = Forgotten(env, model, before, f"forget({env}/{model}): rollout state removed (was {describe(before, '')})")
    f.commit = _apply(root, f, project, repo, who)
    if not (push and f.commit):
        return f
    remote, branch = push[0], push[1] or repo.active_branch.name

    def reapply() -> str | None:
        state, _lines = load_state(root, env)
        if model not in state:
            f.commit = None  # forgotten upstream meanwhile: nothing left to do
            return None
        if state[model] != before:
            raise RaceLost(f"{env}/{model} changed upstream while this forget ran: now {describe(state[model], '')}, "
                           f"expected {describe(before, '')}; nothing pushed, the branch is at {remote}/{branch}: re-run the command")
        f.commit = _apply(root, f, load_project(root, [env]), repo, who)
        return f.commit

    try:
        f.pushes = push_with_retry(repo, remote, branch, reapply, log=log, author=who)
    except PushFailed as exc:
        repo.git.reset("-q", "--hard", start)
        raise PushFailed([*exc.problems, Problem(message=f"the local commit was undone (HEAD is back at {start[:10]}): "
                                                 "fix the cause and re-run the command")]) from None
    return f
