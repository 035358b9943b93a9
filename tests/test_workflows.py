"""GitHub Actions workflows of this repo and of `servespec init` repos: pinned, bounded, linted."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, git, run_cli

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow_repos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two git repos: a copy of this repo's .github/, and a fresh `servespec init` repo."""
    base = tmp_path_factory.mktemp("workflows")
    own = base / "own"
    shutil.copytree(REPO / ".github", own / ".github")
    new = base / "new"
    assert run_cli("init", new).exit_code == 0
    for repo in (own, new):
        git(repo, "init", "-q", "-b", "main")
    return [own, new]


def _workflows(repo: Path) -> list[Path]:
    return sorted((repo / ".github/workflows").glob("*.yml"))


def test_workflows_are_pinned_bounded_and_least_privilege(workflow_repos: list[Path]) -> None:
    names = [p.name for r in workflow_repos for p in _workflows(r)]
    assert names == ["ci.yml", "promote.yml", "servespec-promote.yml", "servespec.yml"]
    for repo in workflow_repos:
        for path in _workflows(repo):
            wf = yaml.safe_load(path.read_text())
            assert wf["permissions"] == {}, f"{path.name}: top-level permissions must be empty"
            assert "group" in wf["concurrency"], path.name
            for job in wf["jobs"].values():
                assert job["permissions"], f"{path.name}: every job names its permissions"
                assert job["timeout-minutes"] <= 30
                for step in job["steps"]:
                    if "uses" in step:
                        assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned by commit"
    promote = yaml.safe_load((workflow_repos[1] / ".github/workflows/servespec-promote.yml").read_text())
    assert set(promote[True]) == {"schedule", "workflow_dispatch"}  # YAML 1.1 reads `on:` as True
    run = promote["jobs"]["promote"]["steps"][-1]["run"]
    assert 'servespec promote --all --env "$ENV_NAME" --prometheus "$PROMETHEUS_URL" --push' in run
    assert promote["concurrency"]["cancel-in-progress"] is False


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return found


def test_zizmor_finds_nothing(workflow_repos: list[Path]) -> None:
    zizmor = _tool("zizmor")
    for repo in workflow_repos:
        proc = subprocess.run([zizmor, "--offline", "--no-progress", ".github/workflows"], cwd=repo,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No findings to report" in proc.stdout


def test_actionlint_finds_nothing(workflow_repos: list[Path]) -> None:
    actionlint = _tool("actionlint")
    for repo in workflow_repos:
        proc = subprocess.run([actionlint, "-no-color"], cwd=repo, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_can_fail(tmp_path: Path) -> None:
    actionlint = _tool("actionlint")
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/bad.yml").write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt.name }}\n")
    git(tmp_path, "init", "-q")
    proc = subprocess.run([actionlint, "-no-color"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'property "evnt" is not defined' in proc.stdout
