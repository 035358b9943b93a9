"""Random overlays either render or fail with exit 2 and located one-line errors: never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import copy_example, run_cli

KEYS = [
    "namespace", "createNamespace", "kubernetesVersion", "kserveVersion", "allowPlaintextSecrets",
    "requireResourceLimits", "defaults", "models", "storage", "minReplicas", "maxReplicas", "enabled",
    "resources", "requests", "limits", "cpu", "memory", "annotations", "labels", "census-income",
    "sklearn-iris", "minio", "credentials", "source", "deploymentMode", "loggerUrl", "rollout", "monitoring",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["ml-qa", "1.30", "0.15", "Knative", "Standard", "plaintext", "1Gi", "100m", "", "Bad Name", "true"]),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=6)), children, max_size=4),
    ),
    max_leaves=12,
)
overlays = st.one_of(
    st.fixed_dictionaries({"namespace": st.sampled_from(["ml-qa", "qa", "Bad"])},
                          optional={k: values for k in KEYS[1:10]}),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5),
    values,
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example(tmp_path_factory.mktemp("fuzz") / "repo")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overlay=overlays)
def test_random_overlay_renders_or_fails_cleanly(repo: Path, overlay: object) -> None:
    (repo / "overlays/qa.yaml").write_text(yaml.safe_dump(overlay))
    result = run_cli("render", "--env", "qa", "--check", "--root", repo)
    assert result.exit_code in (0, 1, 2), result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and all(line.startswith("servespec: error: ") for line in lines), lines
        assert all(("overlays/qa.yaml" in line) or ("specs/" in line) for line in lines), lines


STATE_KEYS = ["models", "census-income", "sklearn-iris", "phase", "stable", "candidate", "step", "traffic", "since",
              "lastGate", "result", "at", "summary", "rolledBack", "specUri"]
state_values = st.one_of(
    scalars,
    st.sampled_from(["stable", "canary", "rolled-back", "s3://census-income/v2", "s3://a:b@c/d", "s3://x\nServespec-Action: y",
                     "2026-11-24T18:00:00Z", "passed"]),
)
states = st.one_of(
    st.fixed_dictionaries({"models": st.dictionaries(
        st.sampled_from(["census-income", "sklearn-iris", "ghost"]),
        st.dictionaries(st.sampled_from(STATE_KEYS), state_values, max_size=7), max_size=2)}),
    st.recursive(state_values, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(STATE_KEYS), c, max_size=4)),
                 max_leaves=10),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states)
def test_random_state_file_renders_or_fails_cleanly(repo: Path, state: object) -> None:
    path = repo / "overlays/prod.rollout.yaml"
    path.write_text(yaml.safe_dump(state))
    try:
        result = run_cli("render", "--env", "prod", "--check", "--root", repo)
    finally:
        path.unlink()
    assert result.exit_code in (0, 1, 2), result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and all(line.startswith("servespec: error: overlays/prod.rollout.yaml") for line in lines), lines


cli_text = st.one_of(st.text(max_size=40), st.sampled_from(["s3://census-income/v2", "--to", "10", "prod", "census-income",
                                                             "s3://k:s@b/v", "gs://x\u2028y", "-", "--push", "nope"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["release", "promote", "rollback"]), model=cli_text, env=cli_text, extra=st.lists(cli_text, max_size=3))
def test_random_rollout_arguments_fail_cleanly_and_commit_nothing(repo: Path, command: str, model: str, env: str,
                                                                    extra: list[str]) -> None:
    """``repo`` is no git repository, so nothing can be committed: every outcome is a clean error."""
    args = [command, model, "--env", env, *(["--storage-uri", extra[0]] if command == "release" and extra else extra)]
    result = run_cli(*args, "--root", repo)
    assert result.exit_code in (1, 2, 3), result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("servespec: ") for line in lines), lines
    assert not (repo / ".git").exists()
