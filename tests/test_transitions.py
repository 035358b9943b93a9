"""The pure rollout transitions (``rollout/transitions.py``): no git, no files, no Prometheus —
an in-memory environment, a spec, a state and a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from servespec.errors import CheckFailed, NotDecided, NotDue, PromoteError
from servespec.overlay import Env
from servespec.rollout.gates import Evidence, GateResult, Traffic
from servespec.rollout.transitions import promote, release, rollback
from servespec.spec import Gate, Model, Predictor, RolloutPlan
from servespec.spec.overlay import EnvOverlay
from servespec.spec.rollout import ModelState

NOW = dt.datetime(2026, 11, 24, 18, 0, tzinfo=dt.UTC)
V1, V2 = "s3://m/v1", "s3://m/v2"
GATE = Gate(name="error-rate", query="up", max=0.01)


def env(**overlay: object) -> Env:
    return Env("prod", EnvOverlay.model_validate({"namespace": "ml", **overlay}, by_alias=True), ("overlays/prod.yaml",),
               {("kserveVersion",): ("overlays/prod.yaml", 4)})


def model(mode: str = "Knative", plan: RolloutPlan | None = None) -> Model:
    return Model(name="m", deployment_mode=mode, predictor=Predictor(model_format="sklearn", storage_uri=V1), rollout=plan)


def canary(step: int = 1, traffic: int = 10, since: str = "2026-11-24T17:00:00Z") -> ModelState:
    return ModelState(phase="canary", stable=V1, candidate=V2, step=step, traffic=traffic, since=since)


LIVE = Traffic("5m", 0.1, 1000.0)
"""A canary at its 10% step with plenty of requests."""


def passing(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
    return Evidence(LIVE, [GateResult(g, g.query, [0.001]) for g in gates])


def failing(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
    return Evidence(LIVE, [GateResult(g, g.query, [0.5], failed=1) for g in gates])


def test_release_starts_at_the_first_step() -> None:
    t = release(env(), model(), None, V2, NOW)
    assert t is not None
    assert t.after == ModelState(phase="canary", stable=V1, candidate=V2, step=1, traffic=10, since="2026-11-24T18:00:00Z", spec_uri=V1)
    assert t.subject == "release(prod/m): s3://m/v2 at 10% (step 1/4)"
    assert (t.from_desc, t.to_desc) == (f"stable {V1}", f"canary 10% {V2} (stable {V1})")


def test_release_of_the_stable_uri_is_nothing_to_do() -> None:
    assert release(env(), model(), None, V1, NOW) is None


def test_release_with_a_single_step_plan_is_stable_at_once() -> None:
    t = release(env(), model(plan=RolloutPlan(steps=[100])), None, V2, NOW)
    assert t is not None and t.after.phase == "stable" and t.after.stable == V2
    assert t.subject == "release(prod/m): s3://m/v2 at 100% (step 1/1)"


def test_release_over_a_running_canary_is_refused() -> None:
    with pytest.raises(PromoteError, match=r"prod/m: s3://m/v2 is already under canary at 10% \(step 1\): promote or rollback it first"):
        release(env(), model(), canary(), "s3://m/v3", NOW)


def test_release_refuses_a_bad_uri() -> None:
    with pytest.raises(PromoteError, match=r"--storage-uri: expected a URI starting with one of gs://, s3://, .*, found .bucket/v2."):
        release(env(), model(), None, "bucket/v2", NOW)


def test_standard_mode_canary_is_refused_on_every_shipped_kserve() -> None:
    """kserve@v0.20.0 has spec.canary[] but no ingress code routes it (kserve/versions.py)."""
    for version in ("0.15", "0.20"):
        with pytest.raises(PromoteError, match=rf"overlays/prod.yaml:4: kserveVersion: m runs in Standard mode: a canary there needs a KServe "
                                               rf"release newer than 0.20.0 \(weighted HTTPRoutes, kserve#5912\), found {version} "):
            release(env(kserveVersion=version), model("Standard"), None, V2, NOW)
    t = release(env(kserveVersion="0.20"), model("Standard", RolloutPlan(steps=[100])), None, V2, NOW)
    assert t is not None and t.after.phase == "stable"


def test_promote_moves_to_the_next_step_after_gates() -> None:
    t = promote(env(), model(plan=RolloutPlan(gates=[GATE])), canary(), NOW, evaluate=passing)
    assert t.after.step == 2 and t.after.traffic == 25
    assert t.gate_trailer == "error-rate=0.001"
    assert t.after.last_gate is not None and t.after.last_gate.result == "passed"


def test_promote_of_the_last_step_makes_the_candidate_stable() -> None:
    t = promote(env(), model(plan=RolloutPlan(gates=[])), canary(step=3, traffic=50), NOW)
    assert (t.after.phase, t.after.stable, t.after.candidate) == ("stable", V2, None)
    assert t.subject == "promote(prod/m): 50% -> 100% (step 4/4), s3://m/v2 is stable"


def test_bake_time_not_over_is_not_due() -> None:
    plan = RolloutPlan(bake_time="2h", gates=[])
    with pytest.raises(NotDue) as exc:
        promote(env(), model(plan=plan), canary(), NOW)
    assert exc.value.waiting == "at 10% since 2026-11-24T17:00:00Z, 2h00m00s required, 1h00m00s left"
    assert (exc.value.exit_code, exc.value.reason) == (3, "bake-time")
    assert promote(env(), model(plan=plan), canary(), NOW, ignore_bake_time=True).flags == ["ignore-bake-time"]


def test_a_failed_gate_holds_the_step() -> None:
    with pytest.raises(CheckFailed) as exc:
        promote(env(), model(plan=RolloutPlan(gates=[GATE])), canary(), NOW, evaluate=failing)
    assert exc.value.exit_code == 1
    assert str(exc.value.problems[0]).startswith("prod/m: gate failed, staying at 10%: gate error-rate: FAILED")


def test_gates_without_a_prometheus_url_are_bad_input() -> None:
    with pytest.raises(PromoteError, match=r"the plan has gates \(error-rate\) and no Prometheus URL is known"):
        promote(env(), model(plan=RolloutPlan(gates=[GATE])), canary(), NOW)


def test_default_gates_come_from_the_mode() -> None:
    seen: list[str] = []

    def record(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
        seen.extend(f"{g.name}<={g.max:g}" for g in gates)
        return passing(gates, plan, state)

    promote(env(), model(), canary(), NOW, evaluate=record)
    promote(env(kserveVersion="0.20"), model("Standard"), canary(), NOW, to=100, evaluate=record)
    assert seen == ["error-rate-increase<=0.01", "latency-p99-ratio<=1.5", "latency-p99-ratio<=1.5"]


def test_promote_to_jumps_and_refuses_a_step_outside_the_plan() -> None:
    t = promote(env(), model(plan=RolloutPlan(gates=[])), canary(), NOW, to=50)
    assert t.after.traffic == 50 and t.after.step == 3
    with pytest.raises(PromoteError, match=r"--to: 30% is a step outside the plan \[10, 25, 50, 100\]"):
        promote(env(), model(plan=RolloutPlan(gates=[])), canary(), NOW, to=30)


def test_nothing_to_promote_or_roll_back_without_a_canary() -> None:
    with pytest.raises(PromoteError, match=r"prod/m: no candidate to promote \(stable: s3://m/v1\)"):
        promote(env(), model(), None, NOW)
    with pytest.raises(PromoteError, match=r"prod/m: nothing to roll back: no candidate under canary"):
        rollback(env(), model(), None, NOW)


def test_rollback_pins_stable_and_promote_unpins() -> None:
    t = rollback(env(), model(), canary(step=2, traffic=25), NOW)
    assert (t.after.phase, t.after.stable, t.after.rolled_back, t.after.traffic) == ("rolled-back", V1, V2, 0)
    assert t.subject == "rollback(prod/m): 25% -> 0%, all traffic to s3://m/v1"
    back = promote(env(), model(), t.after, NOW)
    assert back.after.phase == "stable" and back.subject == "promote(prod/m): rolled-back -> stable s3://m/v1 (unpin)"


def test_commit_message_has_parseable_trailers() -> None:
    t = promote(env(), model(plan=RolloutPlan(gates=[GATE])), canary(), NOW, evaluate=passing)
    lines = t.message().splitlines()
    assert lines[0] == "promote(prod/m): 10% -> 25% (step 2/4)"
    assert "Servespec-Action: promote" in lines and "Servespec-Gates: error-rate=0.001" in lines


# -- closing the loop: what the evidence decides ------------------------------------------------

def evidence(share: float | None = 0.1, requests: float | None = 1000.0, values: tuple[float | None, ...] = (0.001,),
             error: str = "") -> Callable[[list[Gate], RolloutPlan, ModelState], Evidence]:
    def evaluate(gates: list[Gate], plan: RolloutPlan, state: ModelState) -> Evidence:
        failed = sum(v is None or v > 0.01 for v in values)
        nodata = sum(v is None for v in values)
        results = [GateResult(g, g.query, list(values), failed=failed, no_data_failed=nodata) for g in gates]
        return Evidence(Traffic("5m", share, requests), results, error)
    return evaluate


def test_a_decisive_failure_under_rollback_returns_the_rollback() -> None:
    plan = RolloutPlan(gates=[GATE], on_failure="rollback")
    t = promote(env(), model(plan=plan), canary(step=2, traffic=25), NOW, evaluate=evidence(share=0.25, values=(0.05,)))
    assert t.action == "rollback" and t.subject == "rollback(prod/m): 25% -> 0%, all traffic to s3://m/v1"
    assert (t.after.phase, t.after.stable, t.after.rolled_back) == ("rolled-back", V1, V2)
    assert t.reason == "error-rate 0.05 > 0.01 over 5m"
    assert t.failures == ["prod/m: gate failed, rolled back to s3://m/v1 (onFailure: rollback): gate error-rate: FAILED: value 0.05, "
                          "expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated"]
    lines = t.message().splitlines()
    assert lines[-2:] == ["Servespec-Gates: error-rate=0.05", "Servespec-Reason: error-rate 0.05 > 0.01 over 5m"]
    assert "Servespec-Action: rollback" in lines


def test_a_failure_under_hold_stays() -> None:
    with pytest.raises(CheckFailed) as exc:
        promote(env(), model(plan=RolloutPlan(gates=[GATE])), canary(), NOW, evaluate=evidence(values=(0.05,)))
    assert [str(p) for p in exc.value.problems] == [
        "prod/m: gate failed, staying at 10%: gate error-rate: FAILED: value 0.05, expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated"]


def test_missing_evidence_never_rolls_back() -> None:
    plan = RolloutPlan(gates=[GATE], on_failure="rollback")
    with pytest.raises(CheckFailed) as exc:
        promote(env(), model(plan=plan), canary(), NOW, evaluate=evidence(values=(None,)))
    assert str(exc.value.problems[0]).startswith("prod/m: gate failed, staying at 10% (no rollback on missing data): gate error-rate: "
                                                 "FAILED: value no data")
    with pytest.raises(CheckFailed, match=r"^prod/m: cannot decide, staying at 10%: cannot query Prometheus at http://p: refused; "
                                          r"nothing committed$"):
        promote(env(), model(plan=plan), canary(), NOW, evaluate=evidence(error="cannot query Prometheus at http://p: refused"))


@pytest.mark.parametrize("share, requests, reason, message", [
    (0.01, 1000.0, "not-live", "prod/m: not live yet: the canary served 1% of the model's requests over the last 5m, the step is 10% "
                               "(shareTolerance 0.5: 5-15%): controllers not synced, a revision still starting, or a deployment mode "
                               "that ignores the split; nothing committed"),
    # a first canary of a new InferenceService gets 100%: KServe splits only once a revision was rolled out,
    # kserve/kserve@v0.15.0:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:130
    (1.0, 1000.0, "not-live", "prod/m: not live yet: the canary served 100% of the model's requests"),
    (None, None, "not-live", "prod/m: not live yet: no requests to the model at all over the last 5m, the step is 10%"),
    (0.1, 2.0, "too-little-traffic", "prod/m: too little traffic to decide: the canary served 2 requests over the last 5m, "
                                     "minRequests is 200; nothing committed"),
])
def test_a_canary_that_cannot_be_judged_is_not_decided(share: float | None, requests: float | None, reason: str, message: str) -> None:
    plan = RolloutPlan(gates=[GATE], on_failure="rollback")
    with pytest.raises(NotDecided) as exc:  # even with failing gates: they judged nothing
        promote(env(), model(plan=plan), canary(), NOW, evaluate=evidence(share, requests, values=(0.5,)))
    assert (exc.value.exit_code, exc.value.reason, exc.value.label) == (3, reason, "waiting")
    assert str(exc.value.problems[0]).startswith(message)


def test_traffic_checks_can_be_turned_off() -> None:
    plan = RolloutPlan(gates=[GATE], share_tolerance=None, min_requests=0)
    t = promote(env(), model(plan=plan), canary(), NOW, evaluate=evidence(share=1.0, requests=2.0))
    assert t.after.traffic == 25


def test_every_transition_records_the_specs_uri() -> None:
    m = model(plan=RolloutPlan(gates=[]))
    assert promote(env(), m, canary(), NOW).after.spec_uri == V1
    assert rollback(env(), m, canary(), NOW).after.spec_uri == V1


def test_plan_precedence_overlay_model_then_spec_then_env() -> None:
    from servespec.resolve_state import plan_for

    e = env(rollout={"plan": {"steps": [20, 100], "bakeTime": "1h"}}, models={"m": {"rollout": {"onFailure": "rollback"}}})
    assert (plan_for(model(), e).traffic, plan_for(model(), e).bake_time, plan_for(model(), e).on_failure) == ([20, 100], "1h", "rollback")
    own = model(plan=RolloutPlan(steps=[50, 100]))
    assert (plan_for(own, e).traffic, plan_for(own, e).bake_time, plan_for(own, e).on_failure) == ([50, 100], None, "rollback")
    assert plan_for(own, env()).on_failure == "hold" and plan_for(model(), env()).traffic == [10, 25, 50, 100]
