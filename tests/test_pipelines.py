"""Releasing from a pipeline: the git step (no kfp needed) and the Kubeflow Pipelines component.

The remote is a real bare repo over file://. The kfp tests compile the example pipeline with the
kfp compiler and run the component with kfp's local SubprocessRunner (in this venv: no Docker);
they are skipped when the ``kfp`` extra is not installed. (No ``from __future__ import
annotations`` here: kfp reads the pipeline functions' annotations as types.)
"""

import os
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from conftest import REPO, git
from servespec.errors import GitError, ServespecError, UsageError
from servespec.pipelines import GitCredentials, default_pr_branch, release_via_git

NEW_URI = "s3://census-income/serving_model/v2"
SUBJECT = f"release(prod/census-income): {NEW_URI} at 10% (step 1/4)"
RELEASE_FILES = ["overlays/prod.rollout.yaml", "rendered/prod/models/census-income/inferenceservice.yaml"]


@pytest.fixture
def remote(bare_remote: Path) -> Path:
    """The GitOps remote (conftest's bare repo)."""
    return bare_remote


def refs(bare: Path) -> str:
    """Every ref of the bare repo with its commit: equal before and after means untouched."""
    return git(bare, "for-each-ref", "--format=%(refname) %(objectname)")


def commits(bare: Path, rev_range: str) -> list[str]:
    return git(bare, "log", "--format=%s", rev_range).splitlines()


def changed_files(bare: Path, rev: str) -> list[str]:
    return sorted(git(bare, "show", "--format=", "--name-only", rev).split())


def quiet(*_args: object) -> None:
    pass


# -- the git step, without kfp --------------------------------------------------------------------
def test_release_pushes_one_commit_to_the_branch(remote: Path) -> None:
    before = git(remote, "rev-parse", "main").strip()
    result = release_via_git(f"file://{remote}", "main", "census-income", "prod", NEW_URI,
                             credentials=GitCredentials(), log=quiet)
    assert result.subject == SUBJECT and result.branch == "main"
    assert git(remote, "rev-parse", "main").strip() == result.commit
    assert commits(remote, f"{before}..main") == [SUBJECT]
    assert changed_files(remote, "main") == RELEASE_FILES
    body = git(remote, "log", "-1", "--format=%an <%ae>%n%B", "main")
    assert body.startswith("servespec pipeline <servespec-pipeline@localhost.invalid>\n")
    assert "Servespec-Model: census-income" in body and "Servespec-Env: prod" in body
    isvc = yaml.safe_load(git(remote, "show", "main:rendered/prod/models/census-income/inferenceservice.yaml"))
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == NEW_URI
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10


def test_releasing_the_stable_uri_again_pushes_nothing(remote: Path) -> None:
    before = refs(remote)
    stable = yaml.safe_load(git(remote, "show", "main:rendered/prod/models/census-income/inferenceservice.yaml"))["spec"]["predictor"]["model"]["storageUri"]
    result = release_via_git(f"file://{remote}", "main", "census-income", "prod", stable, credentials=GitCredentials(), log=quiet)
    assert result.commit == "" and result.branch == "" and "already stable" in result.subject
    assert refs(remote) == before


def test_bad_input_is_refused_before_cloning(remote: Path, tmp_path: Path) -> None:
    before = refs(remote)
    with pytest.raises(UsageError) as exc:
        release_via_git("https://bot:s3cret@git.example.com/ml/gitops.git", "main..x", "", "prod", NEW_URI,
                        credentials=GitCredentials(ssh_key_file=tmp_path / "missing"), log=quiet)
    assert [str(p) for p in exc.value.problems] == [
        "model: expected a value, found nothing",
        "repo_url: credentials in the repo URL are refused (they would be stored with the pipeline run): "
        "put the token in a Kubernetes Secret mounted as SERVESPEC_GIT_TOKEN",
        "branch: expected a valid git branch name, found 'main..x'",
        f"SERVESPEC_GIT_SSH_KEY: expected a private key file, found nothing at {tmp_path / 'missing'} (is the Secret mounted?)",
        "SERVESPEC_GIT_KNOWN_HOSTS: expected the path of a known_hosts file next to SERVESPEC_GIT_SSH_KEY "
        "(host keys are always checked), found it unset",
    ]
    assert "s3cret" not in str(exc.value)
    assert refs(remote) == before
    with pytest.raises(UsageError, match=r"^author: expected \"Name <email>\", found 'ci-bot'$"):
        release_via_git(f"file://{remote}", "main", "census-income", "prod", NEW_URI, author="ci-bot", credentials=GitCredentials(), log=quiet)


