"""Canary rollouts as commits: release -> promote -> stable, rollback, status, bad input, modes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CRDS, REPO, git, run_cli

AUTHOR = "Rollout Bot <bot@servespec.invalid>"
ISVC = "rendered/{env}/models/{model}/inferenceservice.yaml"


def isvc(repo: Path, model: str = "census-income", env: str = "prod") -> dict:
    return yaml.safe_load((repo / ISVC.format(env=env, model=model)).read_text())


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def last_commit_files(repo: Path) -> list[str]:
    return sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split())


def trailers(repo: Path) -> dict[str, str]:
    msg = git(repo, "log", "-1", "--format=%B")
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=msg, capture_output=True, text=True, check=True).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def cli(repo: Path, *args: str) -> object:
    return run_cli(*args, "--root", repo, "--author", AUTHOR) if args[0] in ("release", "promote", "rollback") else run_cli(*args, "--root", repo)


def status(repo: Path, env: str = "prod", model: str = "census-income") -> dict:
    res = run_cli("status", "--env", env, "--output", "json", "--root", repo)
    assert res.exit_code == 0, res.stderr
    return next(r for r in json.loads(res.stdout) if r["model"] == model)


def assert_one_commit(repo: Path, before: str, env: str = "prod", model: str = "census-income") -> None:
    assert git(repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert last_commit_files(repo) == [f"overlays/{env}.rollout.yaml", ISVC.format(env=env, model=model)]
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == AUTHOR


def test_full_canary_then_rollback(example_git_repo: Path) -> None:
    repo = example_git_repo
    v1, v2, v3 = "s3://census-income/serving_model", "s3://census-income/v2", "s3://census-income/v3"
    before = head(repo)
    res = cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", v2)
    assert res.exit_code == 0, res.stderr
    assert "release(prod/census-income): s3://census-income/v2 at 10% (step 1/4)" in res.stdout
    assert_one_commit(repo, before)
    pred = isvc(repo)["spec"]["predictor"]
    assert (pred["model"]["storageUri"], pred["canaryTrafficPercent"]) == (v2, 10)
    assert pred["labels"]["serving.servespec.io/version"] == status(repo)["version"]
    s = status(repo)
    assert {k: s[k] for k in ("stable", "candidate", "traffic_percent", "phase", "step")} == \
        {"stable": v1, "candidate": v2, "traffic_percent": 10, "phase": "canary", "step": 1}

    for i, (old, new) in enumerate([(10, 25), (25, 50), (50, 100)], start=2):
        before = head(repo)
        res = cli(repo, "promote", "census-income", "--env", "prod", "--skip-gates")
        assert res.exit_code == 0, res.stderr
        assert f"promote(prod/census-income): {old}% -> {new}% (step {i}/4)" in res.stdout
        assert_one_commit(repo, before)
        t = trailers(repo)
        assert (t["Servespec-Action"], t["Servespec-Model"], t["Servespec-Env"], t["Servespec-Flags"]) == \
            ("promote", "census-income", "prod", "skip-gates")
        assert t["Servespec-From"].startswith(f"canary {old}% {v2}")
        pred = isvc(repo)["spec"]["predictor"]
        assert pred["model"]["storageUri"] == v2
        s = status(repo)
        if new < 100:
            assert pred["canaryTrafficPercent"] == new
            assert (s["phase"], s["traffic_percent"], s["step"], s["candidate"], s["stable"]) == ("canary", new, i, v2, v1)
        else:
            assert "canaryTrafficPercent" not in pred  # promotion removes the field (KSERVE.md §6)
            assert (s["phase"], s["traffic_percent"], s["candidate"], s["stable"]) == ("stable", 100, None, v2)
            assert t["Servespec-To"] == f"stable {v2}"
    assert s["last_gate"]["result"] == "skipped"

    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", v3)
    assert isvc(repo)["spec"]["predictor"]["canaryTrafficPercent"] == 10
    before = head(repo)
    res = cli(repo, "rollback", "census-income", "--env", "prod")
    assert res.exit_code == 0, res.stderr
    assert "rollback(prod/census-income): 10% -> 0%, all traffic to s3://census-income/v2" in res.stdout
    assert_one_commit(repo, before)
    pred = isvc(repo)["spec"]["predictor"]
    assert (pred["model"]["storageUri"], pred["canaryTrafficPercent"]) == (v2, 0)
    s = status(repo)
    assert (s["phase"], s["stable"], s["candidate"], s["traffic_percent"], s["rolled_back"]) == ("rolled-back", v2, None, 0, v3)
    # a later promote unpins: traffic follows the latest (stable-spec) revision again
    res = cli(repo, "promote", "census-income", "--env", "prod")
    assert res.exit_code == 0, res.stderr
    assert "canaryTrafficPercent" not in isvc(repo)["spec"]["predictor"]
    assert status(repo)["phase"] == "stable"
    assert run_cli("render", "--check", "--root", repo).exit_code == 0
    valid = run_cli("validate", "--crds", CRDS, "--env", "prod", "--root", repo)
    assert valid.exit_code == 0, valid.stderr
    # the state file is a readable round-trip YAML document with its header comment kept
    text = (repo / "overlays/prod.rollout.yaml").read_text()
    assert text.startswith("# Rollout state of environment 'prod'")
    assert "census-income:\n    phase: stable\n    stable: s3://census-income/v2\n" in text


def test_dev_plan_goes_straight_to_100(example_git_repo: Path) -> None:
    repo = example_git_repo
    res = cli(repo, "release", "census-income", "--env", "dev", "--storage-uri", "s3://census-income/v2")
    assert res.exit_code == 0, res.stderr
    assert "release(dev/census-income): s3://census-income/v2 at 100% (step 1/1)" in res.stdout
    pred = isvc(repo, env="dev")["spec"]["predictor"]
    assert pred["model"]["storageUri"] == "s3://census-income/v2" and "canaryTrafficPercent" not in pred
    assert status(repo, "dev")["phase"] == "stable"
    same = cli(repo, "release", "census-income", "--env", "dev", "--storage-uri", "s3://census-income/v2")
    assert same.exit_code == 0 and "already stable; nothing to commit" in same.stdout


def test_bake_time_and_no_prometheus_refused(example_git_repo: Path) -> None:
    repo = example_git_repo
    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    before = head(repo)
    res = cli(repo, "promote", "census-income", "--env", "prod")
    assert res.exit_code == 3  # not decided yet
    assert res.stderr.startswith("servespec: waiting: prod/census-income: bake time not over: at 10% since")
    assert "10m00s required" in res.stderr
    (repo / "overlays/prod.yaml").write_text((repo / "overlays/prod.yaml").read_text().replace(
        "  prometheusUrl: http://prometheus-operated.monitoring.svc:9090\n", ""))
    git(repo, "commit", "-qam", "no prometheus")
    before = head(repo)
    res = cli(repo, "promote", "census-income", "--env", "prod", "--ignore-bake-time")
    assert res.exit_code == 2
    assert "the plan has gates (error-rate-increase, latency-p99-ratio) and no Prometheus URL is known" in res.stderr
    assert head(repo) == before


PROD_KSERVE_LINE = next(n for n, line in enumerate((REPO / "overlays/prod.yaml").read_text().splitlines(), 1) if line.startswith("kserveVersion:"))
"""The example prod overlay's kserveVersion line, searched so that editing the overlay breaks no test."""


