"""Promotion policy of an environment (overlay keys under ``rollout:``, and ``owners:``).

- ``requires``: the environments a version must have been fully promoted in (stable, 100%), for
  at least ``soak``, before it may be released here (``rollout/policy.py`` decides from the
  provenance ``rollout/provenance.py`` reads from git);
- ``freeze``: periods when ``release`` and ``promote`` are refused (``rollback`` never is);
- ``windows``: when they are allowed: weekdays and wall-clock hours in a named time zone, so
  ``09:00-17:00`` in ``Europe/Berlin`` follows daylight saving time;
- ``approval``: release/promote commits go to a branch ``servespec/<env>/<model>/<step>`` for a
  pull request instead of the followed branch.

Declarations only: no time arithmetic here (``rollout/policy.py``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from .base import Name, PromDuration, SpecModel

__all__ = ["Requirement", "Freeze", "Window", "Approval", "Weekday", "WEEKDAYS", "Timestamp", "Owner", "Requirements"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekdays in ``datetime.weekday()`` order."""

_HOURS = re.compile(r"^(?P<a>(?:[01]\d|2[0-3]):[0-5]\d)-(?P<b>(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")
_OWNER = re.compile(r"^(@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def _timestamp(value: object) -> dt.datetime:
    example = "an ISO 8601 time with an offset such as 2026-12-18T00:00:00+01:00"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected {example}, found {value!r}") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"expected {example}, found {value.isoformat()!r} without an offset (which time zone?)")
        return value
    if isinstance(value, dt.date):
        raise ValueError(f"expected {example}, found the date {value.isoformat()} without a time")
    raise ValueError(f"expected {example}, found {type(value).__name__} {value!r}")


Timestamp = Annotated[dt.datetime, BeforeValidator(_timestamp, json_schema_input_type=str)]
"""An ISO 8601 time with an offset (``2026-12-18T00:00:00+01:00``, ``2026-12-17T23:00:00Z``)."""


def _owner(value: str) -> str:
    if not _OWNER.match(value):
        raise ValueError(f"expected @user, @org/team or an email address, found {value!r}")
    return value


Owner = Annotated[str, AfterValidator(_owner)]
"""A code owner as CODEOWNERS names one: ``@user``, ``@org/team`` or an email address."""


class Requirement(SpecModel):
    """An environment a version must have been fully promoted in before it is released here."""

    env: Name
    """The upstream environment (``staging``)."""
    soak: PromDuration | None = None
    """How long the version must have been stable at 100% there (``1h``); unset: no minimum."""


def _one_or_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


Requirements = Annotated[list[Requirement], BeforeValidator(_one_or_list, json_schema_input_type=Requirement | list[Requirement])]
"""One requirement (``{env: staging, soak: 1h}``) or a list of them, all of which must hold."""


class Freeze(SpecModel):
    """A period when ``release`` and ``promote`` are refused (``rollback`` never is)."""

    from_: Timestamp = Field(alias="from")
    """Start (inclusive), ISO 8601 with an offset."""
    to: Timestamp
    """End (exclusive), ISO 8601 with an offset."""
    reason: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    """Why, shown in every refusal (``year-end freeze``)."""

    @model_validator(mode="after")
    def _order(self) -> Freeze:
        if self.to <= self.from_:
            raise ValueError(f"expected 'to' after 'from', found from {self.from_.isoformat()} and to {self.to.isoformat()}")
        return self


def _hours(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"expected a quoted string \"HH:MM-HH:MM\", found the number {value} (YAML reads some unquoted times as numbers)")
    return value


class Window(SpecModel):
    """When ``release`` and ``promote`` are allowed: weekdays and wall-clock hours in a time zone.

    The hours are local time in ``timeZone``, so a window follows daylight saving time: on the
    day the clocks go forward an ``01:00-04:00`` window lasts two hours, on the day they go back
    four. A window across midnight is two windows."""

    name: Name | None = None
    """Shown in refusals (default: ``windows[<index>]``)."""
    days: list[Weekday] = list(WEEKDAYS)
    """Weekdays, ``mon`` ... ``sun``, of the local date in ``timeZone``."""
    hours: Annotated[str, BeforeValidator(_hours)] = "00:00-24:00"
    """Local start (inclusive) and end (exclusive), ``"09:00-17:00"``; the end may be ``24:00``."""
    time_zone: str = "UTC"
    """An IANA time zone (``Europe/Berlin``, ``America/New_York``)."""

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("expected at least one weekday, found none")
        dup = sorted({d for d in value if value.count(d) > 1})
        if dup:
            raise ValueError(f"expected each weekday once, found {', '.join(dup)} twice")
        return value

    @field_validator("hours")
    @classmethod
    def _span(cls, value: str) -> str:
        m = _HOURS.match(value)
        if not m:
            raise ValueError(f"expected \"HH:MM-HH:MM\" in 00:00..24:00, found {value!r}")
        if m["a"] >= m["b"]:
            raise ValueError(f"expected the start before the end, found {value!r} (a window across midnight is two windows)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as \"Europe/Berlin\", found {value!r}") from None
        return value

    @property
    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after local midnight."""
        a, b = self.hours.split("-")
        return int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])


class Approval(SpecModel):
    """Whether release/promote commits need a reviewed pull request."""

    required: bool = False
    """Push ``release``/``promote`` commits to ``servespec/<env>/<model>/<step>`` and print the
    pull-request URL, never to the followed branch (``rollback`` still goes straight to it)."""
    pull_request_url: str | None = Field(default=None, pattern=r"^https://[^\s]*\{branch\}[^\s]*$")
    """Where a pull request is opened, with ``{branch}`` and ``{base}`` placeholders; default:
    GitHub's compare page of ``delivery.repoUrl``."""
