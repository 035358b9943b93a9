"""The loop around the gates, without a real Prometheus: an unresponsive one fails within the
query timeout, per-model plans in overlays, a spec ahead of the rollout state, `forget`,
`promote --all` verdicts and JSON, exit-code precedence, and the generated workflow's handling
of the exit codes (its script run with stand-in commands)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import GIT_ENV, REPO, git, run_cli
from servespec.rollout.batch import BatchReport, ModelResult

V2 = "s3://census-income/v2"
STABLE = "s3://census-income/serving_model"
AUTHOR = ("--author", "Loop Bot <loop@servespec.invalid>")


def cli(repo: Path, *args: str):
    return run_cli(*args, "--root", repo, *(AUTHOR if args[0] in ("release", "promote", "rollback", "forget") else ()))


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def edit(repo: Path, path: str, old: str, new: str) -> None:
    p = repo / path
    text = p.read_text()
    assert old in text, (path, old)
    p.write_text(text.replace(old, new, 1))


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def silent_prometheus() -> Iterator[str]:
    """A port that completes TCP handshakes and never answers (nobody calls accept)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_unresponsive_prometheus_fails_within_the_query_timeout(example_git_repo: Path, silent_prometheus: str) -> None:
    repo = example_git_repo
    edit(repo, "overlays/prod.yaml", "    bakeTime: 10m\n", "    bakeTime: 10m\n    queryTimeout: 1s\n    onFailure: rollback\n")
    commit(repo, "1s per query")
    assert cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", V2).exit_code == 0
    before = head(repo)
    start = time.monotonic()
    res = cli(repo, "promote", "census-income", "--env", "prod", "--ignore-bake-time", "--prometheus", silent_prometheus)
    elapsed = time.monotonic() - start
    # two gates and two traffic queries, each waiting its 1 s at the same time: not 4 s one after the other
    assert elapsed < 2.5, elapsed
    assert res.exit_code == 1, res.stderr
    assert res.stderr == (f"servespec: error: prod/census-income: cannot decide, staying at 10%: Prometheus at {silent_prometheus} "
                          "did not answer within 1s (queryTimeout); nothing committed\n")
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""  # onFailure: rollback, yet no rollback