def test_unreachable_repo_and_missing_branch_fail_clearly(remote: Path, tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"^file://.*/nowhere\.git: cannot clone branch 'main': .*(Could not read from remote repository|does not appear to be a git repository)"):
        release_via_git(f"file://{tmp_path}/nowhere.git", "main", "census-income", "prod", NEW_URI, credentials=GitCredentials(), log=quiet)
    before = refs(remote)
    with pytest.raises(GitError, match=r"cannot clone branch 'release': .*Remote branch release not found"):
        release_via_git(f"file://{remote}", "release", "census-income", "prod", NEW_URI, credentials=GitCredentials(), log=quiet)
    assert refs(remote) == before


def test_unknown_model_or_env_leaves_the_remote_untouched(remote: Path) -> None:
    before = refs(remote)
    for model, env, message in [
        ("census-incme", "prod", "MODEL: 'census-incme' is not a model of env 'prod' (models: census-income, fraud-detector, llama3-chat, sklearn-iris, text-embedder)"),
        ("census-income", "qa", "overlays/: unknown environment 'qa' (known: dev, prod, staging)"),
    ]:
        with pytest.raises(ServespecError) as exc:
            release_via_git(f"file://{remote}", "main", model, env, NEW_URI, credentials=GitCredentials(), log=quiet)
        assert exc.value.exit_code == 2 and [str(p) for p in exc.value.problems] == [message]
    assert refs(remote) == before