@pytest.mark.parametrize("args, code, message", [
    (("release", "nope", "--env", "prod", "--storage-uri", "s3://x/y"), 2, "'nope' is not a model of env 'prod'"),
    (("release", "census-income", "--env", "qa", "--storage-uri", "s3://x/y"), 2, "unknown environment 'qa' (known: dev, prod, staging)"),
    (("release", "census-income", "--env", "prod", "--storage-uri", "ftp://x/y"), 2, "--storage-uri: expected a URI starting with one of"),
    (("promote", "census-income", "--env", "prod"), 2, "prod/census-income: no candidate to promote (stable: s3://census-income/serving_model)"),
    (("rollback", "census-income", "--env", "prod"), 2, "prod/census-income: nothing to roll back: no candidate under canary"),
    (("release", "fraud-detector", "--env", "prod", "--storage-uri", "s3://fraud-detector/v4"), 2,
     f"overlays/prod.yaml:{PROD_KSERVE_LINE}: kserveVersion: fraud-detector runs in Standard mode: a canary there needs a KServe release newer than 0.20.0 "
     "(weighted HTTPRoutes, kserve#5912), found 0.20 (canaryTrafficPercent is ignored and spec.canary[] routes no traffic); "
     "use a plan with steps [100] in this environment"),
    (("promote", "--env", "prod"), 2, "give either MODEL or --all"),
])
def test_bad_input_commits_nothing(example_git_repo: Path, args: tuple[str, ...], code: int, message: str) -> None:
    before = head(example_git_repo)
    res = cli(example_git_repo, *args)
    assert res.exit_code == code, res.stdout + res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert head(example_git_repo) == before
    assert git(example_git_repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_step_outside_the_plan(example_git_repo: Path) -> None:
    repo = example_git_repo
    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    before = head(repo)
    res = cli(repo, "promote", "census-income", "--env", "prod", "--skip-gates", "--to", "30")
    assert res.exit_code == 2 and "--to: 30% is a step outside the plan [10, 25, 50, 100]" in res.stderr
    res = cli(repo, "promote", "census-income", "--env", "prod", "--skip-gates", "--to", "50")
    assert res.exit_code == 0 and "10% -> 50% (step 3/4)" in res.stdout
    assert head(repo) != before
    before = head(repo)
    res = cli(repo, "promote", "census-income", "--env", "prod", "--skip-gates", "--to", "25")
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: --to: 25% is not after the current step 50% (plan [10, 25, 50, 100])\n"
    res = cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v3")
    assert res.exit_code == 2
    assert res.stderr == ("servespec: error: prod/census-income: s3://census-income/v2 is already under canary at 50% (step 3): "
                          "promote or rollback it first\n")
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""


def test_rollout_needs_a_git_branch(example_repo: Path) -> None:
    args = ("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    res = cli(example_repo, *args)
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: git: not inside a git repository: rollout commands commit their changes\n"
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "initial")
    git(example_repo, "checkout", "-q", "--detach")
    res = cli(example_repo, *args)
    assert res.exit_code == 2
    assert res.stderr == "servespec: error: git: HEAD is detached: check out a branch first\n"
    assert not (example_repo / "overlays/prod.rollout.yaml").exists()


@pytest.mark.parametrize("text, message", [
    ("models:\n  census-income:\n    phase: canary\n    stable: s3://a/b\n    candidate: s3://a/c\n    step: 7\n    traffic: 10\n    since: '2026-01-01T00:00:00Z'\n",
     "overlays/prod.rollout.yaml:2: models.census-income.step: step 7 is outside the plan [10, 25, 50, 100]"),
    ("models:\n  census-income:\n    phase: canary\n    stable: s3://a/b\n    candidate: s3://a/c\n    step: 2\n    traffic: 30\n    since: '2026-01-01T00:00:00Z'\n",
     "overlays/prod.rollout.yaml:2: models.census-income.traffic: step 2 of the plan [10, 25, 50, 100] is 25%, found traffic 30"),
    ("models:\n  census-income:\n    phase: sideways\n    stable: s3://a/b\n    since: '2026-01-01T00:00:00Z'\n",
     "overlays/prod.rollout.yaml:3: models.census-income.phase: expected"),
    ("models:\n  census-income:\n    phase: stable\n    stable: s3://a/b\n    traffic: lots\n    since: '2026-01-01T00:00:00Z'\n",
     "overlays/prod.rollout.yaml:5: models.census-income.traffic: expected an integer, found 'lots'"),
    ("models:\n  nope:\n    phase: stable\n    stable: s3://a/b\n    since: '2026-01-01T00:00:00Z'\n",
     "overlays/prod.rollout.yaml:2: models.nope: unknown model (rendered here: census-income, fraud-detector, llama3-chat, sklearn-iris, text-embedder): delete this entry"),
    ("models: [1, 2]\n", "overlays/prod.rollout.yaml:1: models: expected a mapping of model name to state, found a list\n"),
    ("- models\n", "overlays/prod.rollout.yaml:1: expected a mapping with only the key 'models', found a list\n"),
    ("models: {}\nphase: stable\n", "overlays/prod.rollout.yaml:1: expected a mapping with only the key 'models', found phase\n"),
    ("\xff\xfe models\n", "overlays/prod.rollout.yaml: expected UTF-8 text, found binary data\n"),
    ("models:\n  census-income: {phase: stable\n", "overlays/prod.rollout.yaml:3: invalid YAML"),
    ("models:\n  census-income:\n    phase: stable\n    stable: not-a-uri\n    since: yesterday\n",
     "overlays/prod.rollout.yaml:2: models.census-income.stable: expected a storage URI"),
])
def test_nonsense_state_file(example_git_repo: Path, text: str, message: str) -> None:
    repo = example_git_repo
    (repo / "overlays/prod.rollout.yaml").write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hand edit")
    before = head(repo)
    for args in (("promote", "census-income", "--env", "prod", "--skip-gates"), ("status", "--env", "prod"), ("render",)):
        res = cli(repo, *args)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert message in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert head(repo) == before and git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_dirty_tree_refused(example_git_repo: Path) -> None:
    repo = example_git_repo
    (repo / "specs/census_income.py").write_text((repo / "specs/census_income.py").read_text() + "\n# edit\n")
    res = cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    assert res.exit_code == 2 and "the working tree is dirty (specs/census_income.py): commit or stash first" in res.stderr
    assert not (repo / "overlays/prod.rollout.yaml").exists()


def test_standard_mode_canary_is_refused_where_kserve_does_not_route_it(example_git_repo: Path) -> None:
    """KServe 0.20 has spec.canary[] but routes no traffic to it (kserve@v0.20.0: no canary code in
    pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/; weights came with kserve#5912):
    a Standard-mode canary is refused, and a single-step release works."""
    repo = example_git_repo
    o = repo / "overlays/staging.yaml"
    o.write_text(o.read_text().replace('kserveVersion: "0.15"', 'kserveVersion: "0.20"'))
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "commit", "-qam", "staging on KServe 0.20")
    before = head(repo)
    res = cli(repo, "release", "fraud-detector", "--env", "staging", "--storage-uri", "s3://fraud-detector/v4")
    assert res.exit_code == 2
    assert "spec.canary[] routes no traffic); use a plan with steps [100] in this environment" in res.stderr
    assert head(repo) == before
    o.write_text(o.read_text() + "  fraud-detector:\n    enabled: true\n")
    spec_file = repo / "specs/fraud_detector.py"
    spec_file.write_text(spec_file.read_text().replace("deployment_mode=\"Standard\",", "deployment_mode=\"Standard\",\n    rollout=RolloutPlan(steps=[100]),"))
    if "RolloutPlan" not in spec_file.read_text().split("deployment_mode")[0]:
        spec_file.write_text("from servespec.spec import RolloutPlan\n" + spec_file.read_text())
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "commit", "-qam", "fraud-detector: no canary")
    res = cli(repo, "release", "fraud-detector", "--env", "staging", "--storage-uri", "s3://fraud-detector/v4")
    assert res.exit_code == 0, res.stderr
    spec = isvc(repo, "fraud-detector", "staging")["spec"]
    assert spec["predictor"]["model"]["storageUri"] == "s3://fraud-detector/v4" and "canary" not in spec
    assert spec["predictor"]["name"].startswith("v")  # predictor.name exists from 0.20 (names the revision)
    valid = run_cli("validate", "--env", "staging", "--root", repo)
    assert valid.exit_code == 0, valid.stderr


