"""The pull-request comment of ``servespec diff --format markdown``: short enough to read.

Order: a hidden marker (the workflow finds and updates its own comment by it), the summary, a
capacity and cost table (every environment, at min and at max replicas, with the change against
the base), notes (running canaries, workloads without a maximum, budgets exceeded), then per
environment one line per changed object (generated bulk: one line per changed panel or rule) and
the folded diffs. Everything after the table shares a size budget: lists before diffs, each
environment a fair share, and what does not fit is counted in an "N more changes" tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .capacity import Capacity, Cost, format_amount, order_keys
from .diff import DiffReport, EnvDiff, ObjectChange

__all__ = ["format_markdown", "MARKER", "MAX_MARKDOWN"]

MARKER = "<!-- servespec-diff -->"
"""First line of the markdown output: lets a workflow find and update its own PR comment."""
MAX_MARKDOWN = 60_000
"""GitHub refuses comments over 65,536 characters; the markdown stays below this."""
MAX_DETAILS = 20
"""Lines shown per generated object (changed panels or rules); more are counted."""
MAX_NAMES = 5
"""Workloads named per note; more are counted."""
_TAIL = 160
"""Room kept per environment for its "N more changes" line."""
_KIND = {"dashboard": "Grafana dashboard", "rules": "Prometheus rules"}
_WORKLOADS = {"InferenceService", "LLMInferenceService", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


def _rank(change: ObjectChange) -> tuple[int, tuple[str, str, str]]:
    """What runs pods first, generated bulk last: the order a reviewer reads in (and the budget cuts)."""
    return (0 if change.key[0] in _WORKLOADS else 2 if change.generated else 1), change.key


def _changes(n: int) -> str:
    return f"{n} more change" if n == 1 else f"{n} more changes"


def _text(value: str) -> str:
    """Plain text inside markdown: no HTML, no table breaks."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _names(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,f}"


def _signed(text: str) -> str:
    return text if text.startswith("-") else f"+{text}"


# -- the table -------------------------------------------------------------------------------------------
def _cell(key: str, after: Capacity, before: Capacity, at: str) -> str:
    zero = Decimal(0)
    value, change = after.at(at).get(key, zero), after.at(at).get(key, zero) - before.at(at).get(key, zero)
    bound = "≥ " if at == "max" and key in after.unbounded_keys else ""
    return f"{bound}{format_amount(key, value)}" + (f" ({_signed(format_amount(key, change))})" if change else "")


def _cost_cell(env: EnvDiff, at: str) -> str:
    before, after = env.cost("before"), env.cost("after")
    if before is None or after is None:
        return "—"
    change = after.monthly[at] - before.monthly[at]
    bound = "≥ " if at == "max" and env.after.unbounded else ""
    return f"{bound}{after.currency} {_money(after.monthly[at])}" + (f" ({_signed(_money(change))})" if change else "")


def _table(report: DiffReport) -> list[str]:
    keys = order_keys({k for e in report.envs for c in (e.before, e.after) for at in ("min", "max") for k in c.at(at)})
    if not keys:
        return ["_No workloads in any environment._", ""]
    priced = any(e.pricing is not None for e in report.envs)
    head = ["env", "replicas", *keys, *(["cost / month"] if priced else [])]
    rows = ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * (len(head) - 2)]
    for env in report.envs:
        for at in ("min", "max"):
            cells = [env.env, at, *(_cell(k, env.after, env.before, at) for k in keys), *([_cost_cell(env, at)] if priced else [])]
            rows.append("| " + " | ".join(cells) + " |")
    legend = ("_Capacity: what the pods request and limit (CPU in cores, memory in GiB/MiB) at min and at max replicas, "
              f"running canaries included; (±) is the change against `{report.base}`; ≥: a workload without a maximum counts at its min._")
    return [*rows, "", legend, ""]


def _cost_note(env: EnvDiff, cost: Cost | None) -> list[str]:
    if cost is None or not cost.unpriced:
        return []
    return [f"- `{env.env}`: no price for {', '.join(cost.unpriced)} (`pricing.deviceHour`)"]


