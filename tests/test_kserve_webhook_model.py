"""KServe's rules on the served model (runtime, format, storage, env) and on canaries/predictor
names, per minor. Each test cites the upstream code it encodes (``kserve/kserve@<tag>:<path>:<line>``)."""

from __future__ import annotations

from kserve_cases import isvc, messages
from servespec.kserve.model import RUNTIMES, runtimes, storage_prefixes
from servespec.kserve.webhook import check_inferenceservice

MODEL = "spec.predictor.model"


# --- runtime and model format -----------------------------------------------------------------

def test_model_format_version_shape() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_model.go:36-40 ("major", "major.minor", "major.minor.patch")
    found = check_inferenceservice(isvc(model={"modelFormat": {"name": "sklearn", "version": "v1"}}), None, (0, 20))
    assert messages(found, "model-format-version") == [
        f"{MODEL}.modelFormat.version: expected \"major\", \"major.minor\" or \"major.minor.patch\", found 'v1'"]
    assert messages(check_inferenceservice(isvc(model={"modelFormat": {"name": "sklearn", "version": "1.3.2"}}),
                                           None, (0, 20)), "model-format-version") == []


def test_named_runtime_must_declare_the_exact_format_version() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_model.go:132-163 (exact "mt:<name>:<version>" labels),
    # pkg/controller/v1beta1/inferenceservice/components/predictor.go:359-365; kserve-xgbserver declares xgboost "1" in
    # v0.14.1..v0.16.0:config/runtimes/kserve-xgbserver.yaml and "2" from v0.17.1
    xgb1 = {"modelFormat": {"name": "xgboost", "version": "1"}, "runtime": "kserve-xgbserver"}
    assert check_inferenceservice(isvc(model=xgb1), None, (0, 16)) == []
    assert messages(check_inferenceservice(isvc(model=xgb1), None, (0, 17)), "runtime-model-format") == [
        f"{MODEL}.modelFormat: expected a format runtime kserve-xgbserver declares on KServe 0.17 (xgboost:2; the version "
        "must match exactly), found 'xgboost:1' (KServe 0.14-0.16 declares xgboost:1)"]
    minor_version = {"modelFormat": {"name": "xgboost", "version": "2.0"}, "runtime": "kserve-xgbserver"}
    assert messages(check_inferenceservice(isvc(model=minor_version), None, (0, 20)), "runtime-model-format") == [
        f"{MODEL}.modelFormat: expected a format runtime kserve-xgbserver declares on KServe 0.20 (xgboost:2; the version "
        "must match exactly), found 'xgboost:2.0'"]


def test_named_runtime_must_support_the_protocol() -> None:
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/components/predictor.go:349-356,
    # pkg/apis/serving/v1alpha1/servingruntime_types.go:304-314; kserve-mlserver is v2 only (config/runtimes)
    mlserver = {"modelFormat": {"name": "sklearn", "version": "1"}, "runtime": "kserve-mlserver", "protocolVersion": "v1"}
    assert messages(check_inferenceservice(isvc(model=mlserver), None, (0, 20)), "runtime-protocol") == [
        f"{MODEL}.protocolVersion: expected one of v2 for runtime kserve-mlserver on KServe 0.20, found 'v1'"]
    assert check_inferenceservice(isvc(model={**mlserver, "protocolVersion": "v2"}), None, (0, 20)) == []


def test_runtime_the_minor_does_not_install() -> None:
    # kserve/kserve@v0.17.1:config/runtimes/kustomization.yaml adds kserve-predictiveserver (absent in v0.16.0)
    pred = {"modelFormat": {"name": "sklearn", "version": "1"}, "runtime": "kserve-predictiveserver"}
    assert messages(check_inferenceservice(isvc(model=pred), None, (0, 16)), "runtime-missing") == [
        f"{MODEL}.runtime: expected a ClusterServingRuntime KServe 0.16 installs, found 'kserve-predictiveserver' "
        "(shipped with KServe 0.17-0.20)"]
    assert check_inferenceservice(isvc(model=pred), None, (0, 17)) == []
    assert check_inferenceservice(isvc(model={**pred, "runtime": "team-sklearn"}), None, (0, 16)) == []


