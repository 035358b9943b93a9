"""Promotion policy as pure functions (no git): windows across daylight saving time, freezes,
when an environment opens, whether a version is verified upstream, the clock, CODEOWNERS text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import copy_example, run_cli
from servespec.clock import now_utc
from servespec.codeowners import BEGIN, END, merged_text
from servespec.errors import UsageError
from servespec.rollout.policy import Event, closure, next_opening, opens_at, requirement_cycle, verdict, window_open
from servespec.spec.promotion import Window
from servespec.spec.rollout import EnvRollout, ModelState

UTC = dt.UTC


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def rollout(**kw: object) -> EnvRollout:
    return EnvRollout.model_validate(kw, by_alias=True, by_name=False)


OFFICE = Window.model_validate({"name": "office-hours", "days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00",
                                "timeZone": "Europe/Berlin"}, by_alias=True, by_name=False)


# Europe/Berlin 2026: clocks go forward on Sunday 29 March at 01:00Z (02:00 CET -> 03:00 CEST)
# and back on Sunday 25 October at 01:00Z (03:00 CEST -> 02:00 CET).
@pytest.mark.parametrize(("now", "is_open"), [
    ("2026-03-23T07:30:00Z", False),  # Monday 08:30 CET
    ("2026-03-23T08:00:00Z", True),   # Monday 09:00 CET
    ("2026-03-30T07:00:00Z", True),   # Monday 09:00 CEST: the same wall-clock time, an hour earlier in UTC
    ("2026-03-30T13:59:59Z", True),   # Monday 15:59:59 CEST
    ("2026-03-30T14:00:00Z", False),  # Monday 16:00 CEST (15:00 CET would still be open)
    ("2026-03-26T14:59:00Z", True),   # Thursday 15:59 CET
    ("2026-03-26T15:00:00Z", False),  # Thursday 16:00 CET: the end is exclusive
    ("2026-03-27T10:00:00Z", False),  # Friday
])
def test_window_is_wall_clock_time_in_its_zone(now: str, is_open: bool) -> None:
    assert window_open(OFFICE, t(now)) is is_open


def test_next_opening_across_the_spring_dst_change() -> None:
    # Thursday 16:30 CET, closed; the next opening is Monday 09:00 CEST = 07:00Z (not 08:00Z)
    assert next_opening(OFFICE, t("2026-03-26T15:30:00Z")) == t("2026-03-30T07:00:00Z")
    # and back in autumn: Thursday 22 October 16:30 CEST -> Monday 26 October 09:00 CET = 08:00Z
    assert next_opening(OFFICE, t("2026-10-22T14:30:00Z")) == t("2026-10-26T08:00:00Z")
    assert next_opening(OFFICE, t("2026-03-30T07:10:00Z")) == t("2026-03-30T07:10:00Z")  # open: now


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    sunday = Window.model_validate({"days": ["sun"], "hours": "02:30-04:00", "timeZone": "Europe/Berlin"}, by_alias=True, by_name=False)
    # 02:30 does not exist on 29 March: the first instant at or after it is the jump to 03:00 CEST (01:00Z)
    assert next_opening(sunday, t("2026-03-29T00:00:00Z")) == t("2026-03-29T01:00:00Z")
    assert window_open(sunday, t("2026-03-29T01:00:00Z")) and window_open(sunday, t("2026-03-29T01:59:00Z"))
    assert not window_open(sunday, t("2026-03-29T02:00:00Z"))  # 04:00 CEST: one hour long that day
    assert next_opening(sunday, t("2026-03-22T00:00:00Z")) == t("2026-03-22T01:30:00Z")  # a week before: 02:30 CET


def test_a_window_in_the_repeated_hour_is_open_twice() -> None:
    night = Window.model_validate({"days": ["sun"], "hours": "02:00-03:00", "timeZone": "Europe/Berlin"}, by_alias=True, by_name=False)
    assert [window_open(night, t(f"2026-10-25T{h}:30:00Z")) for h in ("23", "00", "01", "02")][1:] == [True, True, False]
    assert next_opening(night, t("2026-10-24T12:00:00Z")) == t("2026-10-25T00:00:00Z")  # the first 02:00 (CEST)


def test_freeze_then_window_opening() -> None:
    r = rollout(freeze=[{"from": "2026-12-18T00:00:00+01:00", "to": "2027-01-04T00:00:00+01:00", "reason": "year-end freeze"}],
                windows=[OFFICE.model_dump(by_alias=True)])
    now = t("2026-12-20T10:00:00Z")
    c = closure(r, now)
    assert c is not None and c.kind == "freeze" and c.path == ("rollout", "freeze", 0)
    # the freeze ends Monday 4 January 00:00 CET; the window opens that day at 09:00 CET = 08:00Z
    assert c.opens == t("2027-01-04T08:00:00Z")
    assert c.message(now) == ("inside freeze 'year-end freeze' (2026-12-18T00:00:00+01:00 to 2027-01-04T00:00:00+01:00); "
                              "opens at 2027-01-04T08:00:00Z (in 14d22h00m)")
    w = closure(r, t("2026-12-17T16:00:00Z"))  # Thursday 17:00 CET, before the freeze
    assert w is not None and w.kind == "window" and w.path == ("rollout", "windows")
    assert w.message(t("2026-12-17T16:00:00Z")) == ("outside the rollout window office-hours (mon,tue,wed,thu 09:00-16:00 Europe/Berlin); "
                                                    "opens at 2027-01-04T08:00:00Z (in 17d16h00m)")
    assert closure(r, t("2027-01-04T08:00:00Z")) is None
    assert closure(rollout(), now) is None and opens_at(rollout(), now) == now


def test_freeze_end_is_exclusive_and_start_inclusive() -> None:
    r = rollout(freeze=[{"from": "2026-05-01T00:00:00Z", "to": "2026-05-02T00:00:00Z", "reason": "migration"}])
    assert closure(r, t("2026-05-01T00:00:00Z")) is not None
    assert closure(r, t("2026-05-01T23:59:59Z")) is not None
    assert closure(r, t("2026-05-02T00:00:00Z")) is None


@pytest.mark.parametrize(("data", "message"), [
    ({"freeze": [{"from": "2026-12-18", "to": "2027-01-04T00:00:00Z", "reason": "x"}]},
     "expected an ISO 8601 time with an offset such as 2026-12-18T00:00:00+01:00, found '2026-12-18T00:00:00' without an offset"),
    ({"freeze": [{"from": dt.date(2026, 12, 18), "to": "2027-01-04T00:00:00Z", "reason": "x"}]},
     "found the date 2026-12-18 without a time"),
    ({"freeze": [{"from": "2027-01-04T00:00:00Z", "to": "2026-12-18T00:00:00Z", "reason": "x"}]},
     "expected 'to' after 'from', found from 2027-01-04T00:00:00+00:00 and to 2026-12-18T00:00:00+00:00"),
    ({"windows": [{"hours": 540}]}, "expected a quoted string \"HH:MM-HH:MM\", found the number 540"),
    ({"windows": [{"hours": "17:00-09:00"}]}, "expected the start before the end, found '17:00-09:00' (a window across midnight is two windows)"),
    ({"windows": [{"hours": "9-17"}]}, "expected \"HH:MM-HH:MM\" in 00:00..24:00, found '9-17'"),
    ({"windows": [{"timeZone": "Europe/Atlantis"}]}, "expected an IANA time zone such as \"Europe/Berlin\", found 'Europe/Atlantis'"),
    ({"windows": [{"days": ["mon", "mon"]}]}, "expected each weekday once, found mon twice"),
    ({"windows": [{"days": []}]}, "expected at least one weekday, found none"),
])
def test_bad_policy_values_say_what_was_expected(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        rollout(**data)
    assert message in str(info.value)


def st(phase: str, stable: str, since: str, candidate: str | None = None, traffic: int | None = None, rolled_back: str | None = None) -> ModelState:
    return ModelState(phase=phase, stable=stable, candidate=candidate, step=1 if candidate else None, traffic=traffic,
                      since=since, rolled_back=rolled_back)  # type: ignore[arg-type]


V1, V2, V3 = "s3://m/v1", "s3://m/v2", "s3://m/v3"


def ev(n: int, action: str, state: ModelState, reason: str = "") -> Event:
    return Event(f"{n:040x}", action, t(state.since), state, reason)


CANARY = ev(1, "release", st("canary", V1, "2026-03-02T10:00:00Z", V2, 50))
STABLE = ev(2, "promote", st("stable", V2, "2026-03-02T10:10:00Z"))
HOUR = 3600.0


def test_eligible_only_after_the_soak() -> None:
    early = verdict("staging", V2, [CANARY, STABLE], HOUR, t("2026-03-02T10:40:00Z"))
    assert not early.eligible
    assert early.message == (f"{V2} is stable in staging since 2026-03-02T10:10:00Z ({STABLE.commit[:10]}), soak 1h00m00s required, 30m00s left")
    assert early.eligible_since == t("2026-03-02T11:10:00Z")
    ok = verdict("staging", V2, [CANARY, STABLE], HOUR, t("2026-03-02T11:10:00Z"))
    assert ok.eligible and ok.stable_since == t("2026-03-02T10:10:00Z")
    assert ok.trailer() == f"staging@{STABLE.commit} (stable since 2026-03-02T10:10:00Z)"
    # replaying a decision: events after SERVESPEC_NOW are not seen
    assert verdict("staging", V2, [CANARY, STABLE], 0, t("2026-03-02T10:05:00Z")).message == \
        f"{V2} is not stable in staging: canary at 50% since 2026-03-02T10:00:00Z"


def test_never_stable_and_notes() -> None:
    v = verdict("staging", V3, [CANARY, STABLE], HOUR, t("2026-03-03T00:00:00Z"), ["commit abc claims 'stable s3://m/v3' but x"])
    assert not v.eligible
    assert v.message == f"{V3} was never stable in staging; not counted: commit abc claims 'stable s3://m/v3' but x"


def test_superseded_after_the_soak_stays_eligible_and_a_later_canary_rollback_does_not_matter() -> None:
    later = [ev(3, "release", st("canary", V2, "2026-03-02T12:00:00Z", V3, 50)),
             ev(4, "rollback", st("rolled-back", V2, "2026-03-02T12:05:00Z", rolled_back=V3)),
             ev(5, "release", st("canary", V2, "2026-03-02T13:00:00Z", V3, 50)),
             ev(6, "promote", st("stable", V3, "2026-03-02T13:10:00Z"))]
    assert verdict("staging", V2, [CANARY, STABLE, *later], HOUR, t("2026-03-03T00:00:00Z")).eligible


def test_returning_to_an_earlier_version_is_a_rollback() -> None:
    back = [ev(3, "release", st("canary", V2, "2026-03-02T12:00:00Z", V1, 50)),
            ev(4, "promote", st("stable", V1, "2026-03-02T12:10:00Z"))]
    start = ev(0, "release", st("stable", V1, "2026-03-01T00:00:00Z"))
    v = verdict("staging", V2, [start, CANARY, STABLE, *back], HOUR, t("2026-03-03T00:00:00Z"))
    assert not v.eligible
    assert v.message == (f"{V2} was rolled back in staging at 2026-03-02T12:10:00Z ({back[1].commit[:10]}) "
                         "after being stable since 2026-03-02T10:10:00Z")


def test_a_failed_gate_ever_recorded_refuses() -> None:
    failed = ev(3, "rollback", st("rolled-back", V1, "2026-03-02T09:00:00Z", rolled_back=V2), reason="error-rate 0.09 > 0.01 over 5m")
    v = verdict("staging", V2, [failed, CANARY, STABLE], 0, t("2026-03-03T00:00:00Z"))
    assert not v.eligible
    assert v.message == (f"a failed gate was recorded for {V2} in staging: rolled back at 2026-03-02T09:00:00Z "
                         f"({failed.commit[:10]}): error-rate 0.09 > 0.01 over 5m")
    manual = ev(3, "rollback", st("rolled-back", V1, "2026-03-02T09:00:00Z", rolled_back=V2))
    assert verdict("staging", V2, [manual, CANARY, STABLE], 0, t("2026-03-03T00:00:00Z")).eligible  # before it was stable, no gate


def test_a_stint_too_short_is_named() -> None:
    gone = ev(3, "release", st("stable", V3, "2026-03-02T10:30:00Z"))
    v = verdict("staging", V2, [CANARY, STABLE, gone], HOUR, t("2026-03-03T00:00:00Z"))
    assert v.message == f"{V2} was stable in staging only 20m00s (2026-03-02T10:10:00Z to 2026-03-02T10:30:00Z), soak 1h00m00s required"


def test_requirement_cycles() -> None:
    assert requirement_cycle("prod", {"prod": ["staging"], "staging": ["dev"], "dev": []}) is None
    assert requirement_cycle("prod", {"prod": ["staging"], "staging": ["qa", "prod"], "qa": []}) == ["prod", "staging", "prod"]
    assert requirement_cycle("dev", {"dev": ["a"], "a": ["b"], "b": ["a"]}) is None  # a loop not through dev


def test_servespec_now_pins_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVESPEC_NOW", "2026-03-29T03:30:00+02:00")
    assert now_utc() == t("2026-03-29T01:30:00Z")
    monkeypatch.setenv("SERVESPEC_NOW", "2026-03-29T03:30:00")
    with pytest.raises(UsageError) as info:
        now_utc()
    assert str(info.value) == ("SERVESPEC_NOW: expected an ISO 8601 time with an offset such as 2026-11-24T18:00:00+01:00 "
                               "or 2026-11-24T17:00:00Z, found '2026-03-29T03:30:00'")
    monkeypatch.delenv("SERVESPEC_NOW")
    assert abs((now_utc() - dt.datetime.now(UTC)).total_seconds()) < 5


def test_codeowners_block_replaced_in_place_user_lines_kept() -> None:
    block = [BEGIN, "/rendered/prod/ @a/b", END]
    assert merged_text(None, block) == "\n".join(block) + "\n"
    mine = "* @everyone\n"
    assert merged_text(mine, block) == "* @everyone\n\n" + "\n".join(block) + "\n"
    old = "* @everyone\n" + "\n".join([BEGIN, "/rendered/dev/ @x", END]) + "\n/docs/ @writers\n"
    assert merged_text(old, block) == "* @everyone\n" + "\n".join(block) + "\n/docs/ @writers\n"
    assert merged_text(old, []) == "* @everyone\n/docs/ @writers\n"


@pytest.mark.parametrize(("policy", "message"), [
    ("  requires: {env: qa}\n", "overlays/prod.yaml:{line}: rollout.requires[0].env: expected another known environment once, "
                                 "found 'qa' (known: dev, prod, staging)"),
    ("  requires: [{env: prod}]\n", "overlays/prod.yaml:{line}: rollout.requires[0].env: expected another known environment once, "
                                     "found 'prod' itself"),
])
def test_requirements_must_name_other_envs(tmp_path: Path, policy: str, message: str) -> None:
    repo = copy_example(tmp_path / "repo")
    path = repo / "overlays/prod.yaml"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("rollout:")) + 1
    path.write_text("".join(lines[:at] + [policy] + lines[at:]))
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 2
    assert res.stderr == f"servespec: error: {message.format(line=at + 1)}\n"


def test_a_requirement_cycle_is_refused(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "repo")
    for env, other in (("prod", "staging"), ("staging", "prod")):
        path = repo / f"overlays/{env}.yaml"
        path.write_text(path.read_text().replace("rollout:\n", f"rollout:\n  requires: {{env: {other}}}\n", 1))
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 2
    assert "servespec: error: overlays/prod.yaml:12: rollout.requires: expected no cycle, found prod -> staging -> prod: " \
           "nothing could be released" in res.stderr


def test_going_back_after_a_release_at_100_percent_is_a_rollback() -> None:
    # dev's plan is [100]: a release makes the version stable at once; Servespec-From names what it replaced
    up = Event("a" * 40, "release", t("2026-03-02T09:00:00Z"), st("stable", V2, "2026-03-02T09:00:00Z"), previous=V1)
    back = Event("b" * 40, "release", t("2026-03-02T12:00:00Z"), st("stable", V1, "2026-03-02T12:00:00Z"), previous=V2)
    assert verdict("dev", V2, [up], HOUR, t("2026-03-02T11:00:00Z")).eligible
    v = verdict("dev", V2, [up, back], HOUR, t("2026-03-02T13:00:00Z"))
    assert v.message == f"{V2} was rolled back in dev at 2026-03-02T12:00:00Z (bbbbbbbbbb) after being stable since 2026-03-02T09:00:00Z"
    newer = Event("c" * 40, "release", t("2026-03-02T12:00:00Z"), st("stable", V3, "2026-03-02T12:00:00Z"), previous=V2)
    assert verdict("dev", V2, [up, newer], HOUR, t("2026-03-02T13:00:00Z")).eligible  # superseded, not rolled back
