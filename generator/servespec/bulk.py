"""What changed inside generated bulk: Grafana dashboards and Prometheus rule groups.

A dashboard ConfigMap holds kilobytes of JSON and a PrometheusRule dozens of lines per alert; a
reviewer wants to know *which* panels and rules changed, not to read them. :func:`summarise`
tells, one line per changed panel or rule (``panel 2 "p99 latency" changed: targets[0].expr``),
and one line for a whole dashboard or rule set added or removed. Pure functions over objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped, unused-ignore]

from .yamlio import load_all

__all__ = ["generated_kind", "summarise", "changed_paths"]

MAX_PATHS = 4
"""Changed fields named per line; more are counted."""
MAX_NAMES = 8
"""Rule names listed for a rule set added or removed; more are counted."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dashboard(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.lstrip().startswith("{") or '"panels"' not in text:
        return None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("panels"), list) else None


def _rule_groups(obj: Mapping[str, Any] | None) -> list[Any] | None:
    """The rule groups of a PrometheusRule, or of a ConfigMap holding a rules file; else None."""
    if obj is None:
        return None
    if obj.get("kind") == "PrometheusRule":
        groups = _dict(obj.get("spec")).get("groups")
        return groups if isinstance(groups, list) else []
    if obj.get("kind") != "ConfigMap":
        return None
    found: list[Any] = []
    for text in _dict(obj.get("data")).values():
        if isinstance(text, str) and text.startswith("groups:"):
            try:
                docs = load_all(text)
            except yaml.YAMLError:
                continue
            found += _dict(docs[0] if docs else None).get("groups") or []
    return found or None