def test_auto_selected_runtime_must_exist() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_model.go:88-130 (autoSelect formats, protocol),
    # pkg/controller/v1beta1/inferenceservice/components/predictor.go:379-389 ("no runtime found ...")
    found = check_inferenceservice(isvc(model={"modelFormat": {"name": "xgboost", "version": "3"}}), None, (0, 20))
    assert messages(found, "runtime-auto-select") == [
        f"{MODEL}.modelFormat: expected a format an installed runtime auto-selects, or a runtime named (no runtime found "
        "to support the predictor; KServe 0.20 auto-selects kserve-mlserver xgboost:1 (v2), kserve-mlserver xgboost:2 "
        "(v2), kserve-xgbserver xgboost:2 (v1/v2)), found 'xgboost:3 with protocol v1'"]
    found = check_inferenceservice(isvc(model={"modelFormat": {"name": "caffe"}}), None, (0, 20))
    assert messages(found, "runtime-auto-select") == [
        f"{MODEL}.modelFormat: expected a format an installed runtime auto-selects, or a runtime named (no runtime found "
        "to support the predictor; no runtime KServe 0.20 installs auto-selects 'caffe'), found 'caffe with protocol v1'"]
    tf2_v2 = {"modelFormat": {"name": "tensorflow", "version": "2"}, "protocolVersion": "v2"}  # Triton auto-selects it
    assert check_inferenceservice(isvc(model=tf2_v2), None, (0, 20)) == []


def test_runtime_table_covers_every_minor() -> None:
    # The table's source: config/runtimes/kustomization.yaml at each tag (10 runtimes in v0.14.1, 11 in v0.17.1,
    # 13 in v0.20.0, multi-node runtimes left out)
    assert [len(runtimes((0, m))) for m in range(14, 21)] == [10, 10, 10, 11, 11, 11, 13]
    assert all(lo <= hi for _, lo, hi, _, _ in RUNTIMES)


# --- storage URIs ---------------------------------------------------------------------------

def test_storage_uri_schemes_per_minor() -> None:
    # kserve/kserve@v0.14.1:pkg/controller/v1beta1/inferenceservice/utils/utils.go:46 (no hf://),
    # v0.15.2:utils.go:47 (hf://), v0.20.0:utils.go:48 (oci+native://); checked at reconcile: v0.20.0:utils.go:411-442
    hf = isvc(model={"storageUri": "hf://org/model"})
    assert messages(check_inferenceservice(hf, None, (0, 14)), "storage-uri-scheme") == [
        f"{MODEL}.storageUri: expected a URI starting with one of gs://, s3://, pvc://, file://, https://, http://, "
        "hdfs://, webhdfs://, oci://, an Azure blob URL or a local path (KServe 0.14 refuses it at every reconcile "
        "unless a ClusterStorageContainer supports it), found a 'hf://' URI (hf:// is supported from KServe 0.15)"]
    assert messages(check_inferenceservice(hf, None, (0, 15)), "storage-uri-scheme") == []
    assert "oci+native://" in storage_prefixes((0, 20)) and "oci+native://" not in storage_prefixes((0, 19))


def test_storage_uri_message_never_shows_the_uri() -> None:
    # Same rule; a URI may carry credentials, so only its scheme is printed.
    found = check_inferenceservice(isvc(model={"storageUri": "ftp://user:secret@host/m"}), None, (0, 20))
    assert len(messages(found, "storage-uri-scheme")) == 1 and "secret" not in str(found)
    assert "found a 'ftp://' URI" in messages(found, "storage-uri-scheme")[0]


def test_local_paths_and_azure_blob_pass() -> None:
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/utils/utils.go:427-439 (`\w+?://`, Azure regex)
    for uri in ("/mnt/models", "models/sk", "https://acct.blob.core.windows.net/c/m"):
        assert check_inferenceservice(isvc(model={"storageUri": uri}), None, (0, 20)) == [], uri
    assert messages(check_inferenceservice(isvc(model={"storageUri": "http://blob.core.windows.net"}), None, (0, 20)),
                    "storage-uri-scheme") != []


