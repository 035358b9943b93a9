"""Release from a pipeline step: clone the GitOps repo, run ``servespec release``, push.

This is what the Kubeflow Pipelines component (``servespec.pipelines.component``) runs inside its
container; it needs no kfp, so it is tested and usable without it (any CI job can call it).

The commit contract is the CLI's: in the fresh clone the step runs what ``servespec release MODEL
--env E --storage-uri URI --push --remote origin --branch B`` runs (``rollout.apply.release``), so the change is exactly one commit (``overlays/<env>.rollout.yaml`` + the
re-rendered ``rendered/<env>/``) and a rejected push is fetched, rebased and retried exactly as on
a laptop. Every check that can fail runs before the push, and the push is the only write: bad
input (unknown model, unreachable repo, a push rejected for good) leaves the remote untouched.

Credentials never come from parameters. They come from the environment, where a Kubernetes
Secret puts them (``kfp.kubernetes.use_secret_as_env`` / ``use_secret_as_volume``):

- HTTPS: ``SERVESPEC_GIT_TOKEN`` (and optionally ``SERVESPEC_GIT_USERNAME``, default ``git``),
  handed to git by a ``GIT_ASKPASS`` script that reads the variable: the token is never written
  to disk, put in a URL or on a command line.
- SSH: ``SERVESPEC_GIT_SSH_KEY`` (path of the private key, e.g. a mounted Secret) and
  ``SERVESPEC_GIT_KNOWN_HOSTS`` (path of a known_hosts file; host keys are always checked).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit

from ..rollout import apply
from ..errors import GitError, Problem, ServespecError, UsageError
from ..gitcli import run_git
from ..gitrepo import resolve_author

__all__ = ["GitCredentials", "ReleaseResult", "release_via_git", "default_pr_branch", "run_step",
           "DEFAULT_PIPELINE_AUTHOR"]

DEFAULT_PIPELINE_AUTHOR = "servespec pipeline <servespec-pipeline@localhost.invalid>"
"""Author of release commits made from a pipeline unless the step's ``author`` says otherwise."""

_GIT_TIMEOUT = 300
"""Seconds any one git command may take (a hung remote fails the step instead of blocking it)."""

_ASKPASS = """#!/bin/sh
# GIT_ASKPASS for servespec: answers git's prompts from the environment (never from disk).
case "$1" in
  Username*) printf '%s\\n' "${SERVESPEC_GIT_USERNAME:-git}" ;;
  *) printf '%s\\n' "$SERVESPEC_GIT_TOKEN" ;;
esac
"""