LEGACY = """namespace: kubeflow
kserveApi: serving.kubeflow.org/v1alpha2
allowPlaintextSecrets: true
models:
  fraud-detector: {enabled: false}
  sklearn-iris: {enabled: false}
  llama3-chat: {enabled: false}
  text-embedder: {enabled: false}
graphs:
  assistant: {enabled: false}
rollout:
  plan: {steps: [20, 100], gates: []}
"""


def test_legacy_v1alpha2_canary(example_git_repo: Path) -> None:
    repo = example_git_repo
    (repo / "overlays/legacy.yaml").write_text(LEGACY)
    assert run_cli("render", "--env", "legacy", "--root", repo).exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "legacy env")
    res = cli(repo, "release", "census-income", "--env", "legacy", "--storage-uri", "s3://census-income/v2")
    assert res.exit_code == 0, res.stderr
    obj = isvc(repo, env="legacy")
    assert obj["apiVersion"] == "serving.kubeflow.org/v1alpha2"
    assert obj["spec"]["default"]["predictor"]["tensorflow"]["storageUri"] == "s3://census-income/serving_model"
    assert obj["spec"]["canary"]["predictor"]["tensorflow"]["storageUri"] == "s3://census-income/v2"
    assert obj["spec"]["canaryTrafficPercent"] == 20
    valid = run_cli("validate", "--crds", CRDS, "--env", "legacy", "--root", repo)
    assert valid.exit_code == 0, valid.stderr
    assert "checked against servespec's hand-written serving.kubeflow.org/v1alpha2 schema (no upstream CRD)" in valid.stderr
    # a typo is still caught by the packaged schema
    path = repo / ISVC.format(env="legacy", model="census-income")
    path.write_text(path.read_text().replace("canaryTrafficPercent", "canaryTrafficPercnt"))
    bad = run_cli("validate", "--crds", CRDS, "--env", "legacy", "--root", repo)
    assert bad.exit_code == 1 and "'canaryTrafficPercnt' was unexpected" in bad.stderr
    git(repo, "checkout", "--", ".")
    res = cli(repo, "promote", "census-income", "--env", "legacy")
    assert res.exit_code == 0, res.stderr
    obj = isvc(repo, env="legacy")
    assert "canary" not in obj["spec"] and "canaryTrafficPercent" not in obj["spec"]
    assert obj["spec"]["default"]["predictor"]["tensorflow"]["storageUri"] == "s3://census-income/v2"


