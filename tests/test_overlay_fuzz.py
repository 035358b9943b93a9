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
