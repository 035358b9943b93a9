"""What a reviewer sees: `servespec diff` with capacity and cost first, generated bulk summarised,
a size budget, JSON for bots, --exit-code; and docs/reviewing.md's example is real output."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import REPO, git, run_cli
from servespec.diff import diff_project
from servespec.diff_markdown import MARKER, MAX_MARKDOWN, format_markdown

ENVS = ("dev", "prod", "staging")
NS = {"dev": "anonymous", "prod": "ml-prod", "staging": "ml-staging"}
MODEL = '''from servespec.spec import Model, Predictor, Resources

{const} = Model(
    name="{name}",
    predictor=Predictor(
        model_format="sklearn",
        storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
        resources=Resources(requests={{"cpu": "100m", "memory": "256Mi"}}, limits={{"cpu": "1", "memory": "512Mi"}}),
    ),
)
'''


def _add_model(repo: Path, name: str) -> None:
    (repo / f"specs/{name.replace('-', '_')}.py").write_text(MODEL.format(const=name.upper().replace("-", "_"), name=name))


def test_one_new_model_is_a_short_comment_naming_every_env(example_git_repo: Path) -> None:
    _add_model(example_git_repo, "new-model")
    res = run_cli("diff", "--format", "markdown", "--root", example_git_repo)
    md = res.stdout
    assert res.exit_code == 0 and len(md) < 20_000, (res.stderr, len(md))
    assert md.index("| env | replicas | pods | requests.cpu | requests.memory | limits.cpu | limits.memory |") < md.index("\n#### ")
    # prod runs the example's LLM too: 2 replicas of 2 cores, 16 GiB and 1 GPU each (the last column)
    assert "| prod | min | 15 (+3) | 13.3 (+0.3) | 69.75 GiB (+768 MiB) | 33 (+3) | 75.5 GiB (+1.5 GiB) | 3 |\n" in md
    assert "| prod | max | ≥ 43 (+10) | ≥ 25.4 (+1) | ≥ 117.5 GiB (+2.5 GiB) | ≥ 73 (+10) | ≥ 133 GiB (+5 GiB) | 4 |\n" in md
    assert "- `dev`: no maximum: census-income predictor, new-model predictor, sklearn-iris explainer\n" in md
    for env in ENVS:
        assert f"| {env} | min |" in md and f"| {env} | max |" in md and f"\n#### {env}: " in md
        assert f"\n- added `InferenceService {NS[env]}/new-model`\n" in md
        assert f"<summary>{env}: InferenceService {NS[env]}/new-model (added)</summary>" in md
    assert "  - dashboard 'new-model (prod)' (prod-new-model.json) added: 5 panels\n" in md
    assert "  - 6 rules added: ModelCanaryErrorRateWorse, ModelCanaryLatencyWorse, ModelErrorRateHigh, ModelLatencyP99High, " \
           "ModelNoTraffic, ModelReplicasBelowMinimum\n" in md
    assert '"gridPos"' not in md and "fieldConfig" not in md  # no dashboard JSON in the comment


def _edit_committed(repo: Path, rel: str, old: str, new: str, count: int = 1) -> None:
    path = repo / rel
    text = path.read_text()
    assert text.count(old) >= count, (rel, old)
    path.write_text(text.replace(old, new, count))


def test_dashboard_only_change_is_one_line_per_changed_panel(example_git_repo: Path) -> None:
    repo = example_git_repo
    for env in ENVS:  # as an older generator rendered them: two panels differ
        rel = f"rendered/{env}/models/fraud-detector/dashboard.yaml"
        _edit_committed(repo, rel, '"title": "Request rate by revision"', '"title": "Request rate"')
        _edit_committed(repo, rel, '"unit": "short"', '"unit": "none"')
    git(repo, "commit", "-qam", "older dashboards")
    md = run_cli("diff", "--format", "markdown", "--root", repo).stdout
    for env in ENVS:
        section = md.split(f"\n#### {env}: 0 added, 1 changed, 0 removed\n\n", 1)[1].split("\n####", 1)[0].rstrip("\n")
        assert section + "\n" == (f"- changed `ConfigMap {NS[env]}/fraud-detector-dashboard` (Grafana dashboard)\n"
                           "  - panel 1 'Request rate by revision' changed: title\n"
                           "  - panel 4 'Replicas by revision' changed: fieldConfig.defaults.unit\n")
    assert "```diff" not in md and "(+" not in md and "(-" not in md  # nothing to fold, no capacity change
    text = run_cli("diff", "--env", "prod", "--root", repo).stdout
    assert text.splitlines()[1:] == [
        "prod: ConfigMap ml-prod/fraud-detector-dashboard (changed): panel 1 'Request rate by revision' changed: title",
        "prod: ConfigMap ml-prod/fraud-detector-dashboard (changed): panel 4 'Replicas by revision' changed: fieldConfig.defaults.unit",
    ]


def test_rule_changes_name_the_rules(example_git_repo: Path) -> None:
    repo = example_git_repo
    rel = "rendered/prod/models/fraud-detector/prometheusrule.yaml"
    text = (repo / rel).read_text()
    start = text.index("    - alert: ModelReplicasBelowMinimum")
    end = text.index("    - alert:", start + 10) if "    - alert:" in text[start + 10:] else len(text)
    (repo / rel).write_text(text[:start] + text[end:])  # the base lacks one alert
    _edit_committed(repo, rel, "      for: 15m\n", "      for: 5m\n")  # ModelNoTraffic
    _edit_committed(repo, rel, "  labels:\n    app.kubernetes.io/managed-by: servespec\n", "  labels:\n")
    git(repo, "commit", "-qam", "older rules")
    report = diff_project(repo, "HEAD", ["prod"])
    (change,) = report.envs[0].changes
    assert (change.label, change.generated) == ("PrometheusRule ml-prod/fraud-detector", "rules")
    assert change.details == ["alert ModelNoTraffic changed: for", "alert ModelReplicasBelowMinimum added",
                              "object changed: metadata.labels.app.kubernetes.io/managed-by"]


def test_size_budget_counts_what_does_not_fit(example_git_repo: Path) -> None:
    for i in range(8):
        _add_model(example_git_repo, f"bulk-{i}")
    report = diff_project(example_git_repo, "HEAD")
    md = format_markdown(report, limit=12_000)
    assert len(md) <= 12_000
    for env in report.envs:
        section = md.split(f"\n#### {env.summary}\n\n", 1)[1].split("\n#### ", 1)[0]
        listed = len(re.findall(r"^- (added|changed|removed) `", section, re.M))
        tail = re.search(r"^_… (?:(\d+) more changes?)?(?: and )?(?:diffs of (\d+) more changes?)? not shown: "
                         rf"run `servespec diff --env {env.env}` for all\._$", section, re.M)
        assert tail, section[-300:]
        assert listed + int(tail.group(1) or 0) == len(env.changes) and listed > 0
    assert len(format_markdown(report)) <= MAX_MARKDOWN


def test_a_running_canary_is_in_the_totals_and_noted(example_git_repo: Path) -> None:
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--root", example_git_repo)
    assert res.exit_code == 0, res.stderr
    md = run_cli("diff", "--base", "HEAD~1", "--env", "prod", "--format", "markdown", "--root", example_git_repo).stdout
    # Knative: the previous revision keeps census-income's 3..10 pods of 500m/2Gi beside the canary's
    assert "| prod | min | 15 (+3) | 14.5 (+1.5) | 75 GiB (+6 GiB) | 36 (+6) | 80 GiB (+6 GiB) | 3 |\n" in md
    assert "- `prod`: running canaries add +3 pods at min, +10 at max (included above)\n" in md
    assert "\n- changed `InferenceService ml-prod/census-income`\n" in md


def test_json_for_bots(example_git_repo: Path) -> None:
    repo = example_git_repo
    _add_model(repo, "new-model")
    overlay = repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text() + "pricing: {currency: USD, coreHour: 0.05, gibHour: 0.01}\n")
    res = run_cli("diff", "--format", "json", "--root", repo)
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["base"] == "HEAD" and data["changed"] is True and list(data["envs"]) == list(ENVS)
    prod = data["envs"]["prod"]
    assert set(prod) == {"summary", "objects", "capacity", "cost", "budget"} and prod["budget"] == []
    assert prod["summary"] == {"added": 5, "changed": 1, "removed": 0}
    cap = prod["capacity"]
    assert cap["before"]["min"] == {"pods": 12, "requests.cpu": 13, "requests.memory": 69 * 2**30, "limits.cpu": 30, "limits.memory": 74 * 2**30,
                                    "requests.nvidia.com/gpu": 3}
    assert cap["after"]["unbounded"] == ["sklearn-iris explainer"]
    assert cap["after"]["notCounted"] == []
    for at in ("min", "max"):
        for key, value in cap["delta"][at].items():
            assert Decimal(str(value)) == Decimal(str(cap["after"][at][key])) - Decimal(str(cap["before"][at].get(key, 0)))
    assert prod["cost"]["currency"] == "USD"
    # 3 (min) and 10 (max) more pods of 100m and 256Mi: 0.1 * 0.05 + 0.25 * 0.01 = 0.0075 an hour each, 730 hours a month
    assert prod["cost"]["delta"]["monthly"] == {"min": 16.425, "max": 54.75}
    assert data["envs"]["dev"]["cost"] is None
    isvc = next(o for o in prod["objects"] if o["kind"] == "InferenceService")
    assert (isvc["status"], isvc["generated"], isvc["details"]) == ("added", None, [])
    assert isvc["diff"].startswith("--- a/prod/InferenceService/ml-prod/new-model\n+++ b/prod/InferenceService/ml-prod/new-model\n")
    board = next(o for o in prod["objects"] if o["name"] == "new-model-dashboard")
    assert board["generated"] == "dashboard" and board["details"] == ["dashboard 'new-model (prod)' (prod-new-model.json) added: 5 panels"]


def test_exit_code_like_git_diff(example_git_repo: Path) -> None:
    assert run_cli("diff", "--exit-code", "--root", example_git_repo).exit_code == 0
    _add_model(example_git_repo, "new-model")
    assert run_cli("diff", "--root", example_git_repo).exit_code == 0
    changed = run_cli("diff", "--exit-code", "--format", "json", "--root", example_git_repo)
    assert changed.exit_code == 1 and changed.stderr == "" and json.loads(changed.stdout)["changed"] is True


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", "generator/servespec/templates/init/dot-github/workflows/servespec.yml"])
def test_workflows_keep_one_comment_updated_in_place(path: str) -> None:
    (job,) = yaml.safe_load((REPO / path).read_text())["jobs"].values()
    diff_step, post = (s for s in job["steps"] if s.get("name", "").startswith(("Diff against", "Post the diff")))
    assert "diff --base \"$base\" --format markdown > \"$RUNNER_TEMP/servespec-diff.md\"" in diff_step["run"]
    run = post["run"]
    assert f'startswith("{MARKER}")' in run and '.user.login == "github-actions[bot]"' in run  # its own comment, found by marker
    assert "--method PATCH \"repos/$GH_REPO/issues/comments/$id\"" in run and "--method POST" in run and "--edit-last" not in run


# -- docs/reviewing.md ---------------------------------------------------------------------------------------
DOC = REPO / "README.md"


def review_example(repo: Path) -> str:
    """The change docs/reviewing.md shows: prod gets a price list and a CPU budget, and fraud-detector
    goes from 4 to 6 replicas in prod."""
    overlay = repo / "overlays/prod.yaml"
    text = overlay.read_text().replace("  fraud-detector:\n    minReplicas: 4\n", "  fraud-detector:\n    minReplicas: 6\n")
    overlay.write_text(text + "pricing: {currency: USD, coreHour: 0.0316, gibHour: 0.0042}\nbudget:\n  hard: {requests.cpu: \"9\"}\n")
    res = run_cli("diff", "--base", "main", "--env", "prod", "--format", "markdown", "--root", repo)
    assert res.exit_code == 0, res.stderr
    return res.stdout


def test_docs_example_is_real_output(example_git_repo: Path) -> None:
    if not DOC.is_file():
        pytest.skip("docs/reviewing.md is merged into README.md by the lead")
    shown = DOC.read_text().split("<!-- example: begin -->\n````markdown\n", 1)[1].split("````\n<!-- example: end -->", 1)[0]
    assert shown == review_example(example_git_repo), "regenerate the example in docs/reviewing.md (tests/test_diff_review.py::review_example)"