# --- webhook rules on the predictor ------------------------------------------------------------

def test_predictor_model_name_refused_from_016() -> None:
    # kserve/kserve@v0.16.0:pkg/apis/serving/v1beta1/inference_service_validation.go:158-191 (validatePredictor)
    named = isvc(model={"name": "kserve-container"})
    assert messages(check_inferenceservice(named, None, (0, 16)), "predictor-model-name") == [
        f"{MODEL}.name: expected no name in the predictor's model on KServe 0.16 (the 'name' field is not allowed in "
        "standard predictor), found 'kserve-container'"]
    assert check_inferenceservice(isvc("Serverless", model={"name": "kserve-container"}), None, (0, 15)) == []


def test_collocated_transformer_must_not_get_storage_uri() -> None:
    # kserve/kserve@v0.14.1:pkg/apis/serving/v1beta1/inference_service_validation.go:278-290
    containers = [{"name": "kserve-container", "image": "p:1"},
                  {"name": "transformer-container", "image": "t:1", "env": [{"name": "STORAGE_URI", "value": "s3://b"}]}]
    found = check_inferenceservice(isvc(predictor={"containers": containers}), None, (0, 20))
    assert messages(found, "collocation-storage-uri") == [
        "spec.predictor.containers[1].env[0].name: expected no STORAGE_URI in the collocated transformer-container "
        "(storage uri should not be specified in transformer container), found it"]
    containers[1]["env"] = [{"name": "MODEL", "value": "m"}]
    assert check_inferenceservice(isvc(predictor={"containers": containers}), None, (0, 20)) == []


def test_pythonpath_blocked_from_019() -> None:
    # kserve/kserve@v0.19.0:pkg/validation/env_policy.go:25-43, called from
    # v0.19.0:pkg/apis/serving/v1beta1/inference_service_validation.go:127,202-285
    env = {"env": [{"name": "PYTHONPATH", "value": "/x"}]}
    assert messages(check_inferenceservice(isvc(model=env), None, (0, 19)), "blocked-env") == [
        f"{MODEL}.env[0].name: expected no PYTHONPATH on KServe 0.19 (setting it is not allowed for security reasons), "
        "found it"]
    assert messages(check_inferenceservice(isvc(model=env), None, (0, 18)), "blocked-env") == []


# --- canaries and predictor names -------------------------------------------------------------

STABLE = {"name": "stable", "minReplicas": 2}


def canary(name: str = "cand", pct: int = 0, **predictor: object) -> dict[str, object]:
    """One ``spec.canary[]`` entry."""
    return {"predictor": {"name": name, **predictor}, "trafficPercent": pct}


def test_canary_traffic_percent_is_ignored_in_standard_mode() -> None:
    # Only the Knative reconciler reads it: kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/
    # reconcilers/knative/ksvc_reconciler.go:134 (no other reader under pkg/ at any supported tag)
    found = check_inferenceservice(isvc("RawDeployment", predictor={"canaryTrafficPercent": 10}), None, (0, 15))
    assert messages(found, "canary-traffic-percent-ignored") == [
        "spec.predictor.canaryTrafficPercent: expected no canaryTrafficPercent in Standard mode (only the Knative "
        "reconciler reads it: KServe 0.15 ignores it silently), found 10"]
    assert check_inferenceservice(isvc("Serverless", predictor={"canaryTrafficPercent": 10}), None, (0, 15)) == []


def test_canary_and_predictor_name_need_020() -> None:
    # spec.canary[] and spec.predictor.name arrive with commit 43ec86b5 (#5672), first in v0.20.0
    # (v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:183-266)
    found = check_inferenceservice(isvc("Standard", predictor=STABLE, canary=[canary()]), None, (0, 19))
    assert messages(found, "canary-unsupported") == [
        "spec.canary: expected no spec.canary on KServe 0.19 (spec.canary[] arrives in 0.20), found 1 entries"]
    assert messages(found, "predictor-name-unsupported") == [
        "spec.predictor.name: expected no predictor.name on KServe 0.19 (it arrives in 0.20), found 'stable'"]
    assert check_inferenceservice(isvc("Standard", predictor=STABLE, canary=[canary()]), None, (0, 20)) == []


