"""KServe's webhook and controller rules, per minor: deployment mode, names, replicas and scaling.

Each test cites the upstream code it encodes as ``kserve/kserve@<tag>:<path>:<line>`` (the tag
commits are in the project's KServe version notes); every failing case asserts the whole message.
"""

from __future__ import annotations

import pytest

from kserve_cases import MINORS, isvc, knative, messages, standard
from servespec.kserve.findings import Finding
from servespec.kserve.webhook import check_deployment_mode, check_inferenceservice, check_name, max_name_length

ANN = "metadata.annotations.serving.kserve.io/deploymentMode"


@pytest.mark.parametrize("minor", MINORS, ids=[f"0.{m[1]}" for m in MINORS])
def test_a_plain_model_passes_every_minor(minor: tuple[int, int]) -> None:
    # Baseline for every rule below: a Knative sklearn model (an update on 0.19, see first-reconcile).
    obj = isvc(knative(minor))
    assert check_inferenceservice(obj, obj if minor == (0, 19) else None, minor) == []
    assert check_inferenceservice(isvc(standard(minor)), isvc(standard(minor)), minor) == []


def test_unsupported_minor_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^KServe 0.21 is not supported: expected one of 0.14, 0.15, 0.16, 0.17, "
                       r"0.18, 0.19, 0.20$"):
        check_inferenceservice(isvc(), None, (0, 21))


# --- deployment mode ------------------------------------------------------------------------

def test_mode_names_unknown_to_the_minor() -> None:
    # kserve/kserve@v0.15.2:pkg/controller/v1beta1/inferenceservice/utils/utils.go:176-193 (GetDeploymentMode:
    # only Serverless/RawDeployment/ModelMesh, else the configmap default); v0.15.2:pkg/constants/constants.go:424-426
    assert messages(check_deployment_mode(isvc("Standard"), None, (0, 15)), "deployment-mode-value") == [
        f"{ANN}: expected Serverless, RawDeployment or ModelMesh on KServe 0.15, found 'Standard' (a name KServe knows "
        "from 0.16; 0.15 runs the cluster default instead and then rejects every update whose annotation differs from "
        "status.deploymentMode)"]
    assert check_deployment_mode(isvc("RawDeployment"), None, (0, 15)) == []
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/utils/utils.go:224-247 (unknown -> default)
    assert messages(check_deployment_mode(isvc("Raw"), None, (0, 20)), "deployment-mode-value") == [
        f"{ANN}: expected Knative, Standard or ModelMesh on KServe 0.20, found 'Raw' (an unknown value: the controller "
        "silently runs the cluster default)"]


def test_legacy_mode_names_from_016() -> None:
    # 0.16 normalises the mode it records (kserve/kserve@v0.16.0:pkg/controller/v1beta1/inferenceservice/utils/
    # utils.go:229-236) but compares the raw annotation on update (v0.16.0:pkg/apis/serving/v1beta1/
    # inference_service_validation.go:493-499); kserve/kserve#4798.
    assert messages(check_deployment_mode(isvc("Serverless"), None, (0, 16)), "deployment-mode-legacy") == [
        f"{ANN}: expected Knative, Standard or ModelMesh on KServe 0.16, found 'Serverless' (0.16 records 'Knative' in "
        "status.deploymentMode and rejects every later update that still says 'Serverless', kserve#4798)"]
    # kserve/kserve@v0.17.1:pkg/apis/serving/v1beta1/inference_service_defaults.go:160-170 (rewritten by the defaulter)
    assert messages(check_deployment_mode(isvc("RawDeployment"), None, (0, 17)), "deployment-mode-legacy") == [
        f"{ANN}: expected Knative, Standard or ModelMesh on KServe 0.17, found 'RawDeployment' (the 0.17 mutating "
        "webhook rewrites it to 'Standard': a permanent diff for Argo CD and Flux)"]
    assert check_deployment_mode(isvc("Serverless"), None, (0, 15)) == []


