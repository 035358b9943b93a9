"""Promotion between environments through git (bare remotes, SERVESPEC_NOW): soak, provenance
checked against the rendered change, freezes and windows, break-glass, approvals behind a
protected branch, status of the example's dev -> staging -> prod chain, CODEOWNERS."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from conftest import CliResult, copy_example, git, run_cli

AUTHOR = "Promoter <promoter@servespec.invalid>"
V1, V2, V3 = "s3://census-income/serving_model", "s3://census-income/v2", "s3://census-income/v3"
# Monday 2 March 2026, 10:00 in Berlin (CET): inside the example's office-hours window
T0 = "2026-03-02T09:00:00Z"


@contextmanager
def clock(now: str | None) -> Iterator[None]:
    old = os.environ.get("SERVESPEC_NOW")
    if now:
        os.environ["SERVESPEC_NOW"] = now
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SERVESPEC_NOW", None)
        else:
            os.environ["SERVESPEC_NOW"] = old


def at(now: str, repo: Path, *args: str) -> CliResult:
    extra = ["--author", AUTHOR] if args[0] in ("release", "promote", "rollback") else []
    with clock(now):
        return run_cli(*args, "--root", str(repo), *extra)


def ok(res: CliResult) -> CliResult:
    assert res.exit_code == 0, res.stderr
    return res


def head(repo: Path, ref: str = "HEAD") -> str:
    return git(repo, "rev-parse", ref).strip()


def trailers(repo: Path, ref: str = "HEAD") -> list[tuple[str, str]]:
    msg = git(repo, "log", "-1", "--format=%B", ref)
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=msg, capture_output=True, text=True, check=True).stdout
    return [tuple(line.split(": ", 1)) for line in out.splitlines()]  # type: ignore[misc]


def policy(repo: Path, env: str, text: str) -> int:
    """Insert ``text`` (lines under ``rollout:``) into an overlay; the line number of its first line."""
    path = repo / f"overlays/{env}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    at_line = next(i for i, line in enumerate(lines) if line.startswith("rollout:")) + 1
    path.write_text("".join(lines[:at_line] + [text] + lines[at_line:]))
    return at_line + 1


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def make_repo(tmp_path: Path, **policies: str) -> Path:
    repo = copy_example(tmp_path / "repo")
    for env, text in policies.items():
        policy(repo, env, text)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "initial")
    return repo


def stable_in_staging(repo: Path, uri: str = V2, start: str = T0) -> str:
    """Release ``uri`` in staging at ``start`` and promote it to 100% ten minutes later; that commit."""
    ok(at(start, repo, "release", "census-income", "--env", "staging", "--storage-uri", uri))
    later = start.replace(":00:00Z", ":10:00Z")
    ok(at(later, repo, "promote", "census-income", "--env", "staging", "--skip-gates"))
    return head(repo)


SOAK = "  requires: {env: staging, soak: 1h}\n"


def test_eligible_only_after_the_soak_and_the_prod_commit_says_where_it_was_verified(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=SOAK)
    verified = stable_in_staging(repo)
    before = head(repo)
    res = at("2026-03-02T09:40:00Z", repo, "release", "census-income", "--env", "prod", "--from", "staging")
    assert res.exit_code == 1
    assert res.stderr == (f"servespec: refused: overlays/prod.yaml:12: rollout.requires[0]: prod/census-income: release of {V2} refused: "
                          f"{V2} is stable in staging since 2026-03-02T09:10:00Z ({verified[:10]}), soak 1h00m00s required, "
                          "30m00s left; nothing committed\n")
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""
    row = next(r for r in json.loads(ok(at("2026-03-02T09:40:00Z", repo, "status", "--env", "prod", "--output", "json")).stdout)
               if r["model"] == "census-income")
    assert row["promotion"] == [{"from": "staging", "uri": V2, "eligible": False, "eligible_since": None,
                                 "command": "servespec release census-income --env prod --from staging",
                                 "reason": f"staging: {V2} is stable in staging since 2026-03-02T09:10:00Z ({verified[:10]}), "
                                           "soak 1h00m00s required, 30m00s left"}]
    text = ok(at("2026-03-02T10:10:00Z", repo, "status", "--env", "prod")).stdout
    assert (f"prod/census-income: stable {V1} (never released); from staging: {V2} eligible since 2026-03-02T10:10:00Z "
            "(`servespec release census-income --env prod --from staging`)\n") in text
    res = ok(at("2026-03-02T10:10:00Z", repo, "release", "census-income", "--env", "prod", "--from", "staging"))
    assert f"release(prod/census-income): {V2} at 10% (step 1/4)" in res.stdout
    assert trailers(repo) == [
        ("Servespec-Action", "release"), ("Servespec-Model", "census-income"), ("Servespec-Env", "prod"),
        ("Servespec-From", f"stable {V1}"), ("Servespec-To", f"canary 10% {V2} (stable {V1})"),
        ("Servespec-Verified-In", f"staging@{verified} (stable since 2026-03-02T09:10:00Z)")]
    state = yaml.safe_load((repo / "overlays/prod.rollout.yaml").read_text())["models"]["census-income"]
    assert (state["candidate"], state["since"]) == (V2, "2026-03-02T10:10:00Z")  # the state's since is SERVESPEC_NOW too


def test_a_version_never_stable_in_staging_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=SOAK)
    ok(at(T0, repo, "release", "census-income", "--env", "staging", "--storage-uri", V2))  # a canary, never 100%
    res = at("2026-03-09T09:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V3)
    assert res.exit_code == 1
    assert res.stderr.endswith(f"refused: {V3} was never stable in staging; nothing committed\n")
    res = at("2026-03-09T09:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)
    assert res.stderr.endswith(f"refused: {V2} is not stable in staging: canary at 50% since 2026-03-02T09:00:00Z; nothing committed\n")
    assert git(repo, "log", "--format=%s").count("\n") == 2  # initial and the staging release


def test_rolled_back_in_staging_after_soaking_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=SOAK)
    stable_in_staging(repo, V2, T0)
    # two hours later staging goes back to the version it served before: v2 is rolled back there
    stable_in_staging(repo, V1, "2026-03-02T11:00:00Z")
    res = at("2026-03-02T13:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)
    assert res.exit_code == 1
    assert res.stderr.endswith(f"refused: {V2} was rolled back in staging at 2026-03-02T11:10:00Z ({head(repo)[:10]}) "
                               "after being stable since 2026-03-02T09:10:00Z; nothing committed\n")


def forge(repo: Path, how: str) -> str:
    """A commit claiming v2 became stable in staging, without (all of) the change servespec makes."""
    if how in ("state", "state-and-isvc-touched"):
        (repo / "overlays/staging.rollout.yaml").write_text(
            f"models:\n  census-income:\n    phase: stable\n    stable: {V2}\n    since: \"2026-03-01T00:00:00Z\"\n")
    if how == "state-and-isvc-touched":
        isvc = repo / "rendered/staging/models/census-income/inferenceservice.yaml"
        isvc.write_text(isvc.read_text() + "# reviewed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m",
        f"promote(staging/census-income): 50% -> 100%\n\nServespec-Action: promote\nServespec-Model: census-income\n"
        f"Servespec-Env: staging\nServespec-From: canary 50% {V2} (stable {V1})\nServespec-To: stable {V2}\n")
    return head(repo)


@pytest.mark.parametrize(("how", "why"), [
    ("trailer-only", "overlays/staging.rollout.yaml has no valid entry for census-income there"),
    ("state", "does not change the rendered InferenceService of census-income under rendered/staging/"),
    ("state-and-isvc-touched", f"rendered/staging/models/census-income/inferenceservice.yaml does not serve {V2} there"),
])
def test_a_forged_trailer_without_the_rendered_change_is_refused(tmp_path: Path, how: str, why: str) -> None:
    repo = make_repo(tmp_path, prod=SOAK)
    forged = forge(repo, how)
    res = at("2026-03-09T09:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)
    assert res.exit_code == 1
    assert res.stderr.endswith(f"refused: {V2} was never stable in staging; not counted: commit {forged[:10]} claims "
                               f"'stable {V2}' but {why}; nothing committed\n")
    assert head(repo) == forged


FREEZE = ("  freeze:\n    - {from: \"2026-12-18T00:00:00+01:00\", to: \"2027-01-04T00:00:00+01:00\", reason: year-end freeze}\n")


def test_a_freeze_refuses_promote_not_rollback_and_break_glass_is_recorded(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=FREEZE)
    ok(at("2026-12-17T12:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2))
    before = head(repo)
    inside = "2026-12-20T10:00:00Z"
    closed = ("promote refused: inside freeze 'year-end freeze' (2026-12-18T00:00:00+01:00 to 2027-01-04T00:00:00+01:00); "
              "opens at 2027-01-03T23:00:00Z (in 14d13h00m); --break-glass REASON overrides")
    res = at(inside, repo, "promote", "census-income", "--env", "prod", "--skip-gates")
    assert (res.exit_code, res.stderr) == (1, f"servespec: refused: overlays/prod.yaml:13: rollout.freeze[0]: prod/census-income: {closed}\n")
    res = at(inside, repo, "promote", "--all", "--env", "prod", "--skip-gates")
    assert (res.exit_code, res.stdout) == (0, f"prod/census-income: skipped: {closed}\n")
    assert head(repo) == before
    res = ok(at(inside, repo, "rollback", "census-income", "--env", "prod"))
    assert f"rollback(prod/census-income): 10% -> 0%, all traffic to {V1}" in res.stdout
    res = ok(at(inside, repo, "release", "census-income", "--env", "prod", "--storage-uri", V3, "--break-glass", "INC-4711: fraud spike, CTO ok"))
    assert res.stderr == "prod/census-income: break glass: release inside freeze 'year-end freeze' " \
                         "(2026-12-18T00:00:00+01:00 to 2027-01-04T00:00:00+01:00)\n"
    assert ("Servespec-Break-Glass", "INC-4711: fraud spike, CTO ok") in trailers(repo)
    res = at(inside, repo, "promote", "census-income", "--env", "prod", "--skip-gates", "--break-glass", " ")
    assert (res.exit_code, res.stderr) == (2, "servespec: error: --break-glass: expected a reason (who, why, the incident), found nothing\n")


WINDOW = "  windows: [{name: office-hours, days: [mon, tue, wed, thu], hours: \"09:00-16:00\", timeZone: Europe/Berlin}]\n"


def test_a_window_across_the_dst_change_in_berlin(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=WINDOW)
    res = at("2026-03-26T15:30:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2)  # Thursday 16:30 CET
    assert res.exit_code == 1
    # Monday 30 March 09:00 is CEST after the change on Sunday: 07:00Z, not 08:00Z
    assert res.stderr == ("servespec: refused: overlays/prod.yaml:12: rollout.windows: prod/census-income: release refused: outside the "
                          "rollout window office-hours (mon,tue,wed,thu 09:00-16:00 Europe/Berlin); opens at 2026-03-30T07:00:00Z "
                          "(in 3d15h30m); --break-glass REASON overrides\n")
    assert at("2026-03-30T06:59:59Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2).exit_code == 1
    ok(at("2026-03-30T07:00:00Z", repo, "release", "census-income", "--env", "prod", "--storage-uri", V2))


APPROVAL = "  approval: {required: true}\n"
HOOK = """#!/bin/sh
# branch protection: main only changes through merged pull requests
while read old new ref; do
  if [ "$ref" = "refs/heads/main" ]; then echo "main is protected: open a pull request" >&2; exit 1; fi
