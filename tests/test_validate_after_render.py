"""A large render (one forked worker per env) keeps ``validate``'s results for the files it writes
(``validate/tree.record_rendered``) and each env's whole verdict (``cache/lastvalidate.py``): the
validate right after it only proves the trees and reports, to the byte, what a validate that reads
and checks every file reports, bad objects, policy problems and notes included; results for the
user's schemas (``--crds``) are never taken from a render, nor replaced by one; after a small
render validate checks as before. A validate keeps its verdicts too: the next one of the same
trees, inputs and settings is answered by the CLI's fast path, and any change to what decides a
verdict makes the real command run again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import servespec.render_workers as workers
import servespec.validate
from conftest import CRDS, CliResult, git, run_cli
from servespec.cache import fingerprint
from servespec.cache.fingerprint import repo_dir
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


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per ``validate`` the real command ran (not answered by the fast path)."""
    runs: list[int] = []
    real = servespec.validate.validate_repo

    def spy(*args: object, **kwargs: object) -> object:
        runs.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(servespec.validate, "validate_repo", spy)
    return runs


def test_a_validate_after_a_render_reports_what_a_validate_from_scratch_does(example_repo: Path, checked: list[str],
                                                                            forked: None, validated: list[int]) -> None:
    _edit(example_repo / "overlays/prod.yaml", "extraManifests:\n", BAD_EXTRAS)
    (example_repo / "overlays/legacy.yaml").write_text(LEGACY)
    for change in ("cold", "one model"):
        checked.clear()
        if change == "one model":
            _edit(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
        assert run_cli("render", "--root", example_repo).exit_code == 0
        after = _outcome(run_cli("validate", "--root", example_repo))
        assert checked == [] and validated == [], change  # the render's workers' verdicts: the trees only proven
        scratch = _outcome(run_cli("validate", "--no-cache", "--root", example_repo))
        validated.clear()
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


def _changes(repo: Path, crds: Path) -> dict[str, object]:
    """Each change to something a verdict depends on, made by calling its value."""
    isvc = repo / "rendered/prod/models/census-income/inferenceservice.yaml"
    return {
        "a rendered file edited, same size": lambda: isvc.write_text(isvc.read_text().replace("census-income", "census-incomf", 1)),
        "a rendered file added": lambda: (repo / "rendered/dev/models/census-income/extra.yaml").write_text("kind: ConfigMap\n"),
        "a rendered file removed": lambda: (repo / "rendered/staging/models/census-income/inferenceservice.yaml").unlink(),
        "an overlay edited": lambda: _edit(repo / "overlays/dev.yaml", "\n", "\n# reviewed\n"),
        "rendered/ at --base moved": lambda: (git(repo, "rm", "-q", "--cached", "rendered/dev/kustomization.yaml"),
                                              git(repo, "commit", "-qm", "HEAD's rendered/ moves, the files stay")),
        "a CRD file touched": lambda: os.utime(next(crds.rglob("*.yaml")), ns=(1, 1)),
        "servespec's code changed": lambda: setattr(fingerprint, "_CODE", "another version"),
        "a verdict damaged": lambda: (Path(repo_dir(str(repo.resolve()))) / "verdict-prod").write_bytes(b"damaged"),
    }


@pytest.mark.parametrize("change", ["a rendered file edited, same size", "a rendered file added", "a rendered file removed",
                                    "an overlay edited", "rendered/ at --base moved", "a CRD file touched",
                                    "servespec's code changed", "a verdict damaged"])
def test_a_kept_verdict_answers_until_anything_it_depends_on_changes(example_git_repo: Path, tmp_path: Path, validated: list[int],
                                                                     monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    repo = example_git_repo
    initial = git(repo, "rev-parse", "HEAD").strip()
    crds = tmp_path / "crds"
    shutil.copytree(CRDS, crds)
    monkeypatch.setattr(fingerprint, "_CODE", fingerprint.code_digest())
    _edit(repo / "overlays/prod.yaml", "extraManifests:\n", BAD_EXTRAS)
    (repo / "overlays/legacy.yaml").write_text(LEGACY)
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "rendered")
    for args in (("validate",), ("validate", "--crds", crds), ("validate", "--env", "prod", "--env", "legacy", "--base", initial)):
        first = _outcome(run_cli(*args, "--root", repo))
        assert len(validated) == 1, args
        assert first[0] == 1 and first[2].count("note: ") == 1 and "servespec: error: " in first[2]
        assert _outcome(run_cli(*args, "--root", repo)) == first and len(validated) == 1, args  # answered from the verdict
        validated.clear()
    _changes(repo, crds)[change]()  # type: ignore[operator]
    for args in (("validate",), ("validate", "--crds", crds), ("validate", "--env", "prod", "--env", "legacy", "--base", initial)):
        again = _outcome(run_cli(*args, "--root", repo))
        scratch = _outcome(run_cli(*args, "--no-cache", "--root", repo))
        assert again == scratch, (change, args)
        ran = len(validated) - 1  # the --no-cache run is always real
        validated.clear()
        every_env = "--env" not in args
        affected = {"a CRD file touched": "--crds" in args, "rendered/ at --base moved": "--base" not in args,
                    "a rendered file added": every_env, "a rendered file removed": every_env}.get(change, True)
        assert ran == (1 if affected else 0), (change, args)


def test_verdicts_are_kept_for_the_most_recent_settings(example_git_repo: Path, validated: list[int]) -> None:
    from servespec.cache import lastvalidate

    repo = example_git_repo
    assert run_cli("render", "--root", repo).exit_code == 0
    bases = ["HEAD", *(f"HEAD~0{'^{commit}' * n}" for n in range(1, lastvalidate.SETTINGS_KEPT + 1))]  # one commit, many spellings
    for base in bases:
        assert run_cli("validate", "--env", "dev", "--base", base, "--root", repo).exit_code == 0
    assert len(validated) == len(bases)
    for base in bases[1:]:  # the most recent ones still answer
        assert run_cli("validate", "--env", "dev", "--base", base, "--root", repo).exit_code == 0
    assert len(validated) == len(bases)
    assert run_cli("validate", "--env", "dev", "--root", repo).exit_code == 0  # HEAD's was the oldest: dropped
    assert len(validated) == len(bases) + 1