def test_mode_is_fixed_on_update() -> None:
    # kserve/kserve@v0.15.2:pkg/apis/serving/v1beta1/inference_service_validation.go:447-456 (validateDeploymentMode)
    found = check_deployment_mode(isvc("RawDeployment"), isvc("Serverless"), (0, 15))
    assert messages(found, "deployment-mode-immutable") == [
        f"{ANN}: expected 'Serverless' as in the committed render (update rejected: deploymentMode cannot be changed "
        "from 'Serverless' to 'RawDeployment'; delete and recreate the InferenceService to change mode), found "
        "'RawDeployment'"]
    assert check_deployment_mode(isvc("Serverless"), isvc("Serverless"), (0, 15)) == []
    # kserve/kserve@v0.14.1:pkg/apis/serving/v1beta1/inference_service_validation.go:75-84 (no check on update)
    assert messages(check_deployment_mode(isvc("RawDeployment"), isvc("Serverless"), (0, 14)),
                    "deployment-mode-immutable") == [
        f"{ANN}: expected 'Serverless' as in the committed render (KServe 0.14 does not check it (0.15 added the check) "
        "but the mode is meant to be fixed: delete and recreate the InferenceService to change mode), found "
        "'RawDeployment'"]


def test_mode_rename_across_the_016_017_switch() -> None:
    # 0.16 compares the raw annotation with a status that keeps 'Serverless' for objects created on 0.15
    # (kserve/kserve@v0.16.0:pkg/apis/serving/v1beta1/inference_service_validation.go:493-499)
    assert messages(check_deployment_mode(isvc("Knative"), isvc("Serverless"), (0, 16)), "deployment-mode-immutable") == [
        f"{ANN}: expected 'Serverless' as in the committed render (KServe 0.16 compares the annotation with "
        "status.deploymentMode as written; the rename is accepted from KServe 0.19 (kserve#5427)), found 'Knative'"]
    # From 0.17 the defaulter rewrites the old name first (v0.17.1:inference_service_defaults.go:160-170) and from 0.19
    # the status is normalised (v0.19.0:inference_service_validation.go:587, commit 85076650, #5427).
    for minor in [(0, 17), (0, 19), (0, 20)]:
        assert check_deployment_mode(isvc("Knative"), isvc("Serverless"), minor) == [], minor
    assert messages(check_deployment_mode(isvc("Standard"), isvc("Knative"), (0, 20)), "deployment-mode-immutable") == [
        f"{ANN}: expected 'Knative' as in the committed render (update rejected: deploymentMode cannot be changed from "
        "'Knative' to 'Standard'; delete and recreate the InferenceService to change mode), found 'Standard'"]


def test_019_first_reconcile_rejects_an_explicit_knative_mode() -> None:
    # kserve/kserve@v0.19.0:pkg/apis/serving/v1beta1/inference_service_validation.go:586-592 (ParseDeploymentMode("")
    # is "Standard"); kserve/kserve#5793, fixed by #5799 in v0.20.0:inference_service_validation.go:691-694
    assert messages(check_deployment_mode(isvc("Knative"), None, (0, 19)), "deployment-mode-first-reconcile") == [
        f"{ANN}: expected no explicit mode other than Standard on KServe 0.19 (its webhook reads the empty status of a "
        "new object as 'Standard' and rejects the controller's first finalizer patch, kserve#5793: omit the annotation "
        "where the cluster default is Knative, or use KServe 0.20), found 'Knative'"]
    assert check_deployment_mode(isvc("Standard"), None, (0, 19)) == []
    assert check_deployment_mode(isvc("Knative"), isvc("Knative"), (0, 19)) == []
    assert check_deployment_mode(isvc("Knative"), None, (0, 20)) == []
    assert check_deployment_mode(isvc(None), None, (0, 19)) == []


# --- names ----------------------------------------------------------------------------------

def test_name_format() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:46,469-475 (IsvcNameFmt)
    assert [str(f) for f in check_name("Fraud_v2", "Knative", (0, 20))] == [
        "metadata.name: expected lower case alphanumeric characters or '-', starting with a letter and ending with an "
        "alphanumeric character (regex '[a-z]([-a-z0-9]*[a-z0-9])?'), found 'Fraud_v2'"]
    assert check_name("fraud-v2", "Knative", (0, 20)) == []


