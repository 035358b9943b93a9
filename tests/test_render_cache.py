"""The render cache never changes the output: after any sequence of edits, a cached render
writes exactly what a cold render (no cache) computes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import copy_example, run_cli
from servespec.project import Project
from servespec.render import read_tree, render_project
from servespec.cache.render import RenderCache


def _sub(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    path.write_text(text.replace(old, new, 1) if old in text else text.replace(new, old, 1))


EDITS = {
    "model-replicas": lambda r: _sub(r / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7"),
    "model-annotation": lambda r: _sub(r / "specs/census_income.py", '"prometheus.io/scrape": "true",', '"prometheus.io/scrape": "false",'),
    "overlay-defaults": lambda r: _sub(r / "overlays/prod.yaml", "  minReplicas: 3\n  maxReplicas: 10\n", "  minReplicas: 4\n  maxReplicas: 10\n"),
    # a toggle (entry first: "models:\n" is always there); not sklearn-iris, which "delete-model" removes
    "overlay-disable": lambda r: _sub(r / "overlays/staging.yaml", "models:\n  fraud-detector: {enabled: false}\n", "models:\n"),
    "overlay-monitoring": lambda r: _sub(r / "overlays/dev.yaml", "messageDumper: {enabled: true}", "messageDumper: {enabled: false}"),
    "add-model": lambda r: (r / "specs/extra.py").unlink() if (r / "specs/extra.py").exists() else (r / "specs/extra.py").write_text(
        "from servespec.spec import Model, Predictor, Resources\n"
        "EXTRA = Model(name='extra', predictor=Predictor(model_format='sklearn', storage_uri='gs://b/extra',\n"
        "    resources=Resources(limits={'cpu': '1', 'memory': '1Gi'})))\n"),
    "delete-model": lambda r: (r / "specs/sklearn_iris.py").rename(r / "specs/_sklearn_iris.py")
    if (r / "specs/sklearn_iris.py").exists() else (r / "specs/_sklearn_iris.py").rename(r / "specs/sklearn_iris.py"),
    "hand-edit-rendered": lambda r: (r / "rendered/prod/models/census-income/inferenceservice.yaml").write_text("edited: by hand\n"),
    "delete-rendered-env": lambda r: shutil.rmtree(r / "rendered/staging", ignore_errors=True),
    "stray-rendered-file": lambda r: (r / "rendered/dev/models/stray.yaml").write_text("kind: Stray\n"),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=5))
def test_cached_render_equals_cold_render_after_any_edits(tmp_path: Path, edits: list[str]) -> None:
    repo = copy_example(Path(tempfile.mkdtemp(dir=tmp_path)) / "repo")
    assert run_cli("render", "--root", repo).exit_code == 0  # fills the cache
    for edit in edits:
        EDITS[edit](repo)
        result = run_cli("render", "--root", repo)
        assert result.exit_code == 0, result.stderr
        cold = render_project(Project.load(repo), cache=None)
        on_disk = read_tree(repo / "rendered")
        assert on_disk == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}, edit
        assert run_cli("render", "--check", "--no-cache", "--root", repo).exit_code == 0


def test_cache_hits_skip_emitting(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second render emits no model at all; a change to one model emits only that one."""
    import servespec.cache.render as rc

    assert run_cli("render", "--root", example_repo).exit_code == 0
    emitted: list[str] = []
    real = rc.emit_model
    monkeypatch.setattr(rc, "emit_model", lambda ctx, model: emitted.append(f"{ctx.env.name}/{model.name}") or real(ctx, model))
    assert run_cli("render", "--root", example_repo).stdout.count("unchanged") == 3
    assert emitted == []
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert sorted(emitted) == ["dev/fraud-detector", "prod/fraud-detector", "staging/fraud-detector"]


def test_unreadable_cache_is_ignored(example_repo: Path) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    RenderCache(example_repo).path.write_bytes(b"not a pickle")
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0 and result.stdout.count("unchanged") == 3
