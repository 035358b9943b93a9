"""Capacity and cost of an environment's rendered objects, and budgets over them.

Totals are summed over every workload :mod:`servespec.sizing` finds (InferenceService components,
Standard-mode canaries, the previous Knative revision during a canary, plain Deployments such as
the message dumper), with ResourceQuota's keys in base units (cores, bytes, devices, pods), at min
and at max replicas. Cost prices those totals with the overlay's ``pricing``; budgets bound them
with its ``budget`` (both declared in :mod:`servespec.spec.cost`). Pure functions over rendered
objects, plus :func:`tree_objects` to read them from ``rendered/<env>/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml  # type: ignore[import-untyped, unused-ignore]

from .errors import Problem
from .sizing import NATIVE, Amounts, Workload, base_units, workloads
from .spec.cost import Budget, BudgetLimits, Pricing
from .yamlio import load_all

__all__ = [
    "Amounts", "Capacity", "Cost", "capacity", "subtract", "delta", "hourly_cost", "cost", "budget_problems",
    "tree_objects", "format_amount", "describe", "order_keys",
]

GIB = Decimal(2**30)
_POD_KINDS = re.compile(rb"^kind: *[\"']?(InferenceService|LLMInferenceService|Deployment|StatefulSet|ReplicaSet|"
                        rb"ReplicationController|Pod|DaemonSet|Job|CronJob)[\"']?\s*$", re.M)


def _add(into: Amounts, key: str, value: Decimal) -> None:
    into[key] = into.get(key, Decimal(0)) + value


@dataclass(frozen=True)
class Capacity:
    """An environment's totals at min and at max replicas."""

    min: Amounts
    max: Amounts
    """Workloads without a maximum are counted at their min here (``unbounded`` names them)."""
    unbounded: tuple[str, ...] = ()
    """Workloads without a maximum (``name component``)."""
    unbounded_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Key -> the workloads without a maximum that use it."""
    canary: dict[str, Amounts] = field(default_factory=dict)
    """``{"min": ..., "max": ...}``: what running canaries add (included in ``min``/``max``)."""
    by_name: dict[str, dict[str, Amounts]] = field(default_factory=dict)
    """Object name -> ``{"min": ..., "max": ...}``: who contributes what."""
    not_counted: tuple[str, ...] = ()
    """Objects that run pods capacity cannot size, with the reason."""

    def at(self, which: str) -> Amounts:
        """The totals at ``min`` or ``max`` replicas."""
        return self.min if which == "min" else self.max


@dataclass(frozen=True)
class Cost:
    """Hourly and monthly cost at min and max replicas."""

    currency: str
    hourly: dict[str, Decimal]
    monthly: dict[str, Decimal]
    unpriced: tuple[str, ...] = ()
    """Keys with an amount but no price (e.g. a GPU type missing from ``deviceHour``)."""


def _totals(items: Iterable[Workload], at: str) -> Amounts:
    out: Amounts = {}
    for w in items:
        n = w.min_replicas if at == "min" or w.max_replicas is None else w.max_replicas
        _add(out, "pods", Decimal(n))
        for key, value in w.per_pod.items():
            _add(out, key, value * n)
    return {k: out[k] for k in order_keys(out)}


def capacity(objects: Iterable[Mapping[str, Any]]) -> Capacity:
    """Totals of the objects at min and at max replicas, canary overhead, contributors."""
    objs = list(objects)
    items, skipped = workloads(objs)
    baseline, _ = workloads(objs, rollouts=False)
    grouped: dict[str, list[Workload]] = {}
    for w in items:
        grouped.setdefault(w.name, []).append(w)
    by_name = {n: {"min": _totals(grouped[n], "min"), "max": _totals(grouped[n], "max")} for n in sorted(grouped)}
    low, high = _totals(items, "min"), _totals(items, "max")
    canary = {"min": subtract(low, _totals(baseline, "min")), "max": subtract(high, _totals(baseline, "max"))}
    open_ended = [w for w in items if w.max_replicas is None]
    keys = {k: tuple(sorted({w.label for w in open_ended if k == "pods" or w.per_pod.get(k)})) for k in high}
    return Capacity(low, high, tuple(sorted({w.label for w in open_ended})), {k: v for k, v in keys.items() if v},
                    canary, by_name, tuple(sorted(set(skipped))))


def subtract(after: Mapping[str, Decimal], before: Mapping[str, Decimal]) -> Amounts:
    """``after - before`` per key over both key sets (a missing key is 0)."""
    zero = Decimal(0)
    return {k: after.get(k, zero) - before.get(k, zero) for k in order_keys({*after, *before})}


def delta(before: Capacity, after: Capacity) -> dict[str, Amounts]:
    """``{"min": after.min - before.min, "max": after.max - before.max}``."""
    return {"min": subtract(after.min, before.min), "max": subtract(after.max, before.max)}


def order_keys(keys: Iterable[str]) -> list[str]:
    """pods, then cpu/memory requests and limits, then everything else alphabetically."""
    first = ["pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]
    given = set(keys)
    return [k for k in first if k in given] + sorted(given - set(first))


# -- cost -----------------------------------------------------------------------------------------------
def hourly_cost(amounts: Mapping[str, Decimal], pricing: Pricing) -> tuple[Decimal, list[str]]:
    """Cost of one hour of ``amounts``, and the keys that have an amount but no price."""
    zero = Decimal(0)
    basis = pricing.basis
    total = amounts.get(f"{basis}.cpu", zero) * pricing.core_hour + amounts.get(f"{basis}.memory", zero) / GIB * pricing.gib_hour
    unpriced = []
    for key, value in amounts.items():
        kind, _, resource = key.partition(".")
        if kind != "requests" or resource in NATIVE or not value:
            continue
        if resource in pricing.device_hour:
            total += value * pricing.device_hour[resource]
        else:
            unpriced.append(key)
    return total, unpriced


def cost(cap: Capacity, pricing: Pricing) -> Cost:
    """Hourly and monthly cost of a capacity at min and max replicas."""
    hourly: dict[str, Decimal] = {}
    unpriced: set[str] = set()
    for at, amounts in (("min", cap.min), ("max", cap.max)):
        hourly[at], missing = hourly_cost(amounts, pricing)
        unpriced.update(missing)
    monthly = {at: value * pricing.hours_per_month for at, value in hourly.items()}
    return Cost(pricing.currency, hourly, monthly, tuple(sorted(unpriced)))


def format_amount(key: str, value: Decimal) -> str:
    """Human units: cores to 3 decimals, memory and storage in GiB/MiB, devices and pods as counts."""
    resource = key.partition(".")[2]
    if resource in ("memory", "ephemeral-storage"):
        unit, size = ("GiB", GIB) if abs(value) >= GIB or not value else ("MiB", Decimal(2**20))
        return f"{_trim(value / size, 2)} {unit}"
    return _trim(value, 3)


def describe(key: str, value: Decimal) -> str:
    """An amount with its unit, for messages: ``12.5 cores``, ``3 GiB``, ``4 pods``, ``2 nvidia.com/gpu``."""
    resource = "pods" if key == "pods" else key.partition(".")[2]
    amount = format_amount(key, value)
    if resource in ("pods", "cpu"):
        unit = {"pods": "pod", "cpu": "core"}[resource] + ("" if amount == "1" else "s")
        return f"{amount} {unit}"
    return amount if resource in ("memory", "ephemeral-storage") else f"{amount} {resource}"


def _trim(value: Decimal, places: int) -> str:
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


# -- budgets ----------------------------------------------------------------------------------------------
class _Overlay(Protocol):
    """What budgets read of an environment's overlay (``EnvOverlay``, wherever it lives)."""

    @property
    def pricing(self) -> Pricing | None:
        """The environment's prices."""

    @property
    def budget(self) -> Budget | None:
        """The environment's budget."""


