"""Shared fixtures: a copy of the example repo per test, an in-process CLI runner, git helpers."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
"""The servespec checkout (also the example GitOps repo)."""
CRDS = REPO.parent / "shared" / "crds"
"""Upstream CRDs used by ``validate --crds``."""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "servespec tests",
    "GIT_AUTHOR_EMAIL": "tests@servespec.invalid",
    "GIT_COMMITTER_NAME": "servespec tests",
    "GIT_COMMITTER_EMAIL": "tests@servespec.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True, scope="session")
def _session_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One schema cache for the whole session, no kubeconfig anywhere, no proxy for 127.0.0.1."""
    os.environ["SERVESPEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("servespec-cache"))
    os.environ["KUBECONFIG"] = "/nonexistent/kubeconfig"
    # Servers the tests start are on 127.0.0.1: never reach them through a proxy from the environment.
    for var in ("no_proxy", "NO_PROXY"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var, ""), "127.0.0.1", "localhost"]))


def real_system(argv: Sequence[str]) -> str | None:
    """The real system ``argv`` starts (Prometheus, promtool, ``git daemon``, a servespec process
    racing others, kfp's local runner), or None for a quick tool such as git or kubectl."""
    if not argv:
        return None
    name = Path(argv[0]).name
    if name in ("prometheus", "promtool", "servespec"):
        return name
    if name == "git" and argv[1:2] == ["daemon"]:
        return "git daemon"
    if any("kfp.dsl.executor_main" in a for a in argv):
        return "kfp's local runner"
    return None


@pytest.fixture(autouse=True)
def _real_systems_are_marked_slow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that starts a real system fails unless marked ``@pytest.mark.slow``: ``-m "not slow"`` stays fast."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess, "Popen", _GuardedPopen)
    yield


class _GuardedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` that refuses to start a real system (see :func:`real_system`)."""

    def __init__(self, args: object, *rest: object, **kwargs: object) -> None:
        if isinstance(args, (str, bytes, os.PathLike)):
            argv = shlex.split(os.fsdecode(args)) if kwargs.get("shell") else [os.fsdecode(args)]
        else:
            argv = [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in args]  # type: ignore[attr-defined]
        if what := real_system(argv):
            pytest.fail(f"this test starts {what}: mark it @pytest.mark.slow (pyproject.toml's marker)")
        super().__init__(args, *rest, **kwargs)  # type: ignore[arg-type]


@dataclass
class CliResult:
    """Exit code and captured output of one in-process CLI run."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path) -> CliResult:
    """Run ``servespec ARGS`` in-process (no subprocess), capturing output and exit code."""
    from servespec.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return CliResult(code, out.getvalue(), err.getvalue())


def copy_example(dest: Path, *, policy: bool = False) -> Path:
    """A copy of the example repo's specs/, overlays/ and rendered/ at ``dest``; without
    ``policy``, its promotion policy (requirements, windows, freezes, approvals, owners: the
    overlay lines from ``# promotion policy`` to ``# end of promotion policy``) is left out, so
    tests of the rollout mechanics can release anywhere at any time."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in ("specs", "overlays", "rendered"):
        if (REPO / part).exists():
            shutil.copytree(REPO / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    if not policy:
        for path in (dest / "overlays").glob("*.yaml"):
            path.write_text(without_policy(path.read_text()))
    return dest


def without_policy(text: str) -> str:
    """An overlay without the lines of its promotion policy blocks."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        inside = inside or line.strip().startswith("# promotion policy")
        if not inside:
            out.append(line)
        inside = inside and line.strip() != "# end of promotion policy"
    return "".join(out)


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A private copy of the example repo (no git)."""
    return copy_example(tmp_path / "repo")


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity; return stdout."""
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def bare_remote(example_git_repo: Path, tmp_path: Path) -> Path:
    """A bare repo holding the example repo's ``main``: the GitOps remote, over ``file://``."""
    remote = tmp_path / "srv" / "gitops.git"
    remote.parent.mkdir()
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(example_git_repo, "push", "-q", str(remote), "main")
    return remote


@pytest.fixture
def example_git_repo(example_repo: Path) -> Path:
    """The example repo copy as a git repository with one commit on ``main``."""
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "initial")
    return example_repo


@pytest.fixture(scope="session")
def llm_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping fake vLLM exporters, shared by the two LLM gate modules and stopped
    when the session ends (``test_llm_gates_prometheus.serve_llm_prometheus``)."""
    from test_llm_gates_prometheus import serve_llm_prometheus

    yield from serve_llm_prometheus(tmp_path_factory)


TESTDATA = Path(__file__).resolve().parent / "testdata"
"""Scenario folders: each a tiny servespec repo with a README.md and an expected.txt (tests/test_scenarios.py)."""


def copy_scenario(name: str, dest: Path) -> Path:
    """A copy of scenario ``name``'s repo (its specs/ and overlays/, without README.md and expected.txt) at ``dest``."""
    shutil.copytree(TESTDATA / name, dest, ignore=shutil.ignore_patterns("README.md", "expected.txt", "__pycache__"))
    return dest


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files checked in this process (by a render or a validate) rather than taken from an earlier
    result, as ``env/path`` (``validate/tree._check_file`` watched)."""
    import servespec.validate.tree as tree

    seen: list[str] = []
    real = tree._check_file

    def spy(shown: str, *args: object, **kwargs: object) -> object:
        seen.append(shown.removeprefix("rendered/"))
        return real(shown, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tree, "_check_file", spy)
    return seen