def test_push_rejected_for_good_leaves_the_remote_untouched(remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = refs(remote)
    logged: list[str] = []
    with pytest.raises(ServespecError) as exc:
        release_via_git(f"file://{remote}", "main", "census-income", "prod", NEW_URI, credentials=GitCredentials(), log=logged.append)
    # a hook's refusal is final: no fetch/rebase/retry round
    assert exc.value.exit_code == 2 and str(exc.value) == (
        "origin: the remote refused the push to main: [remote rejected] (pre-receive hook declined); nothing was pushed\n"
        "the local commit was undone (HEAD is back at " + git(remote, "rev-parse", "main")[:10] + "): fix the cause and re-run the command")
    assert not any("attempt" in line for line in logged)
    assert refs(remote) == before


def test_pull_request_mode_pushes_a_new_branch_only(remote: Path) -> None:
    before = refs(remote)
    main = git(remote, "rev-parse", "main").strip()
    result = release_via_git(f"file://{remote}", "main", "census-income", "prod", NEW_URI, pull_request=True,
                             credentials=GitCredentials(), log=quiet)
    assert result.branch == default_pr_branch("census-income", "prod", NEW_URI)
    assert result.branch.startswith("servespec/release-prod-census-income-")
    assert git(remote, "rev-parse", "main").strip() == main
    assert commits(remote, f"main..{result.branch}") == [SUBJECT]
    assert refs(remote).replace(f"refs/heads/{result.branch} {result.commit}\n", "") == before
    # The same release proposed twice: refused, nothing pushed.
    with pytest.raises(UsageError, match="already exists on the remote"):
        release_via_git(f"file://{remote}", "main", "census-income", "prod", NEW_URI, pull_request=True,
                        credentials=GitCredentials(), log=quiet)


def test_root_dir_points_at_a_servespec_repo_inside_the_gitops_repo(tmp_path: Path) -> None:
    from conftest import copy_example

    work = tmp_path / "mono"
    copy_example(work / "deploy" / "serving")
    (work / "README.md").write_text("platform monorepo\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    bare = tmp_path / "mono.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    result = release_via_git(f"file://{bare}", "main", "census-income", "prod", NEW_URI, root_dir="deploy/serving",
                             credentials=GitCredentials(), log=quiet)
    assert result.subject == SUBJECT
    assert changed_files(bare, "main") == [f"deploy/serving/{f}" for f in RELEASE_FILES]
    with pytest.raises(UsageError, match=r"root_dir: expected a servespec repo \(specs/ and overlays/\) at the top of branch 'main', found none"):
        release_via_git(f"file://{bare}", "main", "census-income", "prod", NEW_URI, credentials=GitCredentials(), log=quiet)


def test_token_reaches_git_through_askpass_only(tmp_path: Path) -> None:
    creds = GitCredentials.from_env({"SERVESPEC_GIT_TOKEN": "tok-123", "SERVESPEC_GIT_USERNAME": "ci-bot"})
    env = creds.git_env(tmp_path)
    askpass = Path(env["GIT_ASKPASS"])
    assert "tok-123" not in askpass.read_text() and oct(askpass.stat().st_mode & 0o777) == "0o700"
    run = lambda prompt: subprocess.run([str(askpass), prompt], env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout  # noqa: E731
    assert run("Username for 'https://git.example.com': ") == "ci-bot\n"
    assert run("Password for 'https://ci-bot@git.example.com': ") == "tok-123\n"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert creds.redact("fatal: https://tok-123@x") == "fatal: https://***@x"


def test_ssh_key_is_copied_private(tmp_path: Path) -> None:
    key, hosts = tmp_path / "ssh-privatekey", tmp_path / "known_hosts"
    key.write_text("KEY\n")
    key.chmod(0o644)  # how a Secret volume mounts it
    hosts.write_text("")
    creds = GitCredentials.from_env({"SERVESPEC_GIT_SSH_KEY": str(key), "SERVESPEC_GIT_KNOWN_HOSTS": str(hosts)})
    assert creds.check() == []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    cmd = creds.git_env(scratch)["GIT_SSH_COMMAND"]
    copy = scratch / "id_git"
    assert copy.read_text() == "KEY\n" and oct(copy.stat().st_mode & 0o777) == "0o600"
    assert f"-i {copy}" in cmd and "StrictHostKeyChecking=yes" in cmd and f"UserKnownHostsFile={hosts}" in cmd


# -- the Kubeflow Pipelines component ---------------------------------------------------------------
@pytest.fixture
def kfp_local(tmp_path: Path):
    """kfp's local SubprocessRunner in this venv, outputs under tmp_path."""
    pytest.importorskip("kfp")
    import kfp.local

    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp-outputs"),
                   workspace_root=str(tmp_path / "kfp-workspace"))
    # The SubprocessRunner warns about any image whose name lacks "python"; here it runs in this venv.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You may be attemping", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner", category=UserWarning)
        yield kfp


def _load_pipeline_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("census_income_pipeline", REPO / "pipelines" / "census_income_pipeline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_pipeline_compiles_with_the_release_component(kfp_local, tmp_path: Path) -> None:
    from kfp import compiler

    module = _load_pipeline_module()
    out = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(module.census_income_pipeline, package_path=str(out))
    docs = list(yaml.safe_load_all(out.read_text()))
    spec, platform = docs[0], docs[1]
    assert sorted(spec["deploymentSpec"]["executors"]) == ["exec-evaluate", "exec-release-model", "exec-train"]
    params = spec["components"]["comp-release-model"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in params.items()} == {
        "repo_url": "STRING", "branch": "STRING", "model": "STRING", "env": "STRING", "storage_uri": "STRING",
        "pull_request": "BOOLEAN", "pr_branch": "STRING", "root_dir": "STRING", "author": "STRING"}
    assert sorted(k for k, v in params.items() if not v.get("isOptional")) == ["env", "model", "repo_url", "storage_uri"]
    assert not [k for k in params if any(w in k for w in ("token", "password", "key", "secret"))]
    # The release runs after evaluate, on the trained URI.
    task = spec["root"]["dag"]["tasks"]["release-model"]
    assert sorted(task["dependentTasks"]) == ["evaluate", "train"]
    assert task["inputs"]["parameters"]["storage_uri"]["taskOutputParameter"] == {"outputParameterKey": "Output", "producerTask": "train"}
    assert task["inputs"]["parameters"]["model"]["runtimeValue"]["constant"] == "census-income"
    assert task["inputs"]["parameters"]["pull_request"]["componentInputParameter"] == "pull_request"
    assert spec["root"]["inputDefinitions"]["parameters"]["pull_request"]["defaultValue"] is True
    # The token comes from a Kubernetes Secret whose name is a parameter, as an env variable.
    secret = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-release-model"]["secretAsEnv"]
    assert secret == [{"keyToEnv": [{"envVar": "SERVESPEC_GIT_TOKEN", "secretKey": "token"}], "optional": False,
                       "secretNameParameter": {"componentInputParameter": "git_secret"}}]
    # Nothing is pip-installed at run time: the image carries servespec[kfp].
    command = " ".join(spec["deploymentSpec"]["executors"]["exec-release-model"]["container"]["command"])
    assert "pip install" not in command


@pytest.mark.slow
def test_component_releases_through_the_local_runner(kfp_local, remote: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from servespec.pipelines.component import release_component

    before = git(remote, "rev-parse", "main").strip()
    task = release_component()(repo_url=f"file://{remote}", branch="main", model="census-income", env="prod", storage_uri=NEW_URI)
    assert commits(remote, f"{before}..main") == [SUBJECT]
    assert changed_files(remote, "main") == RELEASE_FILES
    assert task.outputs == {"commit": git(remote, "rev-parse", "main").strip(), "branch": "main"}
    assert f"pushed {task.outputs['commit'][:12]} to main: {SUBJECT}" in capsys.readouterr().out


@pytest.mark.slow
def test_failing_release_through_the_local_runner_leaves_the_remote_untouched(kfp_local, remote: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from servespec.pipelines.component import release_component

    before = refs(remote)
    with pytest.raises(RuntimeError, match="FAILURE"):
        release_component()(repo_url=f"file://{remote}", branch="main", model="census-incme", env="prod", storage_uri=NEW_URI)
    out = capsys.readouterr().out
    assert "servespec: error: MODEL: 'census-incme' is not a model of env 'prod' (models: census-income, fraud-detector, llama3-chat, sklearn-iris, text-embedder)\n" in out
    assert "servespec: nothing was pushed; the GitOps repo is unchanged" in out
    assert "Traceback" not in out
    assert refs(remote) == before


@pytest.mark.slow
def test_example_pipeline_runs_locally_and_proposes_the_release(kfp_local, remote: Path) -> None:
    before = refs(remote)
    uri = "s3://census-income/serving_model/v7"
    module = _load_pipeline_module()
    module.census_income_pipeline(repo_url=f"file://{remote}", model_version="v7")
    branch = default_pr_branch("census-income", "prod", uri)
    assert commits(remote, f"main..{branch}") == [f"release(prod/census-income): {uri} at 10% (step 1/4)"]
    assert refs(remote).replace(f"refs/heads/{branch} {git(remote, 'rev-parse', branch).strip()}\n", "") == before


@pytest.mark.slow
def test_example_pipeline_below_the_accuracy_threshold_releases_nothing(kfp_local, remote: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = refs(remote)
    module = _load_pipeline_module()
    with pytest.raises(RuntimeError, match="Inner task failed: .*evaluate"):
        module.census_income_pipeline(repo_url=f"file://{remote}", model_version="v7", min_accuracy=0.9)
    assert "evaluate: accuracy 0.853 is below 0.9: not releasing s3://census-income/serving_model/v7" in capsys.readouterr().out
    assert refs(remote) == before


def test_ssh_key_secret_is_mounted_as_a_volume(kfp_local, tmp_path: Path) -> None:
    from kfp import compiler, dsl

    from servespec.pipelines.component import release_component, use_git_ssh_secret

    @dsl.pipeline(name="release-over-ssh")
    def over_ssh(storage_uri: str) -> None:
        task = release_component()(repo_url="ssh://git@git.example.com/ml/gitops.git", model="census-income", env="prod",
                                   storage_uri=storage_uri)
        use_git_ssh_secret(task, secret_name="gitops-git-ssh")

    out = tmp_path / "ssh.yaml"
    compiler.Compiler().compile(over_ssh, package_path=str(out))
    spec, platform = yaml.safe_load_all(out.read_text())
    executor = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-release-model"]
    assert executor["secretAsVolume"] == [{"mountPath": "/etc/servespec/git-ssh", "optional": False,
                                           "secretName": "gitops-git-ssh", "secretNameParameter": {"runtimeValue": {"constant": "gitops-git-ssh"}}}]
    env = spec["deploymentSpec"]["executors"]["exec-release-model"]["container"]["env"]
    assert env == [{"name": "SERVESPEC_GIT_SSH_KEY", "value": "/etc/servespec/git-ssh/ssh-privatekey"},
                   {"name": "SERVESPEC_GIT_KNOWN_HOSTS", "value": "/etc/servespec/git-ssh/known_hosts"}]
