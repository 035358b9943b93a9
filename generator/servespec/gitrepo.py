"""The git side of rollout commands (GitPython): clean-tree check, one-commit changes, push with
fetch/rebase/re-apply retries.

Pushes never raise in GitPython: every ``PushInfo`` is checked for ``REJECTED``/``ERROR`` flags
(TOOLCHAIN.md §7). A rejected push is handled as Kargo's ``git-push`` does (GITOPS-PEERS.md §1,
§10): fetch, drop our commit, rebase what was below it onto the remote branch, re-apply the
change on the new upstream (the caller re-checks the state and re-renders), retry a bounded
number of times; anything that would need a human stops with the branch left clean.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import git

# GitPython logs git's own stderr ("error: failed to push some refs to '/abs/path'") through the
# logging module, which Python prints when nothing handles it: a retried-then-successful push would
# look like a failure. servespec prints its own one line per attempt instead.
logging.getLogger("git").addHandler(logging.NullHandler())

from .errors import GitError, Problem, PushFailed

__all__ = ["Author", "resolve_author", "open_repo", "ensure_clean", "commit_paths", "push_with_retry", "behind", "DEFAULT_AUTHOR", "files_at",
           "LoggedCommit", "trailer_log", "blob_at", "propose_branch", "push_branch", "ensure_no_branch", "drop_branch"]

DEFAULT_AUTHOR = "servespec <servespec@localhost.invalid>"
"""Author of rollout commits when neither ``--author``, ``SERVESPEC_AUTHOR`` nor git config set one."""
_AUTHOR = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def env(self) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
                "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}


def resolve_author(value: str | None, repo: git.Repo | None = None) -> Author:
    """``--author``, else ``$SERVESPEC_AUTHOR``, else the repo's git identity, else the default."""
    raw = value or os.environ.get("SERVESPEC_AUTHOR")
    if not raw and repo is not None:
        try:
            reader = repo.config_reader()
            name, email = reader.get_value("user", "name", ""), reader.get_value("user", "email", "")
            if name and email:
                raw = f"{name} <{email}>"
        except Exception:  # no config at all
            raw = None
    raw = raw or DEFAULT_AUTHOR
    m = _AUTHOR.match(raw)
    if not m:
        raise GitError(Problem("--author", None, "", f"expected \"Name <email>\", found {raw!r}"))
    return Author(m.group(1), m.group(2))


def open_repo(root: Path) -> git.Repo:
    """The git repository ``root`` is in (exit 2 when there is none)."""
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(Problem("git", None, "", "not inside a git repository: rollout commands commit their changes")) from None


def _workdir(repo: git.Repo) -> str:
    return str(repo.working_tree_dir or repo.git_dir)


def _rel(repo: git.Repo, root: Path, *parts: str) -> str:
    base = Path(_workdir(repo)).resolve()
    return (root.resolve().joinpath(*parts)).relative_to(base).as_posix()


def ensure_clean(repo: git.Repo, root: Path, env: str) -> None:
    """Refuse a dirty tree: modified or staged tracked files anywhere, and untracked or ignored
    files that would change the render (``specs/*.py``, ``overlays/``, ``rendered/<env>/``):
    a rollout commit must be reproducible from what it commits."""
    if repo.head.is_detached:
        raise GitError(Problem("git", None, "", "HEAD is detached: check out a branch first"))
    specs = _rel(repo, root, "specs") + "/"
    ours = (_rel(repo, root, "overlays") + "/", _rel(repo, root, "rendered", env) + "/")
    dirty, untracked = [], []
    status = repo.git.status("--porcelain", "--untracked-files=all", "--ignored=matching", "-z")
    for entry in status.split("\0"):
        code, path = entry[:2], entry[3:]
        if not entry:
            continue
        if code in ("??", "!!"):
            if path.startswith(ours) or (path.startswith(specs) and path.endswith(".py")):
                untracked.append(f"{path} ({'ignored' if code == '!!' else 'untracked'})")
        else:
            dirty.append(path)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise GitError(Problem("git", None, "", f"the working tree is dirty ({shown}): commit or stash first"))
    if untracked:
        shown = ", ".join(untracked[:5]) + (f" and {len(untracked) - 5} more" if len(untracked) > 5 else "")
        raise GitError(Problem("git", None, "", f"files that change the render are not committed ({shown}): "
                               "commit or remove them first; a rollout commit must render the same on any clone"))