@pytest.mark.parametrize("minor", MINORS, ids=[f"0.{m[1]}" for m in MINORS])
def test_longest_names_per_mode(minor: tuple[int, int]) -> None:
    # Knative: the Knative Service "<name>-predictor" is a DNS-1035 label (knative/pkg@release-1.17:
    # apis/metadata_validation.go:55). Standard: pod label app=isvc.<name>-predictor (kserve/kserve@v0.20.0:
    # pkg/constants/constants.go:755, reconcilers/deployment/deployment_reconciler.go:146), at most 63.
    assert max_name_length(knative(minor), minor) == 53
    assert max_name_length(standard(minor), minor) == 48
    assert max_name_length("Knative", minor, transformer=True) == 51  # "-transformer" (constants.go:822)
    assert max_name_length("Knative", minor, tag_routing=True) == 46  # "latest-" tag host (ksvc_reconciler.go:161)
    # KServe's default domainTemplate "{{ .Name }}-{{ .Namespace }}" (v0.20.0:pkg/apis/serving/v1beta1/configmap.go:55)
    assert max_name_length("Standard", minor, namespace="ml-prod") == 63 - len("-predictor-ml-prod")
    assert max_name_length("ModelMesh", minor) == 63


def test_name_too_long_names_the_limit() -> None:
    # kserve/kserve@v0.15.2:pkg/controller/v1beta1/inferenceservice/reconcilers/raw/raw_kube_reconciler.go:133 builds
    # the component host with GenerateDomainName, which fails on a label over 63 (v0.15.2:reconcilers/ingress/domain.go:61)
    assert [str(f) for f in check_name("a" * 46, "RawDeployment", (0, 15), namespace="ml-prod")] == [
        "metadata.name: expected at most 45 characters on KServe 0.15 in Standard mode (the host label under KServe's "
        "default ingress domainTemplate '{name}-predictor-ml-prod' must fit 63 characters), found 46 "
        f"('{'a' * 46}-predictor-ml-prod' has 64)"]
    assert check_name("a" * 45, "RawDeployment", (0, 15), namespace="ml-prod") == []
    assert [str(f) for f in check_name("b" * 54, "Knative", (0, 17))] == [
        "metadata.name: expected at most 53 characters on KServe 0.17 in Knative mode (the Knative Service name (a "
        f"DNS-1035 label) '{{name}}-predictor' must fit 63 characters), found 54 ('{'b' * 54}-predictor' has 64)"]


def test_predictor_and_canary_names_lengthen_derived_names_from_020() -> None:
    # kserve/kserve@v0.20.0:pkg/constants/constants.go:799-804 (PredictorServiceName(name, predictorName))
    assert max_name_length("Standard", (0, 20), predictor_name="v0123456789ab") == 48 - 14
    assert max_name_length("Standard", (0, 19), predictor_name="v0123456789ab") == 48  # no predictor.name before 0.20
    assert max_name_length("Standard", (0, 20), canary_names=["candidate"]) == 48 - 10
    obj = isvc("Standard", name="c" * 41, predictor={"name": "stable1"})
    assert messages(check_inferenceservice(obj, None, (0, 20)), "name-length") == [
        "metadata.name: expected at most 40 characters on KServe 0.20 in Standard mode (the pod label app "
        f"'isvc.{{name}}-stable1-predictor' must fit 63 characters), found 41 ('isvc.{'c' * 41}-stable1-predictor' has 64)"]
    assert messages(check_inferenceservice(isvc("Standard", name="c" * 40, predictor={"name": "stable1"}), None, (0, 20)),
                    "name-length") == []


def test_unknown_mode_for_names_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^unknown deployment mode 'Raw': expected Knative, Standard or ModelMesh$"):
        max_name_length("Raw", (0, 20))


def test_finding_prints_path_and_message() -> None:
    assert str(Finding("spec.predictor.minReplicas", "expected at least 0, found -1", "replicas")) == \
        "spec.predictor.minReplicas: expected at least 0, found -1"


# --- autoscaler annotations -----------------------------------------------------------------

CLASS = "serving.kserve.io/autoscalerClass"


def test_autoscaler_class_per_minor() -> None:
    # kserve/kserve@v0.14.1:pkg/constants/constants.go:190-193 (hpa, external); v0.15.2:constants.go:215-220 adds keda,
    # none; checked by validateInferenceServiceAutoscaler (v0.14.1:inference_service_validation.go:164-189)
    found = check_inferenceservice(isvc("RawDeployment", annotations={CLASS: "keda"}), None, (0, 14))
    assert messages(found, "autoscaler-class") == [
        f"metadata.annotations.{CLASS}: expected one of hpa, external on KServe 0.14, found 'keda' (keda and none arrive "
        "in KServe 0.15)"]
    assert check_inferenceservice(isvc("RawDeployment", annotations={CLASS: "keda"}), None, (0, 15)) == []
    assert messages(check_inferenceservice(isvc("Standard", annotations={CLASS: "kpa"}), None, (0, 20)),
                    "autoscaler-class") == [
        f"metadata.annotations.{CLASS}: expected one of hpa, external, keda, none on KServe 0.20, found 'kpa'"]


