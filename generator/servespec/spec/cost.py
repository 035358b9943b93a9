"""What capacity costs and how much of it an environment may use: overlay ``pricing`` and ``budget``.

Both are per environment (``overlays/<env>.yaml``)::

    pricing:
      currency: USD
      coreHour: 0.0316          # per CPU core-hour
      gibHour: 0.0042           # per GiB-hour of memory
      deviceHour: {nvidia.com/gpu: 2.48}
    budget:
      hard: {requests.cpu: "16", requests.memory: 64Gi, requests.nvidia.com/gpu: 4}
      monthlyCost: 9000         # in pricing.currency, at min replicas
      atMaxReplicas:
        hard: {requests.cpu: "64"}

``hard`` uses ResourceQuota's keys (``spec.hard``), so a budget can be copied from, or into, the
namespace's quota. Totals and checks live in :mod:`servespec.capacity`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator

from .base import Quantity, SpecModel

__all__ = ["Pricing", "Budget", "BudgetLimits", "Price", "QuotaKey", "HOURS_PER_MONTH", "QUOTA_KEY_HELP"]

HOURS_PER_MONTH = Decimal(730)
"""8,760 hours a year over 12 months: what cloud price lists call a month."""

QUOTA_KEY_HELP = "'pods', 'requests.<resource>' or 'limits.<resource>' (e.g. requests.cpu, limits.memory, requests.nvidia.com/gpu)"

_RESOURCE = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_QUOTA_KEY = re.compile(rf"^(pods|(requests|limits)\.{_RESOURCE})$")
_NATIVE = {"cpu", "memory", "ephemeral-storage"}
"""Resources ResourceQuota bounds both as ``requests.*`` and ``limits.*``; the others (extended
resources, hugepages) have requests only, since their limits must equal their requests."""
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _price(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"expected a non-negative number such as 0.0316, found {value!r}")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"expected a non-negative number such as 0.0316, found {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"expected a non-negative number such as 0.0316, found {value!r}")
    return amount


def _quota_key(value: str) -> str:
    if not _QUOTA_KEY.match(value):
        raise ValueError(f"expected {QUOTA_KEY_HELP}, found {value!r}")
    kind, _, resource = value.partition(".")
    if kind == "limits" and resource not in _NATIVE:
        raise ValueError(f"expected requests.{resource} (ResourceQuota bounds only the requests of {resource}), found {value!r}")
    return value


def _currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise ValueError(f"expected an ISO 4217 currency code such as 'USD' or 'EUR', found {value!r}")
    return value


Price = Annotated[Decimal, BeforeValidator(_price)]
"""A non-negative amount of money (or hours); YAML numbers are read exactly (``0.1`` is 0.1)."""

QuotaKey = Annotated[str, AfterValidator(_quota_key)]
"""A ResourceQuota ``spec.hard`` key: ``pods``, ``requests.cpu``, ``limits.memory``, ``requests.nvidia.com/gpu``."""

Currency = Annotated[str, AfterValidator(_currency)]
"""An ISO 4217 currency code."""


class Pricing(SpecModel):
    """What an hour of capacity costs in this environment (diff's cost figures, budgets in money)."""

    currency: Currency
    """ISO 4217 code of every price and of ``budget.monthlyCost``, e.g. ``USD``."""
    core_hour: Price = Decimal(0)
    """Price of one CPU core for one hour."""
    gib_hour: Price = Decimal(0)
    """Price of one GiB (2^30 bytes) of memory for one hour."""
    device_hour: dict[str, Price] = {}
    """Price of one device for one hour, by extended resource name, e.g. ``nvidia.com/gpu: 2.48``."""
    basis: Literal["requests", "limits"] = "requests"
    """Price what pods request (what the scheduler reserves, the default) or their limits."""
    hours_per_month: Price = HOURS_PER_MONTH
    """Hours in a billing month (730 = 8,760 / 12, as cloud price lists count)."""


class BudgetLimits(SpecModel):
    """Upper bounds on an environment's totals."""

    hard: dict[QuotaKey, Quantity] = {}
    """Bounds by ResourceQuota key, e.g. ``requests.cpu: "16"``, ``requests.memory: 64Gi``, ``pods: 40``."""
    monthly_cost: Price | None = None
    """Bound on the monthly cost, in ``pricing.currency`` (needs ``pricing``)."""


class Budget(BudgetLimits):
    """Limits on what an environment's rendered models may use, checked by ``servespec validate``:
    ``hard`` and ``monthlyCost`` against the totals at min replicas (canary extra pods included),
    ``atMaxReplicas`` against the totals at max replicas."""

    at_max_replicas: BudgetLimits | None = None
    """The same bounds, checked against the totals at max replicas; a model without a maximum is over any of them."""
