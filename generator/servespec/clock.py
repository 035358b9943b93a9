"""Time for every decision servespec makes (bake time, soak, freezes, windows, ``since`` stamps),
in one place.

``SERVESPEC_NOW`` (an ISO 8601 time with an offset, ``2026-11-24T18:00:00+01:00``) replaces the
wall clock: for tests, and to replay a decision as it was made at that time.
"""

from __future__ import annotations

import datetime as dt
import os

from .errors import Problem, UsageError

__all__ = ["now_utc", "pinned", "iso", "parse_time", "format_seconds", "NOW_VARIABLE"]

NOW_VARIABLE = "SERVESPEC_NOW"
"""The environment variable that replaces the wall clock."""


def pinned() -> dt.datetime | None:
    """The time ``SERVESPEC_NOW`` sets (UTC, whole seconds), or None when it is unset or empty.

    Raises ``UsageError`` (exit 2) for a value that is not an ISO 8601 time with an offset."""
    raw = os.environ.get(NOW_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        t = dt.datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise UsageError(Problem(NOW_VARIABLE, None, "", f"expected an ISO 8601 time with an offset such as "
                                 f"2026-11-24T18:00:00+01:00 or 2026-11-24T17:00:00Z, found {raw!r}"))
    return t.astimezone(dt.UTC).replace(microsecond=0)


def now_utc() -> dt.datetime:
    """The current UTC time, whole seconds: ``SERVESPEC_NOW`` when set, else the wall clock."""
    return pinned() or dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    """``2026-11-24T18:00:00Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 time; without an offset it is UTC. Raises ``ValueError``."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def format_seconds(s: float) -> str:
    """``45s``, ``4m05s``, ``1h02m03s``, ``3d04h05m``."""
    n = int(round(s))
    if n >= 86400:
        return f"{n // 86400}d{n % 86400 // 3600:02d}h{n % 3600 // 60:02d}m"
    if n >= 3600:
        return f"{n // 3600}h{n % 3600 // 60:02d}m{n % 60:02d}s"
    return f"{n // 60}m{n % 60:02d}s" if n >= 60 else f"{n}s"
