"""Promotion policy decisions, pure: given the clock, the overlay's policy and provenance facts.

- :func:`closure`: is the environment closed now (inside a ``rollout.freeze``, outside every
  ``rollout.windows`` entry), and when does it open (:func:`opens_at`)?
- :func:`window_open` / :func:`next_opening`: windows are local wall-clock time in a named time
  zone (``zoneinfo``), so they follow daylight saving time; an opening inside the hour the clocks
  skip is the instant they skip it.
- :func:`verdict`: may a version be released here, given the verified rollout commits of one
  model in one required environment (``provenance.py`` reads and verifies them from git)?

Nothing here reads files, git or the wall clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Literal

from ..clock import format_seconds, iso
from ..spec.promotion import WEEKDAYS, Window
from ..spec.rollout import EnvRollout, ModelState

__all__ = ["Closure", "Event", "Verdict", "closure", "opens_at", "window_open", "next_opening", "verdict", "describe_window",
           "requirement_cycle"]

_SECOND = dt.timedelta(seconds=1)


def _zone(w: Window) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(w.time_zone)


def describe_window(w: Window, index: int) -> str:
    """``office-hours (mon-thu 09:00-16:00 Europe/Berlin)``."""
    days = ",".join(w.days) if len(w.days) < 7 else "every day"
    return f"{w.name or f'windows[{index}]'} ({days} {w.hours} {w.time_zone})"


def window_open(w: Window, t: dt.datetime) -> bool:
    """Whether ``t`` is inside the window: its local weekday is one of ``days`` and its local
    wall-clock time is within ``hours`` (start inclusive, end exclusive)."""
    local = t.astimezone(_zone(w))
    start, end = w.minutes
    return WEEKDAYS[local.weekday()] in w.days and start <= local.hour * 60 + local.minute < end


def _at_wall_time(zone: zoneinfo.ZoneInfo, day: dt.date, minutes: int) -> dt.datetime:
    """The first instant whose wall-clock time in ``zone`` is at least ``day`` + ``minutes``:
    the first of two when the clocks go back, the moment they jump when that time is skipped."""
    wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    lo, hi = wall.replace(tzinfo=zone, fold=1).astimezone(dt.UTC), first  # skipped: the jump lies between
    while hi - lo > _SECOND:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def next_opening(w: Window, t: dt.datetime) -> dt.datetime:
    """The first instant at or after ``t`` inside the window (``t`` itself when it is open)."""
    if window_open(w, t):
        return t
    zone = _zone(w)
    start, end = w.minutes
    today = t.astimezone(zone).date()
    for offset in range(9):
        day = today + dt.timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in w.days:
            continue
        opens, closes = _at_wall_time(zone, day, start), _at_wall_time(zone, day, end)
        if opens < closes and closes > t:
            return max(opens, t)
    raise AssertionError("a window with at least one weekday opens within 9 days")  # pragma: no cover


def _active_freeze(rollout: EnvRollout, t: dt.datetime) -> int | None:
    for i, f in enumerate(rollout.freeze):
        if f.from_ <= t < f.to:
            return i
    return None


def opens_at(rollout: EnvRollout, now: dt.datetime) -> dt.datetime | None:
    """The first instant at or after ``now`` outside every freeze and inside a window (when there
    are windows); None when none is found within a year of freezes and windows."""
    t = now
    for _ in range(1000):
        i = _active_freeze(rollout, t)
        if i is not None:
            t = rollout.freeze[i].to.astimezone(dt.UTC)
            continue
        if rollout.windows and not any(window_open(w, t) for w in rollout.windows):
            t = min(next_opening(w, t) for w in rollout.windows)
            continue
        return t
    return None


@dataclass(frozen=True)
class Closure:
    """Why an environment is closed to ``release``/``promote`` now, and when it opens."""

    kind: Literal["freeze", "window"]
    path: tuple[str | int, ...]
    """The overlay key that closes it (``("rollout", "freeze", 0)``, ``("rollout", "windows")``)."""
    what: str
    """``freeze 'year-end' (2026-12-18T00:00:00+01:00 to 2027-01-04T00:00:00+01:00)``."""
    opens: dt.datetime | None

    def message(self, now: dt.datetime) -> str:
        """``inside freeze ...; opens at 2027-01-03T23:00:00Z (in 2d04h00m)``."""
        inside = "inside" if self.kind == "freeze" else "outside"
        when = f"opens at {iso(self.opens)} (in {format_seconds((self.opens - now).total_seconds())})" if self.opens else \
            "no opening within the freezes and windows configured"
        return f"{inside} {self.what}; {when}"


def closure(rollout: EnvRollout, now: dt.datetime) -> Closure | None:
    """Whether ``release``/``promote`` are refused at ``now``: a freeze that contains it (the first
    listed), else no window open; None when the environment is open."""
    i = _active_freeze(rollout, now)
    if i is not None:
        f = rollout.freeze[i]
        what = f"freeze {f.reason!r} ({f.from_.isoformat()} to {f.to.isoformat()})"
        return Closure("freeze", ("rollout", "freeze", i), what, opens_at(rollout, now))
    if rollout.windows and not any(window_open(w, now) for w in rollout.windows):
        shown = ", ".join(describe_window(w, k) for k, w in enumerate(rollout.windows))
        what = f"every rollout window: {shown}" if len(rollout.windows) > 1 else f"the rollout window {shown}"
        return Closure("window", ("rollout", "windows"), what, opens_at(rollout, now))
    return None


@dataclass(frozen=True)
class Event:
    """A verified rollout commit of one model in one environment: the state it committed."""

    commit: str
    action: str
    at: dt.datetime
    """The state's ``since``: when the commit's command ran, by servespec's clock."""
    state: ModelState
    reason: str = ""
    """``Servespec-Reason``: the failed gate behind a rollback ``promote`` made."""
    previous: str | None = None
    """The stable version before the commit (from ``Servespec-From``), when known."""


