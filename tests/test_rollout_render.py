"""A rollout commit holds exactly what a full render gives: after each ``release``/``promote``/
``rollback`` (models and LLMs) ``render --check`` finds nothing stale, while the command loaded
the project once, through the spec cache, and emitted only the model it moved (render cache hits)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import git, run_cli
from llm_repo import make_repo
from servespec.cache import render as render_cache
from servespec.project import Project

AUTHOR = "Rollout Bot <bot@servespec.invalid>"


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, "--allow-empty")


def _up_to_date(repo: Path) -> None:
    """Nothing stale, nothing left uncommitted."""
    check = run_cli("render", "--check", "--root", repo)
    assert (check.exit_code, check.stderr) == (0, ""), check.stdout
    assert check.stdout.startswith("rendered/ is up to date")
    assert git(repo, "status", "--porcelain") == ""


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts ``Project.load`` calls and, by name, the models the render cache emits (misses)."""
    calls: Counter[str] = Counter()
    load, emit = Project.load.__func__, render_cache.emit_model  # type: ignore[attr-defined]

    def counted_load(cls: type[Project], *args: object, **kwargs: object) -> Project:
        calls["Project.load"] += 1
        return load(cls, *args, **kwargs)  # type: ignore[no-any-return]

    def counted_emit(ctx: object, model: object) -> object:
        calls[f"emit {model.name}"] += 1  # type: ignore[attr-defined]
        return emit(ctx, model)  # type: ignore[arg-type]

    monkeypatch.setattr(Project, "load", classmethod(counted_load))
    monkeypatch.setattr(render_cache, "emit_model", counted_emit)
    return calls


STEPS = [
    ("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2"),
    ("promote", "census-income", "--env", "prod", "--skip-gates"),
    ("rollback", "census-income", "--env", "prod"),
    ("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v3"),
    ("promote", "census-income", "--env", "prod", "--skip-gates", "--to", "100"),
]


def test_every_rollout_commit_renders_as_a_full_render(example_git_repo: Path, spies: Counter[str]) -> None:
    repo = example_git_repo
    assert run_cli("render", "--root", repo).exit_code == 0  # the caches, as a user's last render left them
    _commit(repo, "rendered")
    for step in STEPS:
        spies.clear()
        res = run_cli(*step, "--root", repo, "--author", AUTHOR)
        assert res.exit_code == 0, res.stderr
        assert res.stdout.startswith("[")  # committed
        assert spies == {"Project.load": 1, "emit census-income": 1}, step  # loaded once; every other model a cache hit
        _up_to_date(repo)
    assert "canaryTrafficPercent" not in (repo / "rendered/prod/models/census-income/inferenceservice.yaml").read_text()


def test_a_rollout_commit_carries_no_unrelated_drift(example_git_repo: Path) -> None:
    """A spec edited but not rendered stays unrendered in the rollout's commit (its own change)."""
    repo = example_git_repo
    spec = repo / "specs/fraud_detector.py"
    spec.write_text(spec.read_text().replace("max_replicas=6", "max_replicas=7"))
    assert "max_replicas=7" in spec.read_text()
    _commit(repo, "fraud-detector: 7 replicas, not rendered yet")
    res = run_cli(*STEPS[0], "--root", repo, "--author", AUTHOR)
    assert res.exit_code == 0, res.stderr
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "overlays/prod.rollout.yaml", "rendered/prod/models/census-income/inferenceservice.yaml"]
    check = run_cli("render", "--check", "--root", repo)
    assert check.exit_code == 1 and "rendered/prod: stale" in check.stderr  # the drift, still to render


def test_every_llm_rollout_commit_renders_as_a_full_render(tmp_path: Path, spies: Counter[str]) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "initial")
    candidate = "hf://Qwen/Qwen2.5-1.5B-Instruct"
    for step in [("release", "chat", "--env", "prod", "--storage-uri", candidate), ("promote", "chat", "--env", "prod", "--skip-gates"),
                 ("rollback", "chat", "--env", "prod")]:
        spies.clear()
        res = run_cli(*step, "--root", repo, "--author", AUTHOR)
        assert res.exit_code == 0, res.stderr
        assert res.stdout.startswith("[")
        assert spies == {"Project.load": 1}, step
        _up_to_date(repo)