@dataclass(frozen=True)
class GitCredentials:
    """How git authenticates to the GitOps remote (empty: no credentials, e.g. ``file://``)."""

    token: str | None = None
    username: str = "git"
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitCredentials:
        """Read ``SERVESPEC_GIT_TOKEN``/``_USERNAME``/``_SSH_KEY``/``_KNOWN_HOSTS``."""
        environ = os.environ if environ is None else environ
        key = environ.get("SERVESPEC_GIT_SSH_KEY") or None
        hosts = environ.get("SERVESPEC_GIT_KNOWN_HOSTS") or None
        return cls(token=environ.get("SERVESPEC_GIT_TOKEN") or None,
                   username=environ.get("SERVESPEC_GIT_USERNAME") or "git",
                   ssh_key_file=Path(key) if key else None,
                   known_hosts_file=Path(hosts) if hosts else None)

    def check(self) -> list[Problem]:
        problems = []
        if self.ssh_key_file is not None:
            if not self.ssh_key_file.is_file():
                problems.append(Problem("SERVESPEC_GIT_SSH_KEY", None, "", f"expected a private key file, found nothing at {self.ssh_key_file} (is the Secret mounted?)"))
            if self.known_hosts_file is None:
                problems.append(Problem("SERVESPEC_GIT_KNOWN_HOSTS", None, "", "expected the path of a known_hosts file next to SERVESPEC_GIT_SSH_KEY (host keys are always checked), found it unset"))
            elif not self.known_hosts_file.is_file():
                problems.append(Problem("SERVESPEC_GIT_KNOWN_HOSTS", None, "", f"expected a known_hosts file, found nothing at {self.known_hosts_file}"))
        return problems

    def git_env(self, scratch: Path) -> dict[str, str]:
        """Environment variables that make git (and the ``servespec release`` it runs) use these
        credentials and never prompt. ``scratch`` is a private folder for the helper files."""
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "60"}
        if self.token:
            askpass = scratch / "askpass.sh"
            askpass.write_text(_ASKPASS, encoding="utf-8")
            askpass.chmod(0o700)
            env.update(GIT_ASKPASS=str(askpass), SERVESPEC_GIT_TOKEN=self.token, SERVESPEC_GIT_USERNAME=self.username)
        if self.ssh_key_file is not None and self.known_hosts_file is not None:
            # A Secret volume is mounted 0644 by default and ssh refuses such a key: use a 0600 copy.
            key = scratch / "id_git"
            shutil.copyfile(self.ssh_key_file, key)
            key.chmod(0o600)
            env["GIT_SSH_COMMAND"] = " ".join(shlex.quote(p) for p in (
                "ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts_file}"))
        return env

    def redact(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text


@dataclass(frozen=True)
class ReleaseResult:
    """What a release step did."""

    commit: str
    """The release commit now at the tip of ``branch`` on the remote; "" when nothing changed."""
    branch: str
    """The remote branch: the target branch, or the new branch for a pull request."""
    subject: str
    """The commit's subject line (``release(prod/census-income): ... at 10% (step 1/4)``), or why nothing changed."""


def default_pr_branch(model: str, env: str, storage_uri: str) -> str:
    """A branch name for a pull request that is stable for the same release (re-running the step
    cannot open a second one): ``servespec/release-<env>-<model>-<8 hex of the URI>``."""
    digest = hashlib.sha256(storage_uri.encode("utf-8")).hexdigest()[:8]
    return f"servespec/release-{_slug(env)}-{_slug(model)}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def _git(args: list[str], *, cwd: Path | None, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_git(args, cwd=cwd, env=env, timeout=_GIT_TIMEOUT)


def _stderr(proc: subprocess.CompletedProcess[str], creds: GitCredentials) -> str:
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return creds.redact("; ".join(lines[-3:])) or f"git exited with {proc.returncode}"


def _check_inputs(repo_url: str, branch: str, model: str, env: str, storage_uri: str, target: str,
                  pull_request: bool, root_dir: str) -> list[Problem]:
    problems: list[Problem] = []

    def need(name: str, value: str) -> None:
        if not value or not value.strip():
            problems.append(Problem(name, None, "", "expected a value, found nothing"))

    for name, value in (("repo_url", repo_url), ("branch", branch), ("model", model), ("env", env), ("storage_uri", storage_uri)):
        need(name, value)
    if repo_url:
        parts = urlsplit(repo_url)
        if parts.password is not None or (parts.scheme in ("http", "https") and parts.username):
            problems.append(Problem("repo_url", None, "", "credentials in the repo URL are refused (they would be stored with the pipeline run): "
                                    "put the token in a Kubernetes Secret mounted as SERVESPEC_GIT_TOKEN"))
    for name, value in (("branch", branch), ("pr_branch", target if pull_request else "")):
        if value and subprocess.run(["git", "check-ref-format", "--branch", value], capture_output=True).returncode != 0:
            problems.append(Problem(name, None, "", f"expected a valid git branch name, found {value!r}"))
    if pull_request and target == branch:
        problems.append(Problem("pr_branch", None, "", f"expected a new branch for the pull request, found the target branch {branch!r} itself"))
    if root_dir and (Path(root_dir).is_absolute() or ".." in Path(root_dir).parts):
        problems.append(Problem("root_dir", None, "", f"expected a folder inside the repo (relative, no ..), found {root_dir!r}"))
    return problems


def release_via_git(repo_url: str, branch: str, model: str, env: str, storage_uri: str, *,
                    pull_request: bool = False, pr_branch: str = "", root_dir: str = "", author: str = "",
                    credentials: GitCredentials | None = None, log: Callable[[str], None] = print) -> ReleaseResult:
    """Clone ``branch`` of ``repo_url``, release ``storage_uri`` of ``model`` in ``env`` as one
    commit, and push it to ``branch`` (or, with ``pull_request``, to a new branch ``pr_branch``,
    default :func:`default_pr_branch`). Raises ``ServespecError`` (nothing pushed) on any problem.

    ``root_dir`` is the servespec repo inside the GitOps repo (default: its top). The clone is
    made in a temporary folder, removed afterwards; ``log`` receives progress lines.
    """
    creds = credentials if credentials is not None else GitCredentials.from_env()
    target = (pr_branch or default_pr_branch(model, env, storage_uri)) if pull_request else branch
    problems = _check_inputs(repo_url, branch, model, env, storage_uri, target, pull_request, root_dir) + creds.check()
    if problems:
        raise UsageError(problems)
    try:
        who = str(resolve_author(author or DEFAULT_PIPELINE_AUTHOR))
    except GitError as exc:
        raise UsageError([dataclasses.replace(p, file="author") for p in exc.problems]) from None

    with tempfile.TemporaryDirectory(prefix="servespec-release-") as tmp:
        scratch = Path(tmp)
        (scratch / "bin").mkdir(mode=0o700)
        git_env = creds.git_env(scratch / "bin")
        env_vars = {**os.environ, **git_env}
        clone = scratch / "repo"
        display = creds.redact(repo_url)

        log(f"cloning {display} (branch {branch})")
        proc = _git(["clone", "--quiet", "--single-branch", "--branch", branch, "--", repo_url, str(clone)], cwd=None, env=env_vars)
        if proc.returncode != 0:
            raise GitError(Problem(display, None, "", f"cannot clone branch {branch!r}: {_stderr(proc, creds)}"))
        root = clone / root_dir if root_dir else clone
        if not (root / "specs").is_dir() or not (root / "overlays").is_dir():
            raise UsageError(Problem(display, None, "root_dir", f"expected a servespec repo (specs/ and overlays/) at {root_dir or 'the top'} of branch {branch!r}, found none"))

        if pull_request:
            proc = _git(["ls-remote", "--heads", "origin", f"refs/heads/{target}"], cwd=clone, env=env_vars)
            if proc.returncode != 0:
                raise GitError(Problem(display, None, "", f"cannot list branches: {_stderr(proc, creds)}"))
            if proc.stdout.strip():
                raise UsageError(Problem(display, None, "pr_branch", f"branch {target!r} already exists on the remote "
                                         "(this release was already proposed?): pick another pr_branch or delete it"))
            _git(["checkout", "--quiet", "-b", target], cwd=clone, env=env_vars)

        log(f"servespec release {model} --env {env} --storage-uri {storage_uri} --push --remote origin --branch {target}")
        try:
            with _environ(git_env):
                out = apply.release(root, env, model, storage_uri, author=who, push=("origin", target),
                                    log=lambda line: log(creds.redact(line)))
        except ServespecError as exc:
            raise type(exc)([_redacted(p, creds) for p in exc.problems]) from None
        if out.transition is None or out.commit is None:
            return ReleaseResult("", "", f"{env}/{model}: {storage_uri} is already stable; nothing to commit")
        remote = _git(["ls-remote", "origin", f"refs/heads/{target}"], cwd=clone, env=env_vars).stdout.split()
        if not remote or remote[0] != out.commit:
            raise GitError(Problem(display, None, "", f"the release commit {out.commit[:12]} is not on branch {target!r} after the push"))
        return ReleaseResult(out.commit, target, out.transition.subject)


@contextlib.contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    """``os.environ`` plus ``extra`` for the git processes GitPython starts, restored afterwards."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _redacted(problem: Problem, creds: GitCredentials) -> Problem:
    return dataclasses.replace(problem, message=creds.redact(problem.message), file=creds.redact(problem.file))


def run_step(repo_url: str, branch: str, model: str, env: str, storage_uri: str, *, pull_request: bool = False,
             pr_branch: str = "", root_dir: str = "", author: str = "") -> tuple[str, str]:
    """The pipeline step: :func:`release_via_git` with credentials from the environment; on a
    problem print one line each (``servespec: error: ...``) and exit 1 or 2, failing the step
    without a traceback. Returns (commit, branch)."""
    try:
        result = release_via_git(repo_url, branch, model, env, storage_uri, pull_request=pull_request,
                                 pr_branch=pr_branch, root_dir=root_dir, author=author)
    except ServespecError as exc:
        for problem in exc.problems:
            print(f"servespec: error: {problem}", file=sys.stderr, flush=True)
        print("servespec: nothing was pushed; the GitOps repo is unchanged", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    if result.commit:
        print(f"pushed {result.commit[:12]} to {result.branch}: {result.subject}", flush=True)
        if pull_request:
            print(f"open a pull request from {result.branch} into {branch}", flush=True)
    else:
        print(f"nothing pushed: {result.subject}", flush=True)
    return result.commit, result.branch