def test_014_hpa_annotations_are_validated_then_ignored_from_015() -> None:
    # kserve/kserve@v0.14.1:pkg/apis/serving/v1beta1/inference_service_validation.go:172-176 (metrics with class hpa)
    # and 202-214 (targetUtilizationPercentage 1-100); gone from v0.15.2 (commit d20d4228, #4349: nothing reads them)
    ann = {CLASS: "hpa", "serving.kserve.io/metrics": "rps", "serving.kserve.io/targetUtilizationPercentage": "150"}
    found = check_inferenceservice(isvc("RawDeployment", annotations=ann), None, (0, 14))
    assert messages(found, "hpa-metric") == [
        "metadata.annotations.serving.kserve.io/metrics: expected cpu or memory, found 'rps'"]
    assert messages(found, "target-utilization") == [
        "metadata.annotations.serving.kserve.io/targetUtilizationPercentage: expected an integer in [1, 100], found '150'"]
    ok = {CLASS: "hpa", "serving.kserve.io/metrics": "cpu", "serving.kserve.io/targetUtilizationPercentage": "80"}
    assert check_inferenceservice(isvc("RawDeployment", annotations=ok), None, (0, 14)) == []
    assert messages(check_inferenceservice(isvc("RawDeployment", annotations=ok), None, (0, 15)), "annotation-ignored") == [
        "metadata.annotations.serving.kserve.io/metrics: expected scaleMetric on the component (KServe 0.15 no longer "
        "reads this annotation; 0.14 did), found 'cpu'",
        "metadata.annotations.serving.kserve.io/targetUtilizationPercentage: expected scaleTarget on the component "
        "(KServe 0.15 no longer reads this annotation; 0.14 did), found '80'"]


def test_knative_min_max_scale_annotations_are_dropped() -> None:
    # kserve/kserve@v0.20.0:pkg/constants/constants.go:534-540 (ServiceAnnotationDisallowedList), applied in
    # components/predictor.go:100-102
    found = check_inferenceservice(isvc(annotations={"autoscaling.knative.dev/min-scale": "2"}), None, (0, 20))
    assert messages(found, "annotation-dropped") == [
        "metadata.annotations.autoscaling.knative.dev/min-scale: expected minReplicas on the component (KServe drops "
        "this annotation before it reaches Knative), found '2'"]
    assert check_inferenceservice(isvc(annotations={"autoscaling.knative.dev/target": "5"}), None, (0, 20)) == []


# --- replicas, concurrency, logger ----------------------------------------------------------

def test_replicas_and_concurrency() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/component.go:374-398 (validateReplicas, validateContainerConcurrency)
    found = check_inferenceservice(isvc(predictor={"minReplicas": -1, "maxReplicas": -2, "containerConcurrency": -1}),
                                   None, (0, 20))
    assert messages(found, "replicas") == ["spec.predictor.maxReplicas: expected at least 0, found -2",
                                           "spec.predictor.minReplicas: expected at least 0, found -1"]
    assert messages(found, "container-concurrency") == ["spec.predictor.containerConcurrency: expected at least 0, found -1"]
    found = check_inferenceservice(isvc(predictor={"minReplicas": 4, "maxReplicas": 3}), None, (0, 20))
    assert messages(found, "replicas") == ["spec.predictor.minReplicas: expected at most maxReplicas (3), found 4"]
    assert check_inferenceservice(isvc(predictor={"minReplicas": 4, "maxReplicas": 0}), None, (0, 20)) == []


def test_logger() -> None:
    # kserve/kserve@v0.14.1:pkg/apis/serving/v1beta1/component.go:190-199 (mode); storage from v0.15.2:component.go:377-389
    found = check_inferenceservice(isvc(predictor={"logger": {"url": "http://sink"}}), None, (0, 20))
    assert messages(found, "logger-mode") == ["spec.predictor.logger.mode: expected all, request or response, found no mode"]
    bad_storage = {"logger": {"mode": "all", "storage": {"path": "/logs"}}}
    assert messages(check_inferenceservice(isvc(predictor=bad_storage), None, (0, 15)), "logger-storage") == [
        "spec.predictor.logger.storage: expected path, parameters and key, found no parameters, key"]
    assert check_inferenceservice(isvc("Serverless", predictor=bad_storage), None, (0, 14)) == []
    assert check_inferenceservice(isvc(predictor={"logger": {"mode": "request"}}), None, (0, 20)) == []