def _dashboards(obj: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if obj is None or obj.get("kind") != "ConfigMap":
        return {}
    out = {}
    for key, text in sorted(_dict(obj.get("data")).items()):
        doc = _dashboard(text)
        if doc is not None:
            out[key] = doc
    return out


def generated_kind(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str | None:
    """``dashboard``, ``rules`` or None (not generated bulk) for one object's two sides."""
    if _dashboards(after) or _dashboards(before):
        return "dashboard"
    if _rule_groups(after) is not None or _rule_groups(before) is not None:
        return "rules"
    return None


def changed_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ (``targets[0].expr``); a list whose length
    changed is one path."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted({*a, *b}, key=str):
            out += changed_paths(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in changed_paths(x, y, f"{prefix}[{i}]")]
    return [prefix or "(whole value)"]


def _paths(a: Any, b: Any, skip: tuple[str, ...] = ()) -> str:
    found = [p for p in changed_paths(a, b) if not p.startswith(skip)]
    shown = ", ".join(found[:MAX_PATHS])
    return shown + (f" and {len(found) - MAX_PATHS} more" if len(found) > MAX_PATHS else "")


# -- dashboards -------------------------------------------------------------------------------------------
def _panels(panels: Any) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed panels included."""
    for panel in panels if isinstance(panels, list) else []:
        if isinstance(panel, dict):
            yield panel
            yield from _panels(panel.get("panels"))


def _panel_map(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for panel in _panels(doc.get("panels")):
        key = f"{panel['id']}" if "id" in panel else f"title {panel.get('title', '')}"
        out.setdefault(key, panel)
    return out


def _panel_label(key: str, panel: Mapping[str, Any]) -> str:
    title = panel.get("title", "")
    return f"panel {key} {title!r}" if not key.startswith("title ") else f"panel {title!r}"


def _dashboard_lines(file: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    doc = new if new is not None else old
    assert doc is not None
    title = doc.get("title", file)
    if old is None or new is None:
        count = sum(1 for _ in _panels(doc.get("panels")))
        return [f"dashboard {title!r} ({file}) {'added' if old is None else 'removed'}: {count} panels"]
    lines = []
    settings = _paths({k: v for k, v in old.items() if k != "panels"}, {k: v for k, v in new.items() if k != "panels"})
    if settings:
        lines.append(f"dashboard {title!r} ({file}) settings changed: {settings}")
    before, after = _panel_map(old), _panel_map(new)
    for key in sorted({*before, *after}, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{_panel_label(key, a or b or {})} {'added' if a is None else 'removed'}")
        elif own := _paths(a, b, ("panels",)):  # a row whose panels alone changed: they have their own lines
            lines.append(f"{_panel_label(key, b)} changed: {own}")
    return lines


# -- rules ---------------------------------------------------------------------------------------------------
def _rules(groups: list[Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """(group, ``alert X``/``record Y``, occurrence) -> rule."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for group in groups:
        gname = str(_dict(group).get("name", ""))
        for rule in _dict(group).get("rules") or []:
            rule = _dict(rule)
            name = f"alert {rule['alert']}" if "alert" in rule else f"record {rule.get('record', '?')}"
            n = sum(1 for g, r, _ in out if g == gname and r == name)
            out[(gname, name, n)] = rule
    return out


def _rule_lines(old: list[Any] | None, new: list[Any] | None) -> list[str]:
    groups = new if new is not None else old
    assert groups is not None
    if old is None or new is None:
        names = sorted({name.split(" ", 1)[1] for _, name, _ in _rules(groups)})
        shown = ", ".join(names[:MAX_NAMES]) + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")
        return [f"{len(_rules(groups))} rules {'added' if old is None else 'removed'}: {shown}"]
    before, after = _rules(old), _rules(new)
    several = len({g for g, _, _ in {*before, *after}}) > 1
    lines = []
    settings_old = {str(_dict(g).get("name")): {k: v for k, v in _dict(g).items() if k != "rules"} for g in old}
    settings_new = {str(_dict(g).get("name")): {k: v for k, v in _dict(g).items() if k != "rules"} for g in new}
    for gname in sorted({*settings_old, *settings_new}):
        a, b = settings_old.get(gname), settings_new.get(gname)
        if a is None or b is None:
            lines.append(f"group {gname} {'added' if a is None else 'removed'}")
        elif a != b:
            lines.append(f"group {gname} changed: {_paths(a, b)}")
    for key in sorted({*before, *after}):
        gname, name, _ = key
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        where = f" (group {gname})" if several else ""
        if a is None or b is None:
            lines.append(f"{name}{where} {'added' if a is None else 'removed'}")
        else:
            lines.append(f"{name}{where} changed: {_paths(a, b)}")
    return lines


def _shell(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without its generated content (``data``, or a PrometheusRule's ``spec.groups``)."""
    out = {k: v for k, v in obj.items() if k != "data"}
    if obj.get("kind") == "PrometheusRule":
        out["spec"] = {k: v for k, v in _dict(obj.get("spec")).items() if k != "groups"}
    return out


def summarise(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """One line per changed panel or rule of a generated object (or one line for a whole
    dashboard or rule set added or removed), and one for whatever else of the object changed."""
    kind = generated_kind(before, after)
    if kind is None:
        return []
    lines: list[str] = []
    if kind == "rules":
        lines += _rule_lines(_rule_groups(before), _rule_groups(after))
        content: set[str] = {k for o in (before, after) if o for k, v in _dict(o.get("data")).items()
                             if isinstance(v, str) and v.startswith("groups:")}
    else:
        old, new = _dashboards(before), _dashboards(after)
        for file in sorted({*old, *new}):
            lines += _dashboard_lines(file, old.get(file), new.get(file))
        content = {*old, *new}
    if before is not None and after is not None:
        data_old, data_new = _dict(before.get("data")), _dict(after.get("data"))
        keys = [f"data.{k}" for k in sorted({*data_old, *data_new}) if k not in content and data_old.get(k) != data_new.get(k)]
        other = ", ".join(filter(None, [_paths(_shell(before), _shell(after)), *keys]))
        if other:
            lines.append(f"object changed: {other}")
    return lines
