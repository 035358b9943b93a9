"""`servespec diff` on real git history: a model added, changed and removed, a secret that must not leak."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from conftest import copy_example, git, run_cli
from servespec.diff import REDACTED, diff_project
from servespec.diff_markdown import format_markdown

NEW_MODEL = '''from servespec.spec import Model, Predictor, Resources

NEW_MODEL = Model(
    name="new-model",
    predictor=Predictor(
        model_format="sklearn",
        storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
        resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}),
    ),
)
'''
OLD_SECRET, NEW_SECRET = "minio123", "s3cr3t-rotated-value"


def _second_commit(repo: Path) -> None:
    (repo / "specs/new_model.py").write_text(NEW_MODEL)
    (repo / "specs/sklearn_iris.py").unlink()
    spec = repo / "specs/census_income.py"
    spec.write_text(spec.read_text().replace('runtime_version="2.5.1"', 'runtime_version="2.6.0"'))
    dev = repo / "overlays/dev.yaml"
    dev.write_text(dev.read_text().replace(f"secretAccessKey: {OLD_SECRET}", f"secretAccessKey: {NEW_SECRET}"))
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add new-model, bump census-income, drop sklearn-iris, rotate a key")


def _secret_forms() -> list[str]:
    return [s for v in (OLD_SECRET, NEW_SECRET) for s in (v, base64.b64encode(v.encode()).decode())]


def test_diff_between_two_commits(example_git_repo: Path) -> None:
    _second_commit(example_git_repo)
    report = diff_project(example_git_repo, "HEAD~1")
    assert [e.env for e in report.envs] == ["dev", "prod", "staging"]
    assert report.summary == "; ".join(
        f"{e.env}: {e.count('added')} added, {e.count('changed')} changed, {e.count('removed')} removed" for e in report.envs)
    for env in report.envs:  # per model objects: InferenceService, and whatever else servespec renders for a model
        ns = {"dev": "anonymous", "prod": "ml-prod", "staging": "ml-staging"}[env.env]
        by_label = {c.label: c.status for c in env.changes}
        assert by_label[f"InferenceService {ns}/new-model"] == "added"
        assert by_label[f"InferenceService {ns}/census-income"] == "changed"
        assert by_label[f"InferenceService {ns}/sklearn-iris"] == "removed"
        assert env.count("added") >= 1 and env.count("changed") >= 1 and env.count("removed") >= 1
        assert all(c.status != "changed" or c.diff for c in env.changes)
    prod = {c.label: c.status for c in report.envs[1].changes}
    assert prod["Kustomization flux-system/servespec-prod-model-new-model"] == "added"  # Flux: one per model
    assert prod["Kustomization flux-system/servespec-prod-model-sklearn-iris"] == "removed"
    dev = {c.label: c for c in report.envs[0].changes}
    assert dev["InferenceService anonymous/new-model"].status == "added"
    assert dev["InferenceService anonymous/sklearn-iris"].status == "removed"
    census = "".join(dev["InferenceService anonymous/census-income"].diff)
    assert "-      runtimeVersion: 2.5.1\n+      runtimeVersion: 2.6.0\n" in census
    secret = "".join(dev["Secret anonymous/kubeflow-minio-secret"].diff)
    assert f"-  AWS_SECRET_ACCESS_KEY: {REDACTED}\n+  AWS_SECRET_ACCESS_KEY: <redacted (changed)>\n" in secret
    assert "-  AWS_ACCESS_KEY_ID" not in secret and "+  AWS_ACCESS_KEY_ID" not in secret  # unchanged

    text = run_cli("diff", "--base", "HEAD~1", "--root", example_git_repo)
    md = run_cli("diff", "--base", "HEAD~1", "--format", "markdown", "--root", example_git_repo)
    assert text.exit_code == 0 and md.exit_code == 0, text.stderr + md.stderr
    assert text.stdout.startswith(f"servespec diff against HEAD~1: {report.summary}\n")
    assert md.stdout.startswith("<!-- servespec-diff -->\n### servespec: rendered changes against `HEAD~1`\n\n"
                                f"**{report.summary}**\n")
    assert "\n- added `InferenceService anonymous/new-model`\n" in md.stdout  # one line per change (was a table row)
    for form in _secret_forms():
        assert form not in text.stdout and form not in md.stdout, f"secret leaked: {form}"


def test_diff_of_uncommitted_work_and_nothing(example_git_repo: Path) -> None:
    none = run_cli("diff", "--root", example_git_repo)
    assert none.stdout == "servespec diff against HEAD: dev: no changes; prod: no changes; staging: no changes\n"
    (example_git_repo / "specs/sklearn_iris.py").unlink()  # not rendered, not committed: still shown
    res = run_cli("diff", "--env", "prod", "--root", example_git_repo)
    # prod (Flux): the InferenceService and the model's own Flux Kustomization go
    assert res.stdout.startswith("servespec diff against HEAD: prod: 0 added, ")
    assert "--- a/prod/InferenceService/ml-prod/sklearn-iris\n+++ b/prod/InferenceService/ml-prod/sklearn-iris\n" in res.stdout
    assert "--- a/prod/Kustomization/flux-system/servespec-prod-model-sklearn-iris\n" in res.stdout


def test_diff_bad_input(example_git_repo: Path, tmp_path: Path) -> None:
    res = run_cli("diff", "--base", "no-such-branch", "--root", example_git_repo)
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: git: --base: expected a commit, branch or tag, found 'no-such-branch' (unknown revision)\n"
    empty = copy_example(tmp_path / "empty")
    git(empty, "init", "-q")  # a git repo without commits is no better
    res = run_cli("diff", "--root", empty)
    assert res.exit_code == 2 and "found 'HEAD' (unknown revision)" in res.stderr
    plain = copy_example(tmp_path / "plain")
    res = run_cli("diff", "--root", plain)
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: git: not in a git repository: diff compares against a commit (--base REF)\n"


def test_markdown_is_cut_to_fit_a_comment(example_git_repo: Path) -> None:
    # Intentional change: the capacity table always comes first, every env keeps its heading, and
    # what does not fit is counted per env ("N more changes") instead of one cut at the end.
    _second_commit(example_git_repo)
    report = diff_project(example_git_repo, "HEAD~1")
    md = format_markdown(report, limit=4000)
    assert len(md) <= 4000
    for env in report.envs:
        assert f"\n#### {env.summary}\n" in md
    assert re.search(r"\n_… \d+ more changes? (and diffs of \d+ more changes? )?not shown: run `servespec diff --env dev` for all\._\n", md)
    assert md.count("```diff") == md.count("</details>")
