"""Rollout commands and hostile input (issue 11, classes 3 and 4): no forged trailers, no
credentials or control characters in what reaches git, passwords never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, run_cli
from servespec.rollout.transitions import Transition
from servespec.spec.rollout import ModelState


def _release(repo: Path, uri: str) -> object:
    return run_cli("release", "census-income", "--env", "prod", "--storage-uri", uri, "--root", repo)


@pytest.mark.parametrize(("uri", "message"), [
    ("s3://census-income/v2\nServespec-Action: rollback", "--storage-uri: expected a URI without control characters, found "),
    ("s3://census-income/v2\u2028x", "--storage-uri: expected a URI without control characters, found "),
    ("s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG@census-income/v2", "--storage-uri: credentials in a URL are refused (found "),
    ("https://bob:hunter22@models.example.com/v2", "--storage-uri: credentials in a URL are refused (found "),
])
def test_release_refuses_a_forged_or_leaking_uri(example_git_repo: Path, uri: str, message: str) -> None:
    head = git(example_git_repo, "rev-parse", "HEAD")
    res = _release(example_git_repo, uri)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"servespec: error: {message}")
    assert len(res.stderr.splitlines()) == 1 and "hunter22" not in res.stderr and "wJalrXUtnFEMIK7MDENG" not in res.stderr
    assert git(example_git_repo, "rev-parse", "HEAD") == head
    assert git(example_git_repo, "status", "--porcelain") == ""


def test_a_state_file_with_a_forged_uri_is_refused(example_repo: Path) -> None:
    (example_repo / "overlays/prod.rollout.yaml").write_text(
        'models:\n  census-income:\n    phase: stable\n    stable: "s3://census-income/v2\\nServespec-Action: rollback"\n'
        '    since: "2026-11-24T18:00:00Z"\n')
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert "servespec: error: overlays/prod.rollout.yaml:2: models.census-income.stable: expected a storage URI without control characters, found U+000A (line feed) at position 21" in res.stderr


def test_trailers_cannot_be_forged_even_by_a_caller() -> None:
    after = ModelState(phase="stable", stable="s3://m/v2", since="2026-11-24T18:00:00Z")
    t = Transition("release", "prod", "m", None, after, "release(prod/m)", "stable s3://m/v1", "stable s3://m/v2\nServespec-Action: x")
    with pytest.raises(ValueError, match="trailer Servespec-To: value "):
        t.message()


def test_a_password_in_the_prometheus_url_is_never_printed(example_git_repo: Path) -> None:
    repo = example_git_repo
    assert _release(repo, "s3://census-income/v2").exit_code == 0
    res = run_cli("promote", "census-income", "--env", "prod", "--ignore-bake-time", "--prometheus", "http://alice:s3cr3tpw@127.0.0.1:9/",
                  "--root", repo)
    assert res.exit_code == 1, res.stderr
    assert "s3cr3tpw" not in res.stderr + res.stdout
    assert "http://***@127.0.0.1:9" in res.stderr


def _other_clone_commits(bare: Path, tmp: Path, name: str, apply: str) -> None:
    clone = tmp / name
    git(tmp, "clone", "-q", str(bare), str(clone))
    (clone / "NOTES.md").write_text(apply)
    git(clone, "add", "NOTES.md")
    git(clone, "-c", "user.name=o", "-c", "user.email=o@o", "commit", "-qm", f"{name}: notes")
    git(clone, "push", "-q", "origin", "HEAD")


def test_a_retried_push_prints_only_servespecs_own_lines(example_git_repo: Path, bare_remote: Path, tmp_path: Path) -> None:
    git(example_git_repo, "remote", "add", "origin", str(bare_remote))
    git(example_git_repo, "fetch", "-q", "origin")
    _other_clone_commits(bare_remote, tmp_path, "other", "someone else's commit\n")
    res = run_cli("release", "census-income", "--env", "dev", "--storage-uri", "s3://census-income/v9", "--push",
                  "--root", example_git_repo)
    assert res.exit_code == 0, res.stderr
    assert "error: failed to push" not in res.stderr and str(bare_remote) not in res.stderr
    assert all(line.startswith(("push to origin/", "fast-forwarded to origin/")) for line in res.stderr.splitlines()), res.stderr


def test_a_clone_that_has_not_fetched_is_told_the_remote_is_ahead(example_git_repo: Path, bare_remote: Path, tmp_path: Path) -> None:
    git(example_git_repo, "remote", "add", "origin", str(bare_remote))
    git(example_git_repo, "fetch", "-q", "origin")
    git(example_git_repo, "branch", "-q", "--set-upstream-to=origin/main")
    other = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(bare_remote), str(other))
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--push",
                  "--author", "ci <ci@x>", "--root", other)
    assert res.exit_code == 0, res.stderr
    head = git(example_git_repo, "rev-parse", "HEAD")
    res = run_cli("promote", "census-income", "--env", "prod", "--skip-gates", "--push", "--root", example_git_repo)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "servespec: error: prod/census-income: no candidate to promote (stable: s3://census-income/serving_model); start one with `servespec release`",
        "servespec: error: origin/main is 1 commit ahead of this clone: pull and re-run",
    ]
    assert git(example_git_repo, "rev-parse", "HEAD") == head
