"""Rollout commits pushed to real remotes: a bare repo over file://, one served by `git daemon`,
and two promoters racing on the same remote (both land, or one is refused cleanly)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import GIT_ENV, git, run_cli

SERVESPEC = str(Path(sys.executable).parent / "servespec")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def git_daemon(bare_remote: Path):
    """``git daemon`` serving the bare remote's folder on 127.0.0.1 (stopped by the test)."""
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", f"--base-path={bare_remote.parent}",
         "--listen=127.0.0.1", f"--port={port}", "--reuseaddr", "--informative-errors", str(bare_remote.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV})
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "git daemon did not start"
                time.sleep(0.02)
        yield f"git://127.0.0.1:{port}/{bare_remote.name}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def clone(url: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True, env={**os.environ, **GIT_ENV}, capture_output=True)
    return dest


def remote_log(remote: Path) -> list[str]:
    return git(remote, "log", "--format=%s", "main").splitlines()


def remote_state(remote: Path, env: str = "prod") -> dict:
    return yaml.safe_load(git(remote, "show", f"main:overlays/{env}.rollout.yaml"))["models"]


def cli(repo: Path, *args: str):
    # one author per clone: two promoters in the same second must not make byte-identical commits
    return run_cli(*args, "--root", repo, "--author", f"{repo.name} <{repo.name}@servespec.invalid>")


@pytest.mark.parametrize("transport", ["file", pytest.param("daemon", marks=pytest.mark.slow)])
def test_rejected_push_is_rebased_and_reapplied(request: pytest.FixtureRequest, bare_remote: Path, tmp_path: Path, transport: str) -> None:
    url = f"file://{bare_remote}" if transport == "file" else request.getfixturevalue("git_daemon")
    a, b = clone(url, tmp_path / "a"), clone(url, tmp_path / "b")
    res = cli(a, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--push")
    assert res.exit_code == 0, res.stderr
    assert "pushed (1 attempt)" in res.stdout
    # b is behind: its push is rejected, fetched, rebased, the release re-applied and pushed
    res = cli(b, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2", "--push")
    assert res.exit_code == 0, res.stderr
    assert "rejected" in res.stderr and "pushed (2 attempts)" in res.stdout
    log = remote_log(bare_remote)
    assert log[:2] == ["release(prod/sklearn-iris): gs://bucket/iris/v2 at 10% (step 1/4)",
                       "release(prod/census-income): s3://census-income/v2 at 10% (step 1/4)"]
    state = remote_state(bare_remote)
    assert set(state) == {"census-income", "sklearn-iris"}  # no lost update
    assert git(b, "rev-parse", "HEAD") == git(bare_remote, "rev-parse", "main")
    assert git(b, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(b, "show", "--name-only", "--format=", "HEAD").split() == [
        "overlays/prod.rollout.yaml", "rendered/prod/models/sklearn-iris/inferenceservice.yaml"]
    assert run_cli("render", "--check", "--root", b).exit_code == 0


def test_same_model_race_is_refused_cleanly(bare_remote: Path, tmp_path: Path) -> None:
    url = f"file://{bare_remote}"
    a = clone(url, tmp_path / "a")
    assert cli(a, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--push").exit_code == 0
    b = clone(url, tmp_path / "b")
    assert cli(a, "promote", "census-income", "--env", "prod", "--skip-gates", "--push").exit_code == 0
    res = cli(b, "promote", "census-income", "--env", "prod", "--skip-gates", "--push")
    assert res.exit_code == 1
    assert "prod/census-income changed upstream while this promote ran: now canary 25% s3://census-income/v2" in res.stderr
    assert "expected canary 10% s3://census-income/v2" in res.stderr
    assert [s for s in remote_log(bare_remote) if s.startswith("promote")] == ["promote(prod/census-income): 10% -> 25% (step 2/4)"]
    assert git(b, "rev-parse", "HEAD") == git(bare_remote, "rev-parse", "main")  # left clean at upstream
    assert git(b, "status", "--porcelain", "--untracked-files=no") == ""


def test_push_to_missing_remote_is_a_clear_error(example_git_repo: Path, tmp_path: Path) -> None:
    git(example_git_repo, "remote", "add", "origin", f"file://{tmp_path}/missing.git")
    res = cli(example_git_repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--push")
    assert res.exit_code == 2
    assert "origin: push failed:" in res.stderr and "does not appear to be a git repository" in res.stderr
    before = git(example_git_repo, "rev-parse", "HEAD")
    assert res.stderr.endswith(f"servespec: error: the local commit was undone (HEAD is back at {before[:10]}): fix the cause and re-run the command\n")
    assert git(example_git_repo, "log", "--format=%s").splitlines() == ["initial"]
    assert git(example_git_repo, "status", "--porcelain") == ""
    # once the remote exists, re-running the same command pushes the release
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(tmp_path / "missing.git"))
    res = cli(example_git_repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--push")
    assert res.exit_code == 0, res.stderr
    assert remote_log(tmp_path / "missing.git")[0] == "release(prod/census-income): s3://census-income/v2 at 10% (step 1/4)"


def test_push_to_unknown_remote_commits_nothing(example_git_repo: Path) -> None:
    res = cli(example_git_repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2",
              "--push", "--remote", "upstream")
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: --remote: no such remote 'upstream' (remotes: none); nothing committed\n"
    assert git(example_git_repo, "log", "--format=%s").splitlines() == ["initial"]
    assert git(example_git_repo, "status", "--porcelain") == ""


def _spawn(repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([SERVESPEC, *args, "--root", str(repo), "--author", f"{repo.name} <{repo.name}@servespec.invalid>", "--push"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV})


@pytest.mark.slow
def test_two_promoters_racing_over_git_daemon(git_daemon: str, bare_remote: Path, tmp_path: Path) -> None:
    a, b = clone(git_daemon, tmp_path / "a"), clone(git_daemon, tmp_path / "b")
    # different models at the same time: both land, whoever loses the race re-applies
    pa = _spawn(a, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    pb = _spawn(b, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2")
    outs = [p.communicate(timeout=60) for p in (pa, pb)]
    assert [pa.returncode, pb.returncode] == [0, 0], outs
    assert set(remote_state(bare_remote)) == {"census-income", "sklearn-iris"}
    # the same model at the same time: exactly one promote lands, the other is refused cleanly
    for repo in (a, b):
        git(repo, "pull", "-q", "--ff-only")
    pa = _spawn(a, "promote", "census-income", "--env", "prod", "--skip-gates")
    pb = _spawn(b, "promote", "census-income", "--env", "prod", "--skip-gates")
    outs = [p.communicate(timeout=60) for p in (pa, pb)]
    codes = sorted([pa.returncode, pb.returncode])
    assert codes == [0, 1], outs
    loser = outs[[pa.returncode, pb.returncode].index(1)]
    assert "changed upstream while this promote ran" in loser[1]
    promotes = [s for s in remote_log(bare_remote) if s.startswith("promote")]
    assert promotes == ["promote(prod/census-income): 10% -> 25% (step 2/4)"]
    assert remote_state(bare_remote)["census-income"]["traffic"] == 25
    for repo in (a, b):
        assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
