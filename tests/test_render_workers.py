"""Large renders run one forked worker per environment (``render_workers.py``, ``forkjoin.py``):
the same bytes as one process, bad input in any environment still touches nothing, problems of
every environment reported together, a worker that dies is an error and nothing is written."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import servespec.render as render_module
import servespec.render_workers as workers
from conftest import copy_example
from servespec.errors import Problem, RenderError, SpecError
from servespec.forkjoin import Phases, run_two_phase
from servespec.project import Project
from servespec.render import read_tree, render_project, render_repo


@pytest.fixture()
def forked(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Make every render with a cold cache take the forked path; records each decision."""
    monkeypatch.setattr(workers, "MIN_WORK", 1)
    monkeypatch.setenv(workers.JOBS_VAR, "2")
    decisions: list[bool] = []
    real = workers.parallel_envs

    def spy(project: Project, cache: object) -> bool:
        decisions.append(real(project, cache))  # type: ignore[arg-type]
        return decisions[-1]

    monkeypatch.setattr("servespec.render.parallel_envs", spy)
    return decisions


def _tree(repo: Path) -> dict[str, dict[str, bytes]]:
    return {env: read_tree(repo / "rendered" / env) for env in ("dev", "staging", "prod")}


def test_forked_render_writes_what_one_process_computes(tmp_path: Path, forked: list[bool]) -> None:
    repo = copy_example(tmp_path / "repo")
    expected = render_project(Project.load(repo))
    result = render_repo(repo)
    assert forked == [True]
    assert _tree(repo) == {env: expected[env] for env in ("dev", "staging", "prod")}
    assert sorted(r.env for r in result.results) == ["dev", "prod", "staging"]
    again = render_repo(repo)  # the workers saved their caches: everything is a hit now
    assert forked == [True, False] and all(r.unchanged for r in again.results)


def test_problems_of_every_env_reported_together_and_nothing_written(tmp_path: Path, forked: list[bool],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    repo = copy_example(tmp_path / "repo")
    before = _tree(repo)
    real = render_module._render_env_refs

    def failing(project: Project, env: str, *args: object, **kwargs: object) -> object:
        if env in ("staging", "prod"):
            raise RenderError([Problem("specs/census_income.py", 3, "census-income: predictor", f"refused in {env}"),
                               Problem("", None, "delivery", "a problem of no file")])
        return real(project, env, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module, "_render_env_refs", failing)
    with pytest.raises(RenderError) as err:
        render_repo(repo)
    assert forked == [True]
    assert [str(p) for p in err.value.problems] == [
        "specs/census_income.py:3: census-income: predictor: refused in prod",
        "env prod: delivery: a problem of no file",
        "specs/census_income.py:3: census-income: predictor: refused in staging",
        "env staging: delivery: a problem of no file",
    ]
    assert _tree(repo) == before  # dev rendered fine, but nothing was written


def test_an_error_in_a_worker_is_raised_and_nothing_written(tmp_path: Path, forked: list[bool]) -> None:
    repo = copy_example(tmp_path / "repo")
    before = _tree(repo)
    path = repo / "overlays" / "staging.yaml"
    path.write_text(path.read_text().replace("models:\n", "models:\n  nosuch-model:\n    minReplicas: 1\n", 1))
    with pytest.raises(SpecError, match=r"overlays/staging.yaml:\d+: models.nosuch-model: unknown model \(declared: census-income"):
        render_repo(repo)
    assert forked == [True]
    assert _tree(repo) == before


def test_one_process_when_the_cache_holds_most_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = copy_example(tmp_path / "repo")
    monkeypatch.setenv(workers.JOBS_VAR, "2")
    project = Project.load(repo)
    from servespec.cache.render import RenderCache
    assert workers.parallel_envs(project, RenderCache(repo)) is False  # 5 models x 3 envs < MIN_WORK
    monkeypatch.setattr(workers, "MIN_WORK", 1)
    assert workers.parallel_envs(project, RenderCache(repo)) is True
    monkeypatch.setenv(workers.JOBS_VAR, "1")
    assert workers.parallel_envs(project, RenderCache(repo)) is False


@pytest.mark.parametrize(("raw", "want"), [("1", 1), ("3", 3), ("0", os.cpu_count() or 1), ("x", os.cpu_count() or 1), ("", os.cpu_count() or 1)])
def test_jobs_from_the_environment(raw: str, want: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(workers.JOBS_VAR, raw)
    assert workers.jobs() == want


def test_two_phase_commits_only_when_every_worker_computed(tmp_path: Path) -> None:
    def compute(n: int) -> int:
        return n * 10

    def commit(n: int) -> str:
        (tmp_path / f"done-{n}").write_text("x")
        return f"wrote {n}"

    computed, committed = run_two_phase([1, 2, 3], Phases(compute, commit))
    assert computed == [10, 20, 30] and committed == ["wrote 1", "wrote 2", "wrote 3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done-1", "done-2", "done-3"]

    declined = run_two_phase([4, 5], Phases(compute, commit, lambda values: sum(values) < 50))
    assert declined == ([40, 50], None)
    assert not (tmp_path / "done-4").exists()


def test_two_phase_raises_a_workers_exception_and_commits_nothing(tmp_path: Path) -> None:
    def compute(n: int) -> int:
        if n == 2:
            raise ValueError(f"bad item {n}")
        return n

    with pytest.raises(ValueError, match="bad item 2"):
        run_two_phase([1, 2, 3], Phases(compute, lambda n: (tmp_path / f"done-{n}").write_text("x")))
    assert list(tmp_path.iterdir()) == []


def test_a_worker_that_dies_is_an_error(tmp_path: Path) -> None:
    def compute(n: int) -> int:
        if n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return n

    with pytest.raises(RuntimeError, match=r"a render worker ended without reporting \(killed, or out of memory\)"):
        run_two_phase([1, 2], Phases(compute, lambda n: (tmp_path / f"done-{n}").write_text("x")))
    assert list(tmp_path.iterdir()) == []


def test_an_exception_that_cannot_travel_travels_as_text() -> None:
    class Local(Exception):  # defined in a function: cannot be pickled
        pass

    def compute(n: int) -> int:
        raise Local("only text survives")

    with pytest.raises(RuntimeError, match="only text survives"):
        run_two_phase([1], Phases(compute, lambda n: n))


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    """``servespec render | head -0``: no traceback from the no-op path or the full one."""
    import subprocess
    import sys

    repo = copy_example(tmp_path / "repo")
    env = {**os.environ, "SERVESPEC_CACHE_DIR": str(tmp_path / "cache")}
    codes = []
    for _ in range(2):  # the first render runs the full path, the second the fast no-op path
        proc = subprocess.Popen([sys.executable, "-m", "servespec", "render", "--root", str(repo)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        codes.append(proc.wait(timeout=60))
        assert err == ""
    # click ends its commands with 1 on EPIPE (its own handling); the fast path as if killed by SIGPIPE
    assert codes == [1, 141]