def _notes(report: DiffReport) -> list[str]:
    out: list[str] = []
    for env in report.envs:
        out += [f"- ⚠️ `{env.env}` over budget: {_text(str(p))}" for p in env.budget]
    for env in report.envs:
        extra = {at: env.after.canary.get(at, {}).get("pods", Decimal(0)) for at in ("min", "max")}
        if any(extra.values()):
            out.append(f"- `{env.env}`: running canaries add {_signed(format_amount('pods', extra['min']))} pods at min, "
                       f"{_signed(format_amount('pods', extra['max']))} at max (included above)")
        if env.after.unbounded:
            out.append(f"- `{env.env}`: no maximum: {_names(env.after.unbounded)}")
        if env.after.not_counted:
            out.append(f"- `{env.env}`: not sized: {_text(_names(env.after.not_counted))}")
        out += _cost_note(env, env.cost("after"))
    return [*out, ""] if out else []


# -- the changes, within a size budget --------------------------------------------------------------------------
def _item(change: ObjectChange) -> str:
    if not change.generated:
        return f"- {change.status} `{change.label}`\n"
    lines = [f"- {change.status} `{change.label}` ({_KIND.get(change.generated, change.generated)})\n"]
    lines += [f"  - {_text(d)}\n" for d in change.details[:MAX_DETAILS]]
    if len(change.details) > MAX_DETAILS:
        lines.append(f"  - … {len(change.details) - MAX_DETAILS} more\n")
    return "".join(lines)


def _folded(env: str, change: ObjectChange) -> str:
    body = "".join(change.diff).rstrip("\n").replace("```", "` ` `")
    return (f"<details>\n<summary>{env}: {change.label} ({change.status})</summary>\n\n"
            f"```diff\n{body}\n```\n</details>\n\n")


@dataclass
class _Section:
    """One environment's part of the comment and how much of it fits."""

    env: EnvDiff
    items: list[str] = field(default_factory=list)
    diffs: dict[int, str] = field(default_factory=dict)
    listed: int = 0
    shown: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        changes = sorted(self.env.changes, key=_rank)
        self.items = [_item(c) for c in changes]
        self.diffs = {i: _folded(self.env.env, c) for i, c in enumerate(changes) if not c.generated}

    @property
    def heading(self) -> str:
        """``#### env: N added, ...``."""
        return f"#### {self.env.summary}\n\n"

    def take_items(self, room: int) -> int:
        """List changes in order while they fit; return the room used."""
        used = 0
        for item in self.items:
            if used + len(item) > room:
                break
            used += len(item)
            self.listed += 1
        return used

    def take_diffs(self, room: int) -> int:
        """Fold in the diffs of listed changes that fit; return the room used."""
        used = 0
        for i, text in self.diffs.items():
            if i < self.listed and used + len(text) <= room:
                used += len(text)
                self.shown.add(i)
        return used

    def render(self) -> str:
        """Heading, the changes that fit, the "N more changes" tail, the diffs that fit."""
        out = [self.heading, *self.items[:self.listed]]
        hidden_items = len(self.items) - self.listed
        hidden_diffs = sum(1 for i in self.diffs if i < self.listed and i not in self.shown)
        if hidden_items or hidden_diffs:
            parts = [_changes(hidden_items) if hidden_items else "", f"diffs of {_changes(hidden_diffs)}" if hidden_diffs else ""]
            out.append(f"\n_… {' and '.join(p for p in parts if p)} not shown: run `servespec diff --env {self.env.env}` for all._\n")
        out.append("\n" if self.listed else "")
        out += [self.diffs[i] for i in sorted(self.shown)]
        return "".join(out)


def _share(sections: list[_Section], room: int, items: bool) -> int:
    """Give each section a fair share of ``room`` in turn (what one leaves goes to the next)."""
    for i, section in enumerate(sections):
        share = room // (len(sections) - i)
        room -= section.take_items(share) if items else section.take_diffs(share)
    return room


def format_markdown(report: DiffReport, limit: int = MAX_MARKDOWN) -> str:
    """A pull-request comment: summary, capacity and cost per environment, notes, then the
    changes of every environment (named even when it has none) within ``limit`` characters."""
    head = "\n".join([MARKER, f"### servespec: rendered changes against `{report.base}`", "",
                      f"**{report.summary}**", "", *_table(report), *_notes(report)]) + "\n"
    sections = [_Section(env) for env in report.envs]
    room = limit - len(head) - sum(len(s.heading) + _TAIL for s in sections)
    room = _share(sections, room, items=True)
    _share(sections, room, items=False)
    return head + "".join(s.render() for s in sections)
