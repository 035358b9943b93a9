"""The feature flags the InferenceService surface added to ``servespec.kserve.versions``: field facts read from
the packaged schemas (so the table cannot drift from them), behaviour facts with the upstream code they
come from."""

from __future__ import annotations

import pytest

from servespec.kserve.schemas import crd_schemas
from servespec.kserve.versions import MINORS, first_minor_with


def _props(schema: object, *path: str) -> dict[str, object]:
    node = schema
    for name in path:
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        node = props.get(name) if isinstance(props, dict) else None
    found = node.get("properties", {}) if isinstance(node, dict) else {}
    return found if isinstance(found, dict) else {}


@pytest.mark.parametrize("minor", list(MINORS))
def test_worker_sizes_and_autoscaling_behavior_match_the_schema(minor: str) -> None:
    isvc = crd_schemas(minor)[("serving.kserve.io/v1beta1", "InferenceService")]
    f = MINORS[minor]
    worker = _props(isvc, "spec", "predictor", "workerSpec")
    assert f.worker_parallel_sizes == ("pipelineParallelSize" in worker) == ("tensorParallelSize" in worker)
    assert f.autoscaling_behavior == ("behavior" in _props(isvc, "spec", "predictor", "autoScaling"))
    metrics = _props(isvc, "spec", "predictor", "autoScaling").get("metrics", {})
    items = metrics.get("items", {}) if isinstance(metrics, dict) else {}
    assert f.autoscaling_behavior == ("authenticationRef" in _props(items, "external"))


def test_behaviour_flags_and_their_first_minor() -> None:
    # AZURE_ACCESS_TOKEN: kserve/kserve@v0.16.0:pkg/credentials/service_account_credentials.go:314 (absent at @v0.15.2:277-285);
    # oci:// for multi-node: @v0.16.0:pkg/apis/serving/v1beta1/inference_service_validation.go:218 (@v0.15.2:175 pvc only)
    assert first_minor_with("azure_access_token") == first_minor_with("multinode_oci") == "0.16"
    assert first_minor_with("worker_parallel_sizes") == "0.15" and first_minor_with("autoscaling_behavior") == "0.16"
