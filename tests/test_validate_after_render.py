"""A large render (one forked worker per env) keeps ``validate``'s results for the files it writes
(``validate/tree.record_rendered``): the validate right after it checks nothing again and reports,
to the byte, what a validate that reads and checks every file reports, bad objects, policy problems
and notes included; results for the user's schemas (``--crds``) are never taken from a render, nor
replaced by one; after a small render validate checks as before."""

from __future__ import annotations

from pathlib import Path

import pytest

import servespec.render_workers as workers
from conftest import CRDS, CliResult, run_cli
from servespec.validate.tree import rendered_files

ENVS = ("dev", "staging", "prod")
LEGACY = """namespace: kubeflow
kserveApi: serving.kubeflow.org/v1alpha2
models:
  fraud-detector: {enabled: false}
  sklearn-iris: {enabled: false}
  llama3-chat: {enabled: false}
  text-embedder: {enabled: false}
graphs:
  assistant: {enabled: false}
"""
"""An env whose InferenceService is checked against a hand-written schema: a note per file."""
BAD_EXTRAS = """extraManifests:
  - apiVersion: external-secrets.io/v1
    kind: ExternalSecret
    metadata: {name: typo}
    body:
      spec:
        refreshIntervall: 1h
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: creds}
    body:
      data: {url: "https://user:pass@example.com/x"}
"""


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _outcome(result: CliResult) -> tuple[int, str, str]:
    return result.exit_code, result.stdout, result.stderr


def _all_files(repo: Path) -> int:
    return sum(len(rendered_files(repo, env, False)) for env in ENVS)


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every render takes the forked path (a large render: one worker per env, which keeps the results)."""
    monkeypatch.setattr(workers, "MIN_WORK", 1)
    monkeypatch.setenv(workers.JOBS_VAR, "2")


def test_a_validate_after_a_render_reports_what_a_validate_from_scratch_does(example_repo: Path, checked: list[str],
                                                                            forked: None) -> None:
    _edit(example_repo / "overlays/prod.yaml", "extraManifests:\n", BAD_EXTRAS)
    (example_repo / "overlays/legacy.yaml").write_text(LEGACY)
    for change in ("cold", "one model"):
        checked.clear()
        if change == "one model":
            _edit(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
        assert run_cli("render", "--root", example_repo).exit_code == 0
        after = _outcome(run_cli("validate", "--root", example_repo))
        assert checked == [], change  # every result was the render's workers'
        scratch = _outcome(run_cli("validate", "--no-cache", "--root", example_repo))
        assert after == scratch
        assert after[0] == 1 and [line.split(": ")[:2] for line in after[2].splitlines()] == [
            ["note", "rendered/legacy/models/census-income/inferenceservice.yaml"],
            ["servespec", "error"], ["servespec", "error"]]
        assert "ConfigMap creds: data.url: credentials in a URL are refused" in after[2]
        assert "ExternalSecret typo: spec: Additional properties are not allowed ('refreshIntervall' was unexpected)" in after[2]


def test_a_small_render_leaves_the_checks_to_validate(example_repo: Path, checked: list[str]) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert checked == []
    assert run_cli("validate", "--root", example_repo).exit_code == 0
    assert len(checked) == _all_files(example_repo)


def test_validate_with_crds_checks_what_a_render_wrote_and_keeps_its_own_results(example_repo: Path, checked: list[str],
                                                                                forked: None) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    checked.clear()
    assert run_cli("validate", "--crds", CRDS, "--root", example_repo).exit_code == 0
    assert len(checked) == _all_files(example_repo)  # the render's results are for the default schemas
    _edit(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    checked.clear()
    assert run_cli("validate", "--crds", CRDS, "--root", example_repo).exit_code == 0
    assert sorted(checked) == [f"{env}/models/fraud-detector/inferenceservice.yaml" for env in ("dev", "prod", "staging")]
    checked.clear()
    assert run_cli("validate", "--root", example_repo).exit_code == 0  # the tables were --crds's: all checked
    assert len(checked) == _all_files(example_repo)