# --- scaling: which autoscaler's rules apply --------------------------------------------------

def test_kpa_metrics_in_knative_mode() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:636-667 (KPA: concurrency, rps)
    found = check_inferenceservice(isvc(predictor={"scaleMetric": "cpu"}), None, (0, 20))
    assert messages(found, "kpa-metric") == [
        "spec.predictor.scaleMetric: expected concurrency or rps with Knative's KPA autoscaler (cpu and memory need "
        "autoscaling.knative.dev/class: hpa.autoscaling.knative.dev or Standard mode), found 'cpu'"]
    hpa_class = {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}
    assert check_inferenceservice(isvc(annotations=hpa_class, predictor={"scaleMetric": "cpu"}), None, (0, 20)) == []
    found = check_inferenceservice(isvc(predictor={"scaleMetric": "rps", "scaleTarget": 0}), None, (0, 20))
    assert messages(found, "scale-target") == ["spec.predictor.scaleTarget: expected at least 1 request per second, found 0"]


def test_deployment_strategy_only_in_raw_branch() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:645-648
    strategy = {"deploymentStrategy": {"type": "Recreate"}}
    assert messages(check_inferenceservice(isvc(predictor=strategy), None, (0, 20)), "deployment-strategy") == [
        "spec.predictor.deploymentStrategy: expected no deploymentStrategy with the Knative autoscaler (customizing "
        "deploymentStrategy is only supported for raw deployment mode), found one"]
    assert check_inferenceservice(isvc("Standard", predictor=strategy), None, (0, 20)) == []
    # 0.16 takes the raw branch only for "Standard" (v0.16.0:inference_service_validation.go:259) and does not yet
    # rewrite "RawDeployment", so the legacy name gets the KPA rules there.
    found = check_inferenceservice(isvc("RawDeployment", predictor=strategy), None, (0, 16))
    assert [f.rule for f in found] == ["deployment-mode-legacy", "deployment-strategy"]


def test_hpa_metric_and_target() -> None:
    # kserve/kserve@v0.14.1:pkg/apis/serving/v1beta1/inference_service_validation.go:216-240 (HPA for RawDeployment);
    # v0.15.2:210-231 only with serving.kserve.io/autoscalerClass: hpa; note `cpu && target < 1 || target > 100`
    found = check_inferenceservice(isvc("RawDeployment", predictor={"scaleMetric": "rps"}), None, (0, 14))
    assert messages(found, "hpa-metric") == [
        "spec.predictor.scaleMetric: expected cpu or memory with the HPA autoscaler (concurrency and rps are Knative KPA "
        "metrics), found 'rps'"]
    hpa = {CLASS: "hpa"}
    found = check_inferenceservice(isvc("Standard", annotations=hpa, predictor={"scaleMetric": "memory", "scaleTarget": 150}),
                                   None, (0, 20))
    assert messages(found, "scale-target") == [
        "spec.predictor.scaleTarget: expected a utilization percentage in [1, 100], found 150"]
    found = check_inferenceservice(isvc("Standard", annotations=hpa, predictor={"scaleMetric": "memory", "scaleTarget": 0}),
                                   None, (0, 20))
    assert messages(found, "scale-target") == ["spec.predictor.scaleTarget: expected at least 1 for memory, found 0"]
    ok = isvc("Standard", annotations=hpa, predictor={"scaleMetric": "cpu", "scaleTarget": 80})
    assert check_inferenceservice(ok, None, (0, 20)) == []


def test_default_hpa_ignores_kpa_metrics_silently() -> None:
    # No class annotation: the webhook returns nil (v0.15.2:inference_service_validation.go:215-223) and the HPA
    # reconciler builds metrics only for cpu/memory (v0.20.0:reconcilers/hpa/hpa_reconciler.go:105-145).
    found = check_inferenceservice(isvc("RawDeployment", predictor={"scaleMetric": "concurrency"}), None, (0, 15))
    assert messages(found, "hpa-metric-ignored") == [
        "spec.predictor.scaleMetric: expected cpu or memory (Standard mode scales with HPA by default; KServe 0.15 does "
        "not check this without serving.kserve.io/autoscalerClass and its HPA ignores it), found 'concurrency'"]
    external = isvc("RawDeployment", annotations={CLASS: "external"}, predictor={"scaleMetric": "concurrency"})
    assert check_inferenceservice(external, None, (0, 15)) == []