@dataclass(frozen=True)
class Verdict:
    """Whether ``uri`` may be released downstream of ``env``, and why (one line)."""

    env: str
    uri: str
    eligible: bool
    message: str
    stable_since: dt.datetime | None = None
    eligible_since: dt.datetime | None = None
    """When the soak was over (eligible) or will be (still soaking)."""
    commit: str | None = None
    """The commit that made ``uri`` stable in ``env``."""
    notes: list[str] = field(default_factory=list)

    def trailer(self) -> str:
        """The ``Servespec-Verified-In`` value: ``staging@<commit> (stable since <time>)``."""
        assert self.commit is not None and self.stable_since is not None
        return f"{self.env}@{self.commit} (stable since {iso(self.stable_since)})"


@dataclass
class _Stint:
    start: Event
    end: dt.datetime | None = None
    rolled_back: Event | None = None


def _stints(events: list[Event], uri: str) -> tuple[list[_Stint], Event | None]:
    """The periods ``uri`` was the stable version, each with the rollback that ended or followed
    it (an explicit rollback of it, or a return to a version stable before it); and the first
    rollback of it that recorded a failed gate."""
    stints: list[_Stint] = []
    failed_gate: Event | None = None
    stable: str | None = None
    earlier: set[str] = set()
    before_current: set[str] = set()
    for e in events:
        if e.action == "rollback" and e.state.rolled_back == uri:
            if e.reason and failed_gate is None:
                failed_gate = e
            for s in stints:
                s.rolled_back = s.rolled_back or e
        earlier.update(u for u in (stable, e.previous) if u is not None and u != uri)
        new = e.state.stable
        if new == uri and stable != uri:
            before_current = set(earlier)
            stints.append(_Stint(e))
        elif stable == uri and new != uri and stints:
            stints[-1].end = e.at
            if new in before_current:  # back to a version that was stable before it: a rollback
                for s in stints:
                    s.rolled_back = s.rolled_back or e
        stable = new
    return stints, failed_gate


def verdict(env: str, uri: str, events: list[Event], soak: float, now: dt.datetime, notes: list[str] | None = None) -> Verdict:
    """May ``uri`` be released downstream of ``env`` at ``now``? ``events`` are the verified
    rollout commits of the model in ``env``, oldest first; those after ``now`` are ignored (a
    replayed decision sees the history as it was).

    Eligible when ``uri`` was the stable version there, for at least ``soak`` seconds, with no
    rollback of it since that began and no failed gate ever recorded for it. ``notes`` (commits
    not counted and why) end the message when it is not eligible."""
    seen = [e for e in events if e.at <= now]
    stints, failed_gate = _stints(seen, uri)
    extra = list(notes or [])

    def no(message: str, since: dt.datetime | None = None, ready: dt.datetime | None = None, commit: str | None = None) -> Verdict:
        text = message + (f"; not counted: {'; '.join(extra)}" if extra else "")
        return Verdict(env, uri, False, text, since, ready, commit, extra)

    if failed_gate is not None:
        return no(f"a failed gate was recorded for {uri} in {env}: rolled back at {iso(failed_gate.at)} "
                  f"({failed_gate.commit[:10]}): {failed_gate.reason}")
    if not stints:
        last = seen[-1].state if seen else None
        if last is not None and last.phase == "canary" and last.candidate == uri:
            return no(f"{uri} is not stable in {env}: canary at {last.traffic}% since {last.since}")
        return no(f"{uri} was never stable in {env}")
    good = [s for s in stints if s.rolled_back is None]
    if not good:
        r = stints[-1].rolled_back
        assert r is not None
        return no(f"{uri} was rolled back in {env} at {iso(r.at)} ({r.commit[:10]}) after being stable since {iso(stints[-1].start.at)}")
    for s in reversed(good):
        if ((s.end or now) - s.start.at).total_seconds() >= soak:
            ready = s.start.at + dt.timedelta(seconds=soak)
            return Verdict(env, uri, True, f"{uri} stable in {env} since {iso(s.start.at)} ({s.start.commit[:10]})",
                           s.start.at, ready, s.start.commit, extra)
    last_good = good[-1]
    if last_good.end is None:
        left = soak - (now - last_good.start.at).total_seconds()
        return no(f"{uri} is stable in {env} since {iso(last_good.start.at)} ({last_good.start.commit[:10]}), "
                  f"soak {format_seconds(soak)} required, {format_seconds(left)} left",
                  last_good.start.at, last_good.start.at + dt.timedelta(seconds=soak), last_good.start.commit)
    held = (last_good.end - last_good.start.at).total_seconds()
    return no(f"{uri} was stable in {env} only {format_seconds(held)} ({iso(last_good.start.at)} to {iso(last_good.end)}), "
              f"soak {format_seconds(soak)} required")


def requirement_cycle(start: str, requires: dict[str, list[str]]) -> list[str] | None:
    """A path of ``rollout.requires`` edges from ``start`` back to it (``[prod, staging, prod]``),
    or None; environments missing from ``requires`` (not loaded) end a path."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    done: set[str] = set()
    while stack:
        env, path = stack.pop()
        for nxt in requires.get(env, []):
            if nxt == start:
                return [*path, nxt]
            if nxt not in done and nxt not in path:
                stack.append((nxt, [*path, nxt]))
        done.add(env)
    return None