def test_per_model_plan_in_the_overlay_overrides_fields(example_git_repo: Path) -> None:
    repo = example_git_repo
    edit(repo, "overlays/prod.yaml", "  fraud-detector:\n", "    rollout: {steps: [50, 100], onFailure: rollback}\n  fraud-detector:\n")
    commit(repo, "census-income: two steps in prod")
    res = cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)
    assert res.exit_code == 0, res.stderr
    assert "release(prod/census-income): s3://census-income/v2 at 50% (step 1/2)" in res.stdout
    res = cli(repo, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2")
    assert "at 10% (step 1/4)" in res.stdout  # the environment's plan for the others
    res = cli(repo, "promote", "census-income", "--env", "prod")
    assert res.exit_code == 3  # the env plan's bakeTime still applies: only the fields set are overridden
    assert "bake time not over: at 50% since" in res.stderr
    rows = json.loads(run_cli("status", "--env", "prod", "--output", "json", "--root", repo).stdout)
    assert {r["model"]: r["steps"] for r in rows} == {"census-income": [50, 100], "fraud-detector": [10, 25, 50, 100],
                                                     "sklearn-iris": [10, 25, 50, 100], "chat-assistant": [10, 25, 50, 100],
                                                     "llama3-chat": [10, 25, 50, 100], "text-embedder": [10, 25, 50, 100]}


def test_bad_per_model_plan_is_located(example_repo: Path) -> None:
    edit(example_repo, "overlays/prod.yaml", "  fraud-detector:\n", "    rollout: {onFailure: revert}\n  fraud-detector:\n")
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    line = (example_repo / "overlays/prod.yaml").read_text().splitlines().index("    rollout: {onFailure: revert}") + 1
    assert res.stderr.startswith(f"servespec: error: overlays/prod.yaml:{line}: models.census-income.rollout.onFailure: ")
    assert "'hold' or 'rollback'" in res.stderr and "'revert'" in res.stderr


def test_spec_ahead_of_the_state_warns_with_the_release_command(example_git_repo: Path) -> None:
    repo = example_git_repo
    assert cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", V2).exit_code == 0
    for _ in range(3):
        assert cli(repo, "promote", "census-income", "--env", "prod", "--skip-gates").exit_code == 0
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 0 and res.stderr == ""  # a spec that lags behind a release is not ahead
    edit(repo, "specs/census_income.py", f'storage_uri="{STABLE}"', 'storage_uri="s3://census-income/v3"')
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 0
    command = "servespec release census-income --env prod --storage-uri s3://census-income/v3"
    assert res.stderr == ("warning: specs/census_income.py: census-income.predictor.storage_uri: env prod serves stable "
                          "s3://census-income/v2 (overlays/prod.rollout.yaml), the spec says s3://census-income/v3: not rendered "
                          f"until released; release it: {command}\n")
    isvc = yaml.safe_load((repo / "rendered/prod/models/census-income/inferenceservice.yaml").read_text())
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == V2  # the state is what is rendered
    row = next(r for r in json.loads(run_cli("status", "--env", "prod", "--output", "json", "--root", repo).stdout)
               if r["model"] == "census-income")
    assert (row["spec_ahead"], row["spec_storage_uri"], row["release_command"]) == (True, "s3://census-income/v3", command)
    text = run_cli("status", "--env", "prod", "--root", repo).stdout
    assert f"prod/census-income: stable s3://census-income/v2; spec-ahead: the spec says s3://census-income/v3, run `{command}`" in text
    commit(repo, "v3 in the spec")
    assert cli(repo, *command.split()[1:]).exit_code == 0
    assert run_cli("render", "--root", repo).stderr == ""


def test_forget_a_deleted_model(example_git_repo: Path, bare_remote: Path, tmp_path: Path) -> None:
    repo = example_git_repo
    git(repo, "remote", "add", "origin", f"file://{bare_remote}")
    assert cli(repo, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2").exit_code == 0
    (repo / "specs/sklearn_iris.py").unlink()
    commit(repo, "sklearn-iris retired")
    res = run_cli("render", "--env", "prod", "--root", repo)
    assert res.exit_code == 2 and "overlays/prod.rollout.yaml:4: models.sklearn-iris: unknown model" in res.stderr
    git(repo, "push", "-q", "origin", "main")
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", f"file://{bare_remote}", str(other)], check=True, capture_output=True, env={**os.environ, **GIT_ENV})

    before = head(repo)
    res = cli(repo, "forget", "sklearn-iris", "--env", "prod", "--push")
    assert res.exit_code == 0, res.stderr
    subject = "forget(prod/sklearn-iris): rollout state removed (was canary 10% gs://bucket/iris/v2 (stable gs://kfserving-examples/models/sklearn/1.0/model))"
    assert re.fullmatch(rf"\[[0-9a-f]{{10}}\] {re.escape(subject)}, pushed \(1 attempt\)\n", res.stdout)
    assert git(repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert files[0] == "overlays/prod.rollout.yaml" and "rendered/prod/kustomization.yaml" in files
    assert all(f.startswith(("overlays/prod.rollout.yaml", "rendered/prod/")) for f in files)
    assert not (repo / "rendered/prod/models/sklearn-iris").exists()
    assert "sklearn-iris" not in yaml.safe_load((repo / "overlays/prod.rollout.yaml").read_text())["models"]
    msg = git(repo, "log", "-1", "--format=%B")
    assert "Servespec-Action: forget\n" in msg and "Servespec-To: unmanaged (no state entry)\n" in msg
    assert run_cli("render", "--check", "--env", "prod", "--root", repo).exit_code == 0

    # the same forget from a clone that is behind: its push is rejected, the entry is gone upstream: done
    # (another author: the same change by the same author in the same second would be the very same commit)
    res = run_cli("forget", "sklearn-iris", "--env", "prod", "--push", "--root", other, "--author", "Other <other@servespec.invalid>")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "prod/sklearn-iris: already forgotten upstream; nothing to commit\n"
    assert head(other) == git(bare_remote, "rev-parse", "main").strip()
    assert git(other, "status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.parametrize("args, message", [
    (("forget", "census-income", "--env", "prod"),
     "overlays/prod.rollout.yaml: MODEL: no rollout state for 'census-income' in env 'prod' (entries: none): nothing to forget"),
    (("forget", "census-income", "--env", "staging"),
     "overlays/staging.rollout.yaml:4: models.census-income: census-income is still rendered in env 'staging': its state decides what "
     "is rendered; forget is for a model deleted from specs/ or disabled in the overlay (to go back to the spec's version, release it)"),
])
def test_forget_refuses(example_git_repo: Path, args: tuple[str, ...], message: str) -> None:
    repo = example_git_repo
    assert cli(repo, "release", "census-income", "--env", "staging", "--storage-uri", V2).exit_code == 0
    before = head(repo)
    res = cli(repo, *args)
    assert res.exit_code == 2
    assert res.stderr == f"servespec: error: {message}\n"
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""


def test_promote_all_json_summary(example_git_repo: Path) -> None:
    repo = example_git_repo
    cli(repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)
    cli(repo, "release", "sklearn-iris", "--env", "prod", "--storage-uri", "gs://bucket/iris/v2")
    res = cli(repo, "promote", "--all", "--env", "prod", "--output", "json")
    assert res.exit_code == 0, res.stderr  # waiting for bake time is what a scheduled job expects
    report = json.loads(res.stdout)
    assert (report["env"], report["exit_code"]) == ("prod", 0)
    first = report["models"][0]
    assert {k: first[k] for k in ("model", "result", "reason", "commit")} == \
        {"model": "census-income", "result": "waiting", "reason": "bake-time", "commit": None}
    assert first["line"].startswith("prod/census-income: waiting (bake-time): at 10% since ")
    res = cli(repo, "promote", "--all", "--env", "prod", "--skip-gates", "--output", "json")
    assert res.exit_code == 0, res.stderr
    done = json.loads(res.stdout)["models"]
    assert [(m["model"], m["result"], m["subject"]) for m in done] == [
        ("census-income", "promoted", "promote(prod/census-income): 10% -> 25% (step 2/4)"),
        ("sklearn-iris", "promoted", "promote(prod/sklearn-iris): 10% -> 25% (step 2/4)")]
    assert [m["commit"] for m in done] == git(repo, "log", "-2", "--format=%H").split()[::-1]
    res = cli(repo, "promote", "census-income", "--env", "prod", "--output", "json")
    assert res.exit_code == 2 and "--output json goes with --all" in res.stderr


def _result(model: str, result: str, reason: str | None = None) -> ModelResult:
    return ModelResult(model, result, "...", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize("results, code", [
    ([], 0),
    ([("a", "promoted", None), ("b", "waiting", "bake-time")], 0),
    ([("a", "promoted", None), ("b", "waiting", "not-live")], 3),
    ([("a", "waiting", "too-little-traffic"), ("b", "failed", None)], 1),
    ([("a", "rolled-back", None), ("b", "waiting", "not-live")], 1),
    ([("a", "rolled-back", None), ("b", "error", None)], 2),
])
def test_promote_all_exit_code_worst_first(results: list[tuple[str, str, str | None]], code: int) -> None:
    report = BatchReport("prod", [_result(*r) for r in results])
    assert report.exit_code == code
    assert report.as_json()["exit_code"] == code
    assert report.lines()[0] == ("prod: no model under canary" if not results else f"prod/a: {results[0][1]}"
                                 + (f" ({results[0][2]})" if results[0][2] else "") + ": ...")


@pytest.fixture(params=["promote.yml", "init"])
def promote_script(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The Promote step's script of this repo's workflow or of the one `servespec init` writes."""
    path = (REPO / ".github/workflows/promote.yml" if request.param == "promote.yml"
            else REPO / "generator/servespec/templates/init/dot-github/workflows/servespec-promote.yml")
    steps = yaml.safe_load(path.read_text())["jobs"]["promote"]["steps"]
    script = tmp_path / "promote.sh"
    script.write_text(next(s for s in steps if s.get("name") == "Promote")["run"])
    return script


@pytest.mark.parametrize("code, expected, notice", [(0, 0, False), (3, 0, True), (1, 1, False), (2, 2, False)])
def test_the_workflow_treats_waiting_as_success_and_failures_as_failures(promote_script: Path, tmp_path: Path, code: int,
                                                                          expected: int, notice: bool) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    report = {"env": "prod", "exit_code": code, "models": [{"line": f"prod/m: result of exit {code}"}]}
    body = "" if code == 2 else f"echo '{json.dumps(report)}'\n"  # bad input: an error on stderr, no JSON
    (bin_dir / "servespec").write_text(f"#!/bin/sh\n{body}exit {code}\n")
    (bin_dir / "git").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "ENV_NAME": "prod", "PROMETHEUS_URL": "http://prometheus.invalid",
           "GITHUB_STEP_SUMMARY": str(summary)}
    # how GitHub runs `run:` with the default shell: bash --noprofile --norc -eo pipefail {0}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(promote_script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == expected, proc.stdout + proc.stderr
    assert ("::notice title=servespec promote prod::" in proc.stdout) == notice
    if code == 2:
        assert not summary.exists()
    else:
        assert summary.read_text() == f"### servespec promote prod: exit {code}\n- prod/m: result of exit {code}\n"
