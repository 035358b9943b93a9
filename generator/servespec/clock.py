"""Time for every decision servespec makes (bake time, ``since`` stamps), in one place."""

from __future__ import annotations

import datetime as dt

__all__ = ["now_utc", "iso", "parse_time", "format_seconds"]


def now_utc() -> dt.datetime:
    """The current UTC time, whole seconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    """``2026-11-24T18:00:00Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 time; without an offset it is UTC. Raises ``ValueError``."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def format_seconds(s: float) -> str:
    """``45s``, ``4m05s``, ``1h02m03s``."""
    n = int(round(s))
    if n >= 3600:
        return f"{n // 3600}h{n % 3600 // 60:02d}m{n % 60:02d}s"
    return f"{n // 60}m{n % 60:02d}s" if n >= 60 else f"{n}s"
