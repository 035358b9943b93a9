"""Capacity of rendered objects: quantities in base units, KServe's replica and canary rules,
golden totals of the example repo, canary overhead in both modes, delta == after - before.

Rules from upstream cite ``kserve/kserve@v0.20.0:path:line``."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from servespec.capacity import Capacity, capacity, delta, tree_objects
from servespec.diff import diff_env
from servespec.quantity import QuantityError
from servespec.sizing import base_units, pod_amounts, workloads

GI, MI, KI = Decimal(2**30), Decimal(2**20), Decimal(2**10)
D = Decimal


# -- unit conversions: every quantity form ----------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("100m", D("0.1")), ("0.1", D("0.1")), (0.1, D("0.1")), (2, D(2)), ("2", D(2)), ("1.5", D("1.5")),
    ("1500m", D("1.5")), ("250u", D("0.00025")), ("5n", D("5e-9")), ("0", D(0)), ("+1", D(1)), (".5", D("0.5")),
    ("5.", D(5)), ("1k", D(1000)), ("1M", D(10**6)), ("1G", D(10**9)), ("1T", D(10**12)), ("1P", D(10**15)),
    ("1E", D(10**18)), ("1Ki", KI), ("1Mi", MI), ("1Gi", GI), ("1Ti", GI * KI), ("1Pi", GI * MI), ("1Ei", GI * GI),
    ("1.5Gi", D(1610612736)), ("0.5Ki", D(512)), ("1e3", D(1000)), ("1E3", D(1000)), ("1e-3", D("0.001")),
    ("12e+6", D(12 * 10**6)), (1e-05, D("0.00001")), (" 1Gi ", GI), ("128974848", D(128974848)), ("129e6", D(129 * 10**6)), ("123Mi", 123 * MI),
], ids=lambda v: repr(v))
def test_base_units_of_every_quantity_form(value: Any, expected: Decimal) -> None:
    assert base_units(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("-1", "expected a non-negative quantity, found '-1'"),
    ("1Gb", "expected a quantity such as '500m' or '1Gi', found '1Gb'"),
    ("lots", "expected a quantity such as '500m' or '1Gi', found 'lots'"),
    (True, "expected a quantity such as '500m' or '1Gi', found True"),
])
def test_base_units_refuses_non_quantities(value: Any, message: str) -> None:
    with pytest.raises(QuantityError) as exc:
        base_units(value)
    assert str(exc.value) == message


def test_pod_amounts_follow_resource_quota() -> None:
    main = {"resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "2Gi", "nvidia.com/gpu": 2}}}
    side = {"resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}  # no requests: the API server copies the limits
    init = {"resources": {"requests": {"cpu": "2", "memory": "16Mi"}}}  # larger cpu than the app containers' sum
    got = pod_amounts([main, side], [init])
    assert got == {"requests.cpu": D(2), "limits.cpu": D("1.5"), "requests.memory": GI + MI * 64,
                   "limits.memory": 2 * GI + MI * 64, "requests.nvidia.com/gpu": D(2)}
    assert "limits.nvidia.com/gpu" not in got  # ResourceQuota bounds extended resources by requests only


def test_kserve_defaults_fill_server_containers_but_not_model() -> None:
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_defaults.go:59-90 (setResourceRequirementDefaults: cpu 1,
    # memory 2Gi per missing key), called for framework keys, art and containers[0] (explainer_art.go:100,
    # transformer_custom.go:56, predictor_custom.go:72), not for predictor.model (its ServingRuntime has the resources).
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "m", "namespace": "n"},
            "spec": {"predictor": {"model": {"resources": {"requests": {"cpu": "1"}}}},
                     "explainer": {"art": {"type": "SquareAttack"}},
                     "transformer": {"containers": [{"name": "t", "resources": {"limits": {"cpu": "2"}}}]}}}
    by = {w.component: w.per_pod for w in workloads([isvc])[0]}
    assert by["predictor"] == {"requests.cpu": D(1)}
    assert by["explainer"] == {"requests.cpu": D(1), "limits.cpu": D(1), "requests.memory": 2 * GI, "limits.memory": 2 * GI}
    assert by["transformer"] == {"requests.cpu": D(1), "limits.cpu": D(2), "requests.memory": 2 * GI, "limits.memory": 2 * GI}


# -- replicas ----------------------------------------------------------------------------------------
def _isvc(predictor: dict[str, Any], mode: str = "Knative", scaler: str | None = None, name: str = "m", **spec: Any) -> dict[str, Any]:
    notes = {"serving.kserve.io/deploymentMode": mode, **({"serving.kserve.io/autoscalerClass": scaler} if scaler else {})}
    body = {"model": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}, **predictor}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "ns", "annotations": notes}, "spec": {"predictor": body, **spec}}


@pytest.mark.parametrize(("predictor", "mode", "scaler", "expected"), [
    # kserve/kserve@v0.20.0:pkg/controller/v1alpha1/utils/utils.go:69-80: min-scale = minReplicas or 1; max-scale only
    # when maxReplicas != 0, else the cluster's (no maximum)
    ({}, "Knative", None, (1, None)),
    ({"minReplicas": 0, "maxReplicas": 4}, "Knative", None, (0, 4)),
    ({"minReplicas": 2}, "Serverless", None, (2, None)),
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/hpa/hpa_reconciler.go:153-166: HPA (the
    # default class, pkg/constants/constants.go:245) clamps min < 1 to 1 and raises max < min to min
    ({"minReplicas": 0}, "Standard", None, (1, 1)),
    ({"minReplicas": 3, "maxReplicas": 2}, "RawDeployment", "hpa", (3, 3)),
    ({"minReplicas": 2, "maxReplicas": 6}, "Standard", None, (2, 6)),
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/keda/keda_reconciler.go:193-234: KEDA keeps
    # min (0 allowed), raises max < min to min
    ({"minReplicas": 0}, "Standard", "keda", (0, 0)),
    ({"minReplicas": 0, "maxReplicas": 5}, "Standard", "keda", (0, 5)),
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/deployment/deployment_reconciler.go:170-171:
    # autoscaler class none pins the Deployment's replicas to minReplicas
    ({"minReplicas": 2, "maxReplicas": 9}, "Standard", "none", (2, 2)),
    # external: no HPA is created (hpa_reconciler.go:249); something else scales, to a maximum not known here
    ({"minReplicas": 2, "maxReplicas": 9}, "Standard", "external", (2, None)),
])
def test_replicas_follow_kserve(predictor: dict[str, Any], mode: str, scaler: str | None, expected: tuple[int, int | None]) -> None:
    (w,), skipped = workloads([_isvc(predictor, mode, scaler)])
    assert (w.min_replicas, w.max_replicas) == expected and skipped == []


def test_what_is_not_sized_is_named() -> None:
    objs = [_isvc({}, mode="ModelMesh", name="mm"), _isvc({"workerSpec": {"pipelineParallelSize": 2}}, name="llm"),
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "ns"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": "ns"},
             "spec": {"template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}}}}]
    cap = capacity(objs)
    assert cap.not_counted == (
        "DaemonSet ns/ds: a DaemonSet's pods are not sized",
        "Deployment ns/bad: expected a quantity such as '500m' or '1Gi', found 'lots'",
        "InferenceService ns/llm: predictor.workerSpec (multi-node) is not sized",
        "InferenceService ns/mm: deploymentMode ModelMesh shares its runtime's pods",
    )
    assert cap.min == {"pods": D(1), "requests.cpu": D(1), "requests.memory": GI, "limits.cpu": D(2), "limits.memory": GI}


# -- canary overhead ---------------------------------------------------------------------------------
def test_knative_canary_runs_both_revisions() -> None:
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:134-163: with
    # canaryTrafficPercent < 100 the route keeps the previous rolled-out revision (tag prev) beside the latest one
    canary = capacity([_isvc({"minReplicas": 2, "maxReplicas": 5, "canaryTrafficPercent": 10})])
    assert canary.canary == {"min": {"pods": D(2), "requests.cpu": D(2), "requests.memory": 2 * GI, "limits.cpu": D(4), "limits.memory": 2 * GI},
                             "max": {"pods": D(5), "requests.cpu": D(5), "requests.memory": 5 * GI, "limits.cpu": D(10), "limits.memory": 5 * GI}}
    assert canary.min["pods"] == 4 and canary.max["pods"] == 10
    pinned = capacity([_isvc({"minReplicas": 2, "canaryTrafficPercent": 0})])  # rolled back: prev serves, latest kept at 0%
    assert pinned.canary["min"]["pods"] == 2
    promoted = capacity([_isvc({"minReplicas": 2, "canaryTrafficPercent": 100})])  # one 100% target: no previous revision
    assert promoted.canary["min"]["pods"] == 0 and promoted.min["pods"] == 2
    standard = capacity([_isvc({"minReplicas": 2, "canaryTrafficPercent": 10}, mode="Standard")])  # ignored in Standard mode
    assert standard.canary["min"]["pods"] == 0


def test_kfserving_canary_is_a_second_endpoint() -> None:
    endpoint = {"predictor": {"minReplicas": 2, "tensorflow": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}}}
    obj = {"apiVersion": "serving.kubeflow.org/v1alpha2", "kind": "InferenceService", "metadata": {"name": "m"},
           "spec": {"default": endpoint, "canary": copy.deepcopy(endpoint), "canaryTrafficPercent": 20}}
    cap = capacity([obj])
    assert [(w.component, w.min_replicas, w.max_replicas) for w in workloads([obj])[0]] == [("predictor", 2, None), ("canary predictor", 2, None)]
    # kserve/kserve@v0.4.1:pkg/apis/serving/v1alpha2/utils.go:29-36: KFServing's webhook fills a missing cpu limit with 1
    assert cap.canary["min"]["pods"] == 2 and cap.min["limits.cpu"] == 4


@pytest.mark.parametrize(("stable_min", "canary", "expected"), [
    # kserve/kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/components/predictor.go:886-895 (canaryReplicaCount:
    # canary minReplicas, else ceil(stable min * trafficPercent / 100)), :897-910 (buildCanaryPredictor: maxReplicas 0,
    # min = that count, so HPA pins it), :795-802 (stable min reduced by the canaries' total, at least 1)
    (4, {"trafficPercent": 10}, {"stable": (3, 6), "canary": (1, 1), "extra": (0, 1)}),
    (2, {"trafficPercent": 50}, {"stable": (1, 6), "canary": (1, 1), "extra": (0, 1)}),
    (4, {"trafficPercent": 60}, {"stable": (1, 6), "canary": (3, 3), "extra": (0, 3)}),
    (4, {"trafficPercent": 0}, {"stable": (4, 6), "canary": (1, 1), "extra": (1, 1)}),  # dark launch: HPA clamps 0 to 1
    (3, {"trafficPercent": 10, "minReplicas": 2}, {"stable": (1, 6), "canary": (2, 2), "extra": (0, 2)}),
])
def test_standard_canary_is_sized_by_its_percent(stable_min: int, canary: dict[str, Any], expected: dict[str, tuple[int, int]]) -> None:
    over: dict[str, Any] = {"name": "v4"}
    if "minReplicas" in canary:
        over["minReplicas"] = canary["minReplicas"]
    obj = _isvc({"name": "v3", "minReplicas": stable_min, "maxReplicas": 6}, mode="Standard",
                canary=[{"predictor": over, "trafficPercent": canary["trafficPercent"]}])
    stable, cand = workloads([obj])[0]
    assert (stable.min_replicas, stable.max_replicas) == expected["stable"]
    assert (cand.component, (cand.min_replicas, cand.max_replicas)) == (f"canary v4 ({canary['trafficPercent']}%)", expected["canary"])
    cap = capacity([obj])
    assert (cap.canary["min"]["pods"], cap.canary["max"]["pods"]) == expected["extra"]


def test_standard_canary_merges_its_overrides_over_the_stable_predictor() -> None:
    bigger = {"resources": {"requests": {"cpu": "3"}}, "storageUri": "s3://m/v4"}
    obj = _isvc({"minReplicas": 2}, mode="Standard", canary=[{"predictor": {"name": "a", "model": bigger}, "trafficPercent": 50},
                                                             {"predictor": {"name": "b"}, "trafficPercent": 50}])
    stable, a, b = workloads([obj])[0]
    assert a.per_pod == {"requests.cpu": D(3), "limits.cpu": D(2), "requests.memory": GI, "limits.memory": GI}  # cpu request overridden
    assert b.per_pod == stable.per_pod
    assert (stable.min_replicas, a.min_replicas, b.min_replicas) == (1, 1, 1)  # 2 - (1 + 1), at least 1


def _release(repo: Path, env: str, model: str, uri: str) -> None:
    res = run_cli("release", model, "--env", env, "--storage-uri", uri, "--root", repo)
    assert res.exit_code == 0, res.stderr


def test_canary_overhead_of_real_rollouts_in_both_modes(example_git_repo: Path) -> None:
    repo = example_git_repo
    _release(repo, "prod", "census-income", "s3://census-income/v2")  # Knative, 10% first step, min 3, max 10
    prod = capacity(tree_objects(repo / "rendered/prod"))
    assert (prod.canary["min"]["pods"], prod.canary["max"]["pods"]) == (3, 10)
    assert prod.canary["min"]["requests.cpu"] == D("1.5") and prod.min["pods"] == 12 + 3
    # Standard mode: servespec refuses a canary no shipped KServe routes (resolve.canary_problem),
    # but a spec.canary[] written by hand or by a newer KServe still runs pods: size it.
    path = repo / "rendered/staging/models/fraud-detector/inferenceservice.yaml"
    obj = yaml.safe_load(path.read_text())
    model = dict(obj["spec"]["predictor"]["model"], name="kserve-container", storageUri="s3://fraud-detector/v4")
    obj["spec"]["canary"] = [{"predictor": {"name": "v4", "model": model}, "trafficPercent": 50}]  # Standard, min 2, max 6
    path.write_text(yaml.safe_dump(obj))
    staging = capacity(tree_objects(repo / "rendered/staging"))
    assert (staging.canary["min"]["pods"], staging.canary["max"]["pods"]) == (0, 1)  # canary 1, stable 2 - 1 = 1; max 6 + 1
    assert staging.min["pods"] == 8 and staging.max["pods"] == 25


# -- golden totals of the example repo -----------------------------------------------------------------
GOLDEN: dict[str, dict[str, Any]] = {
    # dev: message dumper 1 pod (10m/32Mi, limits 100m/64Mi); census-income 1 (Knative, no max); fraud-detector 1..6
    # (Standard, HPA); sklearn-iris predictor and transformer 0..4; its ART explainer 1 (KServe's default min), no max;
    # llama3-chat 1..2 (4 cores/24Gi, limits 6/24Gi, 1 nvidia.com/gpu each); text-embedder 1..4 (500m/1Gi, limits 1/2Gi)
    "dev": {"min": {"pods": 6, "requests.cpu": "6.11", "requests.memory": 29 * GI + 32 * MI, "limits.cpu": "11.1",
                    "limits.memory": 31 * GI + 64 * MI, "requests.nvidia.com/gpu": 1},
            "max": {"pods": 23, "requests.cpu": "15.51", "requests.memory": 64 * GI + 32 * MI, "limits.cpu": "36.1",
                    "limits.memory": 77 * GI + 64 * MI, "requests.nvidia.com/gpu": 2},
            "unbounded": ("census-income predictor", "sklearn-iris explainer")},
    # staging: defaults minReplicas 2 (sklearn-iris, llama3-chat and text-embedder set theirs), message dumper
    "staging": {"min": {"pods": 8, "requests.cpu": "6.71", "requests.memory": 31 * GI + 32 * MI, "limits.cpu": "14.1",
                        "limits.memory": 34 * GI + 64 * MI, "requests.nvidia.com/gpu": 1},
                "max": {"pods": 24, "requests.cpu": "15.61", "requests.memory": 65 * GI + 32 * MI, "limits.cpu": "37.1",
                        "limits.memory": 78 * GI + 64 * MI, "requests.nvidia.com/gpu": 2},
                "unbounded": ("census-income predictor", "sklearn-iris explainer")},
    # prod: census-income 3..10 at 500m/2Gi (limits 2/2Gi), fraud-detector 4..6, no message dumper
    # + the chat-assistant LLM: 2 decode replicas of 2 cores / 16 GiB (limits 4 / 16 GiB) and 1 GPU each
    # and llama3-chat 1..2 (4 cores/24Gi, limits 6/24Gi, 1 nvidia.com/gpu each), text-embedder 1..4 (500m/1Gi, limits 1/2Gi)
    "prod": {"min": {"pods": 12, "requests.cpu": "13", "requests.memory": 69 * GI, "limits.cpu": "30", "limits.memory": 74 * GI,
                     "requests.nvidia.com/gpu": 3},
             "max": {"pods": 33, "requests.cpu": "24.4", "requests.memory": 115 * GI, "limits.cpu": "63", "limits.memory": 128 * GI,
                     "requests.nvidia.com/gpu": 4},
             "unbounded": ("sklearn-iris explainer",),
             "not_counted": ()},
}


@pytest.mark.parametrize("env", sorted(GOLDEN))
def test_golden_capacity_of_the_example_repo(example_repo: Path, env: str) -> None:
    cap = capacity(tree_objects(example_repo / "rendered" / env))
    want = GOLDEN[env]
    assert cap.min == {k: D(v) for k, v in want["min"].items()}
    assert cap.max == {k: D(v) for k, v in want["max"].items()}
    assert cap.unbounded == want["unbounded"] and cap.not_counted == want.get("not_counted", ())
    assert cap.canary == {"min": {k: D(0) for k in cap.min}, "max": {k: D(0) for k in cap.max}}
    assert {k: sum(p["min"].get(k, D(0)) for p in cap.by_name.values()) for k in cap.min} == cap.min


# -- delta == after - before ----------------------------------------------------------------------------
QUANTITY = st.one_of(st.integers(0, 64), st.sampled_from(["100m", "250m", "1.5", "0.5Gi", "1Gi", "512Mi", "3e2", "1k"]))
RES = st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), QUANTITY, max_size=3)


@st.composite
def _object(draw: st.DrawFn, name: str) -> dict[str, Any]:
    resources = {"requests": draw(RES), "limits": draw(RES)}
    if draw(st.booleans()):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
                "spec": {"replicas": draw(st.integers(0, 5)), "template": {"spec": {"containers": [{"name": "c", "resources": resources}]}}}}
    low = draw(st.integers(0, 4))
    pred: dict[str, Any] = {"minReplicas": low, "maxReplicas": draw(st.sampled_from([0, low, low + 3])), "model": {"resources": resources}}
    if draw(st.booleans()):
        pred["canaryTrafficPercent"] = draw(st.integers(0, 100))
    return _isvc(pred, mode=draw(st.sampled_from(["Knative", "Standard"])), name=name)


@st.composite
def _sides(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    names = draw(st.lists(st.sampled_from("abcdef"), unique=True, max_size=5))
    before = [draw(_object(n)) for n in names]
    after = [draw(_object(n)) if draw(st.booleans()) else o for n, o in zip(names, before, strict=True) if draw(st.booleans())]
    after += [draw(_object(n)) for n in draw(st.lists(st.sampled_from("ghij"), unique=True, max_size=3))]
    return before, after


def _keyed(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(o["kind"], "ns", o["metadata"]["name"]): o for o in objs}


@settings(max_examples=60, deadline=None)
@given(_sides())
def test_delta_is_after_minus_before(sides: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    before, after = sides
    env = diff_env("e", _keyed(before), _keyed(after))
    b, a = capacity(before), capacity(after)
    assert (env.before, env.after) == (b, a)
    for at in ("min", "max"):
        got = env.delta[at]
        assert set(got) == set(a.at(at)) | set(b.at(at))
        for key, value in got.items():
            assert value == a.at(at).get(key, D(0)) - b.at(at).get(key, D(0))
            assert b.at(at).get(key, D(0)) + value == a.at(at).get(key, D(0))
        assert all(a.max.get(k, D(0)) >= v for k, v in a.min.items())  # max counts no-maximum workloads at their min


def test_delta_of_nothing_is_empty() -> None:
    assert delta(Capacity({}, {}), Capacity({}, {})) == {"min": {}, "max": {}}