def commit_paths(repo: git.Repo, root: Path, paths: list[str], message: str, author: Author) -> str | None:
    """Stage exactly ``paths`` (files or folders, relative to ``root``) and commit them.

    Returns the new commit's sha, or None when nothing changed (no empty commits).
    """
    rels = [_rel(repo, root, p) for p in paths]
    repo.git.add("-A", "--", *rels)
    staged = repo.git.diff("--cached", "--name-only").splitlines()
    outside = [p for p in staged if not any(p == r or p.startswith(r + "/") for r in rels)]
    if outside:
        raise GitError(Problem("git", None, "", f"refusing to commit files outside the change: {', '.join(outside)}"))
    if not staged:
        return None
    with repo.git.custom_environment(**author.env()):
        repo.git.commit("-q", "--no-verify", "-m", message)
    return repo.head.commit.hexsha


def _push_once(repo: git.Repo, remote: str, branch: str) -> tuple[bool, str]:
    try:
        infos = repo.remote(remote).push(f"HEAD:refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise PushFailed(Problem(remote, None, "", f"push failed: {exc.stderr.strip() or exc}")) from None
    except ValueError as exc:
        raise PushFailed(Problem(remote, None, "", f"no such remote: {exc}")) from None
    if not infos:
        raise PushFailed(Problem(remote, None, "", "push failed: git reported nothing (unreachable remote?)"))
    for info in infos:
        summary = info.summary.strip()
        if info.flags & (info.REMOTE_REJECTED | info.REMOTE_FAILURE) and ("declined" in summary or "protected" in summary):
            # declined by the server (a hook, a protected branch): retrying cannot help
            raise PushFailed(Problem(remote, None, "", f"the remote refused the push to {branch}: {info.summary.strip()}; "
                                     "nothing was pushed"))
        if info.flags & (info.REJECTED | info.REMOTE_REJECTED | info.REMOTE_FAILURE):
            return False, summary  # not a fast-forward, or lost a ref-lock race: fetch, rebase, retry
        if info.flags & info.ERROR:
            raise PushFailed(Problem(remote, None, "", f"push to {branch} failed: {info.summary.strip()}"))
    return True, infos[0].summary.strip()


def behind(repo: git.Repo, remote: str, branch: str) -> int:
    """How many commits ``remote/branch`` has that this clone's HEAD does not, after a fetch
    (0 when the remote cannot be reached: the push reports that)."""
    try:
        repo.remote(remote).fetch(branch)
        return int(repo.git.rev_list("--count", f"HEAD..{remote}/{branch}"))
    except (git.GitCommandError, ValueError):
        return 0


def push_with_retry(repo: git.Repo, remote: str, branch: str, reapply: Callable[[], str | None], attempts: int = 5,
                    log: Callable[[str], None] = lambda _m: None, author: Author | None = None) -> int:
    """Push HEAD to ``remote``/``branch``; on rejection fetch, rebase and ``reapply()``, then retry.

    ``reapply()`` runs with HEAD at the rebased base (our commit dropped) and must recreate the
    change as one commit (returning its sha, or None when upstream already has it: done). It
    raises to stop (e.g. a lost race); the branch is then left clean at the rebased base.
    Returns the number of push attempts made.
    """
    for attempt in range(1, attempts + 1):
        ok, summary = _push_once(repo, remote, branch)
        if ok:
            return attempt
        log(f"push to {remote}/{branch} rejected ({summary}); fetching and re-applying (attempt {attempt}/{attempts})")
        if attempt == attempts:
            break
        try:
            repo.remote(remote).fetch(branch)
        except git.GitCommandError as exc:
            raise PushFailed(Problem(remote, None, "", f"fetch failed: {exc.stderr.strip() or exc}")) from None
        ours = repo.head.commit
        base = ours.parents[0] if ours.parents else ours
        repo.git.reset("-q", "--hard", base.hexsha)
        try:
            with repo.git.custom_environment(**(author.env() if author else {})):
                repo.git.rebase("-q", f"{remote}/{branch}")
        except git.GitCommandError:
            repo.git.rebase("--abort")
            repo.git.reset("-q", "--hard", ours.hexsha)
            raise PushFailed(Problem(remote, None, "", f"your unpushed commits do not rebase cleanly onto {remote}/{branch}: "
                                     "rebase by hand, then re-run")) from None
        if reapply() is None:
            return attempt
    raise PushFailed(Problem(remote, None, "", f"push to {remote}/{branch} still rejected after {attempts} attempts"))


def files_at(root: Path, ref: str, folder: str) -> dict[str, bytes]:
    """Every file below ``root/folder`` as committed at ``ref`` (read from git objects, the work
    tree untouched), keyed by its path relative to that folder."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(Problem("git", None, "", "not in a git repository: diff compares against a commit (--base REF)")) from None
    try:
        commit = repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        raise GitError(Problem("git", None, "--base", f"expected a commit, branch or tag, found {ref!r} (unknown revision)")) from None
    prefix = Path(root).resolve().relative_to(Path(repo.working_tree_dir or root).resolve()).as_posix()
    parts = [p for p in (prefix if prefix != "." else "", folder) if p]
    tree = commit.tree
    try:
        for part in parts:
            tree = tree / part
    except KeyError:
        return {}
    base = "/".join(parts)
    return {Path(item.path).relative_to(base).as_posix(): item.data_stream.read()
            for item in tree.traverse() if isinstance(item, git.Blob)}


@dataclass(frozen=True)
class LoggedCommit:
    """A commit as :func:`trailer_log` reads it: its trailers and the files it changed."""

    sha: str
    trailers: dict[str, str]
    """Git's own trailer parse of the message's last paragraph (the last value of a repeated key)."""
    files: tuple[str, ...]
    """Paths it changed against its first parent, relative to the servespec root (none for a merge)."""


_RS, _US = "\x1e", "\x1f"


def trailer_log(repo: git.Repo, root: Path, trailer: str, value: str) -> list[LoggedCommit]:
    """Every commit reachable from HEAD with the trailer line ``trailer: value`` in its message,
    oldest first (topological order), with its trailers and changed files under ``root``."""
    out = git.cmd.Git(str(root)).log(
        "--topo-order", "--reverse", "--relative", "--name-only", "--no-renames", "--fixed-strings",
        f"--grep={trailer}: {value}", f"--format={_RS}%H{_US}%(trailers:only,unfold){_US}", "HEAD", "--")
    commits = []
    for chunk in out.split(_RS)[1:]:
        sha, trailers, files = chunk.split(_US, 2)
        parsed: dict[str, str] = {}
        for line in trailers.splitlines():
            key, sep, val = line.partition(": ")
            if sep:
                parsed[key.strip()] = val.strip()
        commits.append(LoggedCommit(sha, parsed, tuple(f for f in files.split("\n") if f)))
    return [c for c in commits if c.trailers.get(trailer) == value]


def blob_at(repo: git.Repo, root: Path, sha: str, path: str, limit: int = 1 << 20) -> bytes | None:
    """The bytes of ``path`` (relative to ``root``) at commit ``sha``; None when it is not a file
    there or larger than ``limit``."""
    prefix = Path(root).resolve().relative_to(Path(_workdir(repo)).resolve()).as_posix()
    full = path if prefix == "." else f"{prefix}/{path}"
    try:
        item = repo.commit(sha).tree / full
    except (KeyError, ValueError, git.BadName):
        return None
    if not isinstance(item, git.Blob) or item.size > limit:
        return None
    data: bytes = item.data_stream.read()
    return data


def propose_branch(repo: git.Repo, branch: str, start: str) -> str:
    """Move the commit just made (HEAD) to a new local branch ``branch`` and put the current
    branch back at ``start``: the change waits for review instead of landing. Returns its sha."""
    sha = repo.head.commit.hexsha
    repo.create_head(branch, sha)
    repo.git.reset("-q", "--hard", start)
    return sha


def ensure_no_branch(repo: git.Repo, branch: str) -> None:
    """Refuse (before anything is committed) when a local branch ``branch`` exists already."""
    if branch in [h.name for h in repo.heads]:
        raise GitError(Problem("git", None, "", f"a local branch {branch} exists already (an earlier proposal): merge or delete it "
                               f"(git branch -D {branch}), then re-run; nothing committed"))


def drop_branch(repo: git.Repo, branch: str) -> None:
    """Delete the local branch ``branch`` (a proposal whose push failed: a re-run redoes it)."""
    repo.delete_head(branch, force=True)


def push_branch(repo: git.Repo, remote: str, branch: str) -> None:
    """Push the local ``branch`` to a new branch of the same name on ``remote`` (never forced:
    an existing proposal there is refused, so nobody's review is overwritten)."""
    try:
        infos = repo.remote(remote).push(f"refs/heads/{branch}:refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise PushFailed(Problem(remote, None, "", f"push of {branch} failed: {exc.stderr.strip() or exc}")) from None
    bad = [i for i in infos if i.flags & (i.REJECTED | i.REMOTE_REJECTED | i.REMOTE_FAILURE | i.ERROR)]
    if not infos or bad:
        why = bad[0].summary.strip() if bad else "git reported nothing (unreachable remote?)"
        raise PushFailed(Problem(remote, None, "", f"push of {branch} refused: {why}; a proposal of that name exists: "
                                 "merge or delete it, then re-run"))