Where = Callable[..., tuple[str, int | None]]


def budget_problems(env_name: str, overlay: _Overlay, objects: Iterable[Mapping[str, Any]],
                    where: Where | None = None) -> list[Problem]:
    """The environment's ``budget`` checked against its objects' totals: ``hard`` and
    ``monthlyCost`` at min replicas, ``atMaxReplicas`` at max. One problem per bound exceeded,
    naming the key, the total, the bound and the biggest contributors. ``objects`` is only read
    when the overlay sets a budget; ``where`` locates overlay keys (``Env.where``)."""
    budget = overlay.budget
    if budget is None:
        return []
    locate = where or (lambda *_: (f"overlays/{env_name}.yaml", None))
    cap = capacity(objects)
    out = _check(budget, cap, "min", overlay.pricing, locate, ("budget",))
    if budget.at_max_replicas is not None:
        out += _check(budget.at_max_replicas, cap, "max", overlay.pricing, locate, ("budget", "atMaxReplicas"))
    return out


def _check(limits: BudgetLimits, cap: Capacity, at: str, pricing: Pricing | None, locate: Where, path: tuple[str, ...]) -> list[Problem]:
    totals = cap.min if at == "min" else cap.max
    out = []
    for key, bound in sorted(limits.hard.items()):
        file, line = locate(*path, "hard", key)
        dotted = ".".join((*path, "hard", key))
        limit, total = base_units(bound), totals.get(key, Decimal(0))
        if at == "max" and key in cap.unbounded_keys:
            out.append(Problem(file, line, dotted, f"expected at most {describe(key, limit)} at max replicas, "
                               f"found no maximum: {', '.join(cap.unbounded_keys[key])} (maxReplicas unset)"))
        elif total > limit:
            top = _top({n: parts[at].get(key, Decimal(0)) for n, parts in cap.by_name.items()}, partial(format_amount, key))
            out.append(Problem(file, line, dotted, f"expected at most {describe(key, limit)} at {at} replicas, "
                               f"found {describe(key, total)}; most from {top}"))
    if limits.monthly_cost is None:
        return out
    file, line = locate(*path, "monthlyCost")
    dotted = ".".join((*path, "monthlyCost"))
    if pricing is None:
        return [*out, Problem(file, line, dotted, "expected a pricing section to put a price on capacity, found none")]
    monthly = hourly_cost(totals, pricing)[0] * pricing.hours_per_month
    if at == "max" and cap.unbounded:
        out.append(Problem(file, line, dotted, f"expected at most {_money(limits.monthly_cost)} {pricing.currency} a month at max "
                           f"replicas, found no maximum: {', '.join(cap.unbounded)} (maxReplicas unset)"))
    elif monthly > limits.monthly_cost:
        shares = {n: hourly_cost(parts[at], pricing)[0] * pricing.hours_per_month for n, parts in cap.by_name.items()}
        out.append(Problem(file, line, dotted, f"expected at most {_money(limits.monthly_cost)} {pricing.currency} a month at {at} "
                           f"replicas, found {_money(monthly)}; most from {_top(shares, _money)}"))
    return out


def _top(shares: Mapping[str, Decimal], show: Callable[[Decimal], str], n: int = 3) -> str:
    ranked = sorted(((v, k) for k, v in shares.items() if v > 0), key=lambda t: (-t[0], t[1]))
    return ", ".join(f"{k} {show(v)}" for v, k in ranked[:n]) or "nothing"


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,f}"


# -- reading a rendered tree ------------------------------------------------------------------------------
def tree_objects(folder: Path, parsed: Mapping[bytes, bytes] | None = None) -> Iterator[dict[str, Any]]:
    """The objects of ``rendered/<env>/`` that may run pods, read lazily; other files are skipped
    unparsed, unreadable ones silently (validate reports them). ``parsed`` maps file bytes
    servespec wrote to the object as JSON (the render cache)."""
    for path in sorted(folder.rglob("*.yaml")):
        data = path.read_bytes()
        if not _POD_KINDS.search(data):
            continue
        known = parsed.get(data) if parsed else None
        try:
            docs = [orjson.loads(known)] if known is not None else load_all(data)
        except (yaml.YAMLError, orjson.JSONDecodeError):
            continue
        yield from (d for d in docs if isinstance(d, dict))
