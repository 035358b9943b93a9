"""Nothing under overlays/ is skipped without a word (issue 11, class 8), and rollout commits take
only what is committed (class 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, run_cli
from servespec.render import read_tree as read_tree_bytes


@pytest.mark.parametrize(("name", "message"), [
    ("QA.yaml", "overlays/QA.yaml: not an environment: expected a lower-case DNS label as its name, found 'QA'"),
    ("a b.yaml", "overlays/a b.yaml: not an environment: expected a lower-case DNS label as its name, found 'a b'"),
    ("qa.yml", "overlays/qa.yml: not taken: overlays end in .yaml, found .yml (rename it to qa.yaml)"),
    ("notes.txt", "overlays/notes.txt: not an overlay: expected <env>.yaml, a folder <env>/ or <env>.rollout.yaml"),
    ("qa.rollout.yaml", "overlays/qa.rollout.yaml: rollout state of an unknown environment 'qa' (known: dev, prod, staging)"),
])
def test_a_file_that_is_not_an_environment_is_reported(example_repo: Path, name: str, message: str) -> None:
    (example_repo / "overlays" / name).write_text("namespace: x\n")
    before = read_tree_bytes(example_repo / "rendered")
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert f"servespec: error: {message}" in res.stderr.splitlines()
    assert "Traceback" not in res.stderr
    assert read_tree_bytes(example_repo / "rendered") == before


def test_a_file_beside_a_same_named_folder_is_reported(example_repo: Path) -> None:
    (example_repo / "overlays" / "dev").mkdir()
    (example_repo / "overlays" / "dev" / "extra.yaml").write_text("createNamespace: true\n")
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert "servespec: error: overlays/dev/: environment 'dev' is both overlays/dev.yaml and this folder: keep one" in res.stderr


def test_documentation_and_dotfiles_are_fine(example_repo: Path) -> None:
    (example_repo / "overlays" / "README.md").write_text("# envs\n")
    (example_repo / "overlays" / ".keep").write_text("")
    assert run_cli("render", "--check", "--root", example_repo).exit_code == 0


@pytest.mark.parametrize("ignored", [False, True])
def test_release_refuses_an_uncommitted_spec_file(example_git_repo: Path, ignored: bool) -> None:
    repo = example_git_repo
    spec = repo / "specs" / "laptop_only.py"
    spec.write_text((repo / "specs" / "sklearn_iris.py").read_text().replace('name="sklearn-iris"', 'name="laptop-only"'))
    if ignored:
        (repo / ".git" / "info" / "exclude").write_text("specs/laptop_only.py\n")
    head = git(repo, "rev-parse", "HEAD")
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--root", repo)
    assert res.exit_code == 2
    kind = "ignored" if ignored else "untracked"
    assert (f"files that change the render are not committed (specs/laptop_only.py ({kind})): commit or remove them first; "
            "a rollout commit must render the same on any clone") in res.stderr
    assert git(repo, "rev-parse", "HEAD") == head