def test_legacy_refuses_what_v1alpha2_cannot_express(example_repo: Path) -> None:
    (example_repo / "overlays/legacy.yaml").write_text(LEGACY.replace("  sklearn-iris: {enabled: false}\n", ""))
    res = run_cli("render", "--env", "legacy", "--root", example_repo)
    assert res.exit_code == 2
    assert "specs/sklearn_iris.py: sklearn-iris.explainer: env 'legacy' targets serving.kubeflow.org/v1alpha2: no ART explainer in v1alpha2" in res.stderr


def test_promote_all_advances_what_is_due(example_git_repo: Path) -> None:
    repo = example_git_repo
    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    cli(repo, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2")
    before = head(repo)
    res = cli(repo, "promote", "--all", "--env", "prod")
    assert res.exit_code == 0, res.stderr
    assert "prod/census-income: waiting (bake-time): at 10% since" in res.stdout and "prod/sklearn-iris: waiting (bake-time)" in res.stdout
    assert head(repo) == before
    res = cli(repo, "promote", "--all", "--env", "prod", "--skip-gates")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [line.split(" [")[0] for line in lines] == ["prod/census-income: promoted: 10% -> 25% (step 2/4)",
                                                        "prod/sklearn-iris: promoted: 10% -> 25% (step 2/4)"]
    assert git(repo, "log", "--format=%s", f"{before}..HEAD").splitlines() == [
        "promote(prod/sklearn-iris): 10% -> 25% (step 2/4)", "promote(prod/census-income): 10% -> 25% (step 2/4)"]
    assert cli(repo, "promote", "--all", "--env", "dev").stdout == "dev: no model under canary\n"


def test_author_and_text_status(example_git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = example_git_repo
    bad = run_cli("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--author", "nobody", "--root", repo)
    assert bad.exit_code == 2 and "--author: expected \"Name <email>\", found 'nobody'" in bad.stderr
    monkeypatch.setenv("SERVESPEC_AUTHOR", "CI Job <ci@servespec.invalid>")
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2", "--root", repo)
    assert res.exit_code == 0, res.stderr
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == "CI Job <ci@servespec.invalid>|CI Job <ci@servespec.invalid>"
    out = run_cli("status", "--root", repo).stdout.splitlines()
    assert out[0].startswith("dev/census-income: stable s3://census-income/serving_model (never released)")
    assert any(line.startswith("prod/census-income: canary 10% (step 1/4) s3://census-income/v2, stable s3://census-income/serving_model, since ")
               for line in out)
    assert len(out) == 16  # 5 models x 3 environments, and the LLM chat-assistant (prod)
    assert "prod/chat-assistant: stable hf://Qwen/Qwen2.5-1.5B-Instruct (never released)" in out


def test_unreachable_prometheus_fails_the_gates(example_git_repo: Path) -> None:
    import socket

    with socket.socket() as s:  # a free port on 127.0.0.1 that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    repo = example_git_repo
    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", "s3://census-income/v2")
    before = head(repo)
    res = cli(repo, "promote", "census-income", "--env", "prod", "--ignore-bake-time", "--prometheus", url)
    assert res.exit_code == 1, res.stderr
    assert f"cannot query Prometheus at {url}" in res.stderr
    assert "Traceback" not in res.stderr
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""