def test_canary_needs_standard_mode_and_a_stable_model() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:188-195
    assert messages(check_inferenceservice(isvc("Knative", predictor=STABLE, canary=[canary()]), None, (0, 20)),
                    "canary-mode") == [
        "spec.canary: expected deploymentMode Standard (canary is only supported in Standard deployment mode), found "
        "'Knative'"]
    no_model = isvc("Standard", predictor=STABLE, canary=[canary()])
    del no_model["spec"]["predictor"]["model"]
    assert messages(check_inferenceservice(no_model, None, (0, 20)), "canary-stable-model") == [
        "spec.predictor: expected a stable predictor with a model (canary requires one; multi-model serving is not "
        "supported with canary), found none"]


def test_canary_names() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:203-214
    found = check_inferenceservice(isvc("Standard", predictor=STABLE,
                                        canary=[canary(""), canary("a"), canary("a"), canary("stable")]), None, (0, 20))
    assert messages(found, "canary-name") == [
        "spec.canary[0].predictor.name: expected a name (canary predictor.name is required), found none",
        "spec.canary[2].predictor.name: expected a name unique among canaries, found 'a' again",
        "spec.canary[3].predictor.name: expected a name other than the stable predictor's, found 'stable'"]


def test_canary_traffic_bounds_and_no_split_in_020() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:216-219,261-263; no canary code under
    # v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/ (applyCanaryWeights is commit 85b09080, #5912)
    found = check_inferenceservice(isvc("Standard", predictor=STABLE, canary=[canary("a", 150), canary("b", 10)]),
                                   None, (0, 20))
    assert messages(found, "canary-traffic") == [
        "spec.canary: expected trafficPercent values summing to at most 100, found 160",
        "spec.canary[0].trafficPercent: expected 0 to 100, found 150"]
    assert messages(found, "canary-no-traffic-split") == [
        "spec.canary[1].trafficPercent: expected 0 on KServe 0.20 (0.20.0 creates the canary's Deployment and Service but "
        "routes no traffic to it; weighted HTTPRoute backends come after 0.20.0, kserve#5912), found 10"]


def test_canary_runs_fixed_replicas() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:231-258
    found = check_inferenceservice(isvc("Standard", predictor=STABLE, canary=[
        canary("a", maxReplicas=3, scaleMetric="cpu", workerSpec={}, minReplicas=3)]), None, (0, 20))
    assert messages(found, "canary-fixed-replicas") == [
        "spec.canary[0].predictor.maxReplicas: expected no maxReplicas (canary uses fixed replicas), found 3",
        "spec.canary[0].predictor.scaleMetric: expected no scaleMetric (canary uses fixed replicas), found 'cpu'",
        "spec.canary[0].predictor.workerSpec: expected no workerSpec (multi-node is not yet supported for canary), "
        "found one"]
    assert messages(found, "canary-min-replicas") == [
        "spec.canary[0].predictor.minReplicas: expected at most the stable predictor's minReplicas (2), found 3"]
    assert check_inferenceservice(isvc("Standard", predictor=STABLE, canary=[canary("a", minReplicas=2)]), None, (0, 20)) == []


def test_predictor_name_change_needs_a_new_model() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:102-104,703-726
    old = isvc("Standard", predictor={"name": "v1"})
    renamed = isvc("Standard", predictor={"name": "v2"})
    assert messages(check_inferenceservice(renamed, old, (0, 20)), "predictor-name-change") == [
        "spec.predictor.name: expected 'v1' or a new storageUri with it (predictor.name change requires a model change), "
        "found 'v2' with the same storageUri"]
    promoted = isvc("Standard", predictor={"name": "v2"}, model={"storageUri": "s3://bucket/m2"})
    assert check_inferenceservice(promoted, old, (0, 20)) == []