def test_keda_refuses_scale_metric() -> None:
    # kserve/kserve@v0.15.2:pkg/apis/serving/v1beta1/inference_service_validation.go:331-334
    found = check_inferenceservice(isvc("Standard", annotations={CLASS: "keda"}, predictor={"scaleMetric": "cpu"}),
                                   None, (0, 20))
    assert messages(found, "keda-metric") == [
        "spec.predictor.scaleMetric: expected no scaleMetric with the KEDA autoscaler (KEDA scales on "
        "autoScaling.metrics), found 'cpu'"]


def test_standard_mode_min_replicas_zero() -> None:
    # HPA raises 0 to 1: kserve/kserve@v0.14.1:.../reconcilers/hpa/hpa_reconciler.go:95-100,
    # v0.20.0:hpa_reconciler.go:153-158; class none sets Deployment replicas = minReplicas:
    # v0.15.2:.../reconcilers/deployment/deployment_reconciler.go:162-163; KEDA passes 0 on:
    # v0.20.0:.../reconcilers/keda/keda_reconciler.go:229-254
    zero = {"minReplicas": 0}
    assert messages(check_inferenceservice(isvc("RawDeployment", predictor=zero), None, (0, 14)),
                    "standard-min-replicas-zero") == [
        "spec.predictor.minReplicas: expected at least 1 in Standard mode (with autoscalerClass hpa KServe keeps at least "
        "1 replica: no scale to zero; scale to zero needs serving.kserve.io/autoscalerClass: keda (KServe >= 0.15) or "
        "Knative mode), found 0"]
    assert messages(check_inferenceservice(isvc("Standard", annotations={CLASS: "none"}, predictor=zero), None, (0, 20)),
                    "standard-min-replicas-zero") == [
        "spec.predictor.minReplicas: expected at least 1 in Standard mode (KServe sets the Deployment to exactly "
        "minReplicas, so 0 runs no pods; scale to zero needs serving.kserve.io/autoscalerClass: keda or Knative mode), "
        "found 0"]
    assert check_inferenceservice(isvc("Standard", annotations={CLASS: "keda"}, predictor=zero), None, (0, 20)) == []
    assert check_inferenceservice(isvc("Knative", predictor=zero), None, (0, 20)) == []


def test_knative_limits_on_what_kserve_copies() -> None:
    # knative/serving@v0.44.0:pkg/apis/config/defaults.go:45,68 and pkg/apis/serving/v1/revision_validation.go:112-117,
    # 172-180; traffic percent: pkg/apis/serving/v1/route_validation.go:151-155 (fed by kserve/kserve@v0.20.0:
    # pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:134-146)
    found = check_inferenceservice(isvc(predictor={"timeout": 900, "containerConcurrency": 2000,
                                                   "canaryTrafficPercent": 150}), None, (0, 20))
    assert [str(f) for f in found] == [
        "spec.predictor.canaryTrafficPercent: expected 0 to 100 (Knative rejects a traffic percent outside it), found 150",
        "spec.predictor.containerConcurrency: expected at most 1000 in Knative mode (Knative's default "
        "container-concurrency-max-limit), found 2000",
        "spec.predictor.timeout: expected at most 600 seconds in Knative mode (Knative's default "
        "max-revision-timeout-seconds, unless config-defaults raises it), found 900"]
    ok = {"timeout": 900, "containerConcurrency": 2000}
    assert check_inferenceservice(isvc("Standard", predictor=ok), None, (0, 20)) == []


def test_transformer_gets_the_component_rules_too() -> None:
    # validateInferenceService loops over predictor, transformer, explainer
    # (kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:157-174)
    obj = isvc(transformer={"minReplicas": -1, "containers": [{"name": "kserve-container", "image": "t:1"}]})
    assert messages(check_inferenceservice(obj, None, (0, 20)), "replicas") == [
        "spec.transformer.minReplicas: expected at least 0, found -1"]
