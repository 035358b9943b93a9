"""The per-minor KServe feature table (servespec.kserve.versions), checked against the packaged schemas.

Field facts are read from the schemas here, so the table cannot drift from them; behaviour facts
cite the upstream code at the tag they come from (kserve/kserve@TAG:path:line).
"""

from __future__ import annotations

import pytest

from servespec.kserve.schemas import SUPPORTED, Schema, configmap_default, crd_schemas, storage_api_version
from servespec.kserve.versions import MINORS, Features, features, first_minor_with

ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
LLMISVC = "LLMInferenceService"


def _props(schema: object, *path: str) -> dict[str, object]:
    """``properties`` of the object at ``path`` (each step a property name), {} where the path does not exist."""
    node = schema
    for name in path:
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        node = props.get(name) if isinstance(props, dict) else None
    found = node.get("properties", {}) if isinstance(node, dict) else {}
    return found if isinstance(found, dict) else {}


def _isvc(minor: str) -> Schema:
    return crd_schemas(minor)[ISVC]


def test_one_table_per_supported_minor() -> None:
    assert [f.release for f in MINORS.values()] == list(SUPPORTED)
    assert list(MINORS) == ["0.14", "0.15", "0.16", "0.17", "0.18", "0.19", "0.20"]


@pytest.mark.parametrize(("requested", "minor"), [("0.15", "0.15"), ("v0.15", "0.15"), ("0.15.2", "0.15"), ("0.20.0", "0.20")])
def test_features_resolves_the_version(requested: str, minor: str) -> None:
    assert features(requested) is MINORS[minor]


def test_features_of_an_unsupported_version() -> None:
    with pytest.raises(ValueError) as err:
        features("0.13")
    assert str(err.value) == "KServe 0.13 is not supported (supported: 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.20)"


# -- the table against the schemas -------------------------------------------------------------------


@pytest.mark.parametrize("minor", list(MINORS))
def test_isvc_fields_match_the_schema(minor: str) -> None:
    f, isvc = MINORS[minor], _isvc(minor)
    predictor = _props(isvc, "spec", "predictor")
    assert f.standard_canary == ("canary" in _props(isvc, "spec"))
    assert f.standard_canary == ("canaryStatuses" in _props(isvc, "status"))
    assert f.predictor_name == ("name" in predictor)
    assert f.knative_canary == ("canaryTrafficPercent" in predictor)
    assert f.keda_autoscaling == ("metrics" in _props(isvc, "spec", "predictor", "autoScaling"))
    for component in ("predictor", "transformer", "explainer"):
        assert f.storage_uris == ("storageUris" in _props(isvc, "spec", component)), component


@pytest.mark.parametrize("minor", list(MINORS))
def test_kinds_match_the_schemas(minor: str) -> None:
    f, shipped = MINORS[minor], crd_schemas(minor)
    llm_versions = tuple(sorted(api for api, kind in shipped if kind == LLMISVC))
    assert f.llm_inference_service == bool(llm_versions)
    assert f.llm_api_versions == llm_versions
    assert f.llm_storage_api_version == storage_api_version(LLMISVC, minor)
    assert f.local_model_namespace_cache == any(kind == "LocalModelNamespaceCache" for _, kind in shipped)


@pytest.mark.parametrize("minor", list(MINORS))
def test_llm_router_route_weight_matches_the_schema(minor: str) -> None:
    f, stored = MINORS[minor], storage_api_version(LLMISVC, minor)
    route = _props(crd_schemas(minor)[(stored, LLMISVC)], "spec", "router", "route") if stored else {}
    assert f.llm_router_route_weight == ("weight" in route)
    assert f.llm_router_route_weight == ("group" in route)


@pytest.mark.parametrize("minor", list(MINORS))
def test_default_deployment_mode_is_the_configmaps(minor: str) -> None:
    # kserve/kserve@v0.20.0:config/configmap/inferenceservice.yaml:745 "defaultDeploymentMode": "Serverless"
    assert MINORS[minor].default_deployment_mode == configmap_default("deploy.defaultDeploymentMode", minor)


# -- behaviour, from the controller and webhook code at each tag ---------------------------------------


def test_deployment_mode_names() -> None:
    # kserve/kserve@v0.15.2:pkg/constants/constants.go:424-425: Serverless, RawDeployment (no other names)
    # kserve/kserve@v0.16.0:pkg/constants/constants.go:464-467: Knative, Standard added, the old names deprecated
    old = [(f.knative_mode, f.standard_mode) for f in MINORS.values() if f.minor in ("0.14", "0.15")]
    new = [(f.knative_mode, f.standard_mode) for f in MINORS.values() if f.minor not in ("0.14", "0.15")]
    assert old == [("Serverless", "RawDeployment")] * 2
    assert new == [("Knative", "Standard")] * 5


def test_legacy_mode_names_are_rewritten_from_0_17() -> None:
    # kserve/kserve@v0.17.1:pkg/apis/serving/v1beta1/inference_service_defaults.go:160-169 rewrites
    # RawDeployment -> Standard and Serverless -> Knative; @v0.16.0:...inference_service_defaults.go:157-
    # (DefaultInferenceService) has no such rewrite.
    assert [m for m, f in MINORS.items() if f.legacy_mode_names_rewritten] == ["0.17", "0.18", "0.19", "0.20"]


def test_standard_canary_does_not_route_in_any_shipped_release() -> None:
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/components/predictor.go:232 creates the
    # canary Deployments/Services; pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/ has no canary
    # code at v0.20.0. HTTPRoute weights came with kserve/kserve#5912 (commit 85b09080, not in v0.20.0).
    assert [f.standard_canary for f in MINORS.values()] == [False] * 6 + [True]
    assert not any(f.standard_canary_routes for f in MINORS.values())


def test_knative_canary_is_read_by_the_knative_reconciler_in_every_release() -> None:
    # kserve/kserve@v0.14.1:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:120
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:134
    assert all(f.knative_canary for f in MINORS.values())


def test_llm_route_weight_routes_in_0_20() -> None:
    # kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/router_group_routing.go:42 sets the HTTPRoute
    # backend weight of each group member from spec.router.route.weight
    assert [m for m, f in MINORS.items() if f.llm_router_route_weight] == ["0.20"]


def test_keda_reads_autoscaling_from_0_15() -> None:
    # kserve/kserve@v0.15.2:pkg/controller/v1beta1/inferenceservice/reconcilers/keda/keda_reconciler.go:75
    assert first_minor_with("keda_autoscaling") == "0.15"


# -- first_minor_with --------------------------------------------------------------------------------


@pytest.mark.parametrize(("feature", "minor"), [
    ("standard_canary", "0.20"), ("predictor_name", "0.20"), ("storage_uris", "0.16"), ("llm_inference_service", "0.16"),
    ("local_model_namespace_cache", "0.18"), ("legacy_mode_names_rewritten", "0.17"), ("knative_canary", "0.14"),
    ("standard_canary_routes", None),
])
def test_first_minor_with(feature: str, minor: str | None) -> None:
    assert first_minor_with(feature) == minor


@pytest.mark.parametrize("feature", ["knative_mode", "canary", "llm_api_versions"])
def test_first_minor_with_rejects_what_is_not_a_flag(feature: str) -> None:
    with pytest.raises(ValueError) as err:
        first_minor_with(feature)
    assert str(err.value) == f"unknown KServe feature {feature!r}: expected a yes/no field of Features, e.g. 'standard_canary'"


def test_features_are_frozen() -> None:
    with pytest.raises(AttributeError):
        MINORS["0.20"].standard_canary = False  # type: ignore[misc]
    assert isinstance(features("0.20"), Features)