done
"""


def test_an_approval_env_pushes_a_branch_and_never_the_followed_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, prod=APPROVAL)
    remote = tmp_path / "gitops.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", f"file://{remote}")
    git(repo, "push", "-q", "origin", "main")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(HOOK)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    initial = head(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "direct")
    with pytest.raises(subprocess.CalledProcessError) as info:  # the protection works
        git(repo, "push", "-q", "origin", "main")
    assert "main is protected" in info.value.stderr
    git(repo, "reset", "-q", "--hard", initial)

    res = ok(at(T0, repo, "release", "census-income", "--env", "prod", "--storage-uri", V2, "--push"))
    branch = proposal_branch(remote)
    sha = head(remote, branch)
    assert res.stdout == (f"[{sha[:10]}] release(prod/census-income): {V2} at 10% (step 1/4): needs approval, pushed to {branch}\n"
                          f"open a pull request into main: https://git.example.com/ml-platform/servespec/compare/main...{branch}?expand=1\n")
    assert head(remote, "main") == initial == head(repo)  # the followed branch never moved, here or there
    assert git(repo, "status", "--porcelain") == ""
    assert git(remote, "show", "--name-only", "--format=%s", branch).split("\n")[0] == f"release(prod/census-income): {V2} at 10% (step 1/4)"
    assert yaml.safe_load(git(remote, "show", f"{branch}:overlays/prod.rollout.yaml"))["models"]["census-income"]["candidate"] == V2
    # the same proposal again: refused before anything is committed
    res = at(T0, repo, "release", "census-income", "--env", "prod", "--storage-uri", V2, "--push")
    assert (res.exit_code, res.stderr) == (2, f"servespec: error: git: a local branch {branch} exists already (an earlier proposal): "
                                              f"merge or delete it (git branch -D {branch}), then re-run; nothing committed\n")
    assert head(repo) == initial


def proposal_branch(remote: Path) -> str:
    names = git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads/servespec/").split()
    assert len(names) == 1 and names[0].startswith("servespec/prod/census-income/step1-v"), names
    return names[0]


def test_the_example_chain_dev_staging_prod_in_status(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "repo", policy=True)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "initial")
    ok(at(T0, repo, "release", "census-income", "--env", "dev", "--storage-uri", V2))  # dev: [100], stable at once
    text = ok(at("2026-03-02T09:01:00Z", repo, "status", "--env", "staging")).stdout
    assert f"staging/census-income: stable {V1} (never released); from dev: {V2} eligible since 2026-03-02T09:00:00Z " \
           "(`servespec release census-income --env staging --from dev`)" in text
    ok(at("2026-03-02T09:01:00Z", repo, "release", "census-income", "--env", "staging", "--from", "dev"))
    assert ("Servespec-Verified-In", f"dev@{head(repo, 'HEAD~1')} (stable since 2026-03-02T09:00:00Z)") in trailers(repo)
    ok(at("2026-03-02T09:10:00Z", repo, "promote", "census-income", "--env", "staging", "--skip-gates"))
    rows = {(r["env"], r["model"]): r for r in json.loads(ok(at("2026-03-02T09:30:00Z", repo, "status", "--output", "json")).stdout)}
    assert rows[("staging", "census-income")]["promotion"] == []  # staging serves what dev does
    assert rows[("prod", "census-income")]["promotion"][0]["eligible"] is False
    assert rows[("prod", "census-income")]["closed"] is None
    text = ok(at("2026-03-02T10:10:00Z", repo, "status", "--env", "prod")).stdout
    assert f"from staging: {V2} eligible since 2026-03-02T10:10:00Z" in text
    res = ok(at("2026-03-02T10:10:00Z", repo, "release", "census-income", "--env", "prod", "--from", "staging"))
    assert "needs approval, on the local branch servespec/prod/census-income/step1-v" in res.stdout
    # Friday: closed (the window is Monday to Thursday); status says so once per env
    text = ok(at("2026-03-06T10:00:00Z", repo, "status", "--env", "prod")).stdout
    assert text.startswith("prod: closed to release and promote: outside the rollout window office-hours "
                           "(mon,tue,wed,thu 09:00-16:00 Europe/Berlin); opens at 2026-03-09T08:00:00Z (in 2d22h00m)\n")


def test_render_and_init_keep_codeowners_in_sync(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "repo", policy=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "CODEOWNERS").write_text("* @ml-platform/everyone\n")
    res = ok(run_cli("render", "--root", repo))
    assert "CODEOWNERS: code owners updated from the overlays" in res.stdout
    owners = (repo / "CODEOWNERS").read_text()
    assert owners.endswith("/overlays/prod.* @ml-platform/prod-approvers\n/overlays/prod/ @ml-platform/prod-approvers\n"
                           "/rendered/prod/ @ml-platform/prod-approvers\n# END servespec\n")
    assert owners.startswith("* @ml-platform/everyone\n\n# BEGIN servespec")
    ok(run_cli("render", "--check", "--root", repo))
    path = repo / "overlays/staging.yaml"
    path.write_text(path.read_text() + "owners: [\"@ml-platform/staging\", ml-lead@example.com]\n")
    res = run_cli("render", "--check", "--root", repo)
    assert res.exit_code == 1
    assert res.stderr == ("servespec: error: CODEOWNERS: not in line with the owners: of the overlays; "
                          "`servespec render` rewrites its servespec lines\n")
    ok(run_cli("render", "--root", repo))
    assert "/rendered/staging/ @ml-platform/staging ml-lead@example.com\n" in (repo / "CODEOWNERS").read_text()
    new = tmp_path / "new"
    ok(run_cli("init", str(new), "--servespec-source", "servespec==0.1.0"))
    assert not (new / ".github/CODEOWNERS").exists()  # the template's owners are commented out
    prod = new / "overlays/prod.yaml"
    prod.write_text(prod.read_text().replace("# owners: [\"@your-org/ml-prod\"]", "owners: [\"@your-org/ml-prod\"]"))
    ok(run_cli("render", "--root", new))
    assert "/rendered/prod/ @your-org/ml-prod\n" in (new / ".github/CODEOWNERS").read_text()
