"""Generated bulk summarised: one line per changed dashboard panel or rule, whatever else changed in one more."""

from __future__ import annotations

import json
from typing import Any

from servespec.bulk import changed_paths, generated_kind, summarise


def _board(panels: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    doc = {"title": "m (prod)", "panels": panels, **extra}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m-dashboard", "labels": {"grafana_dashboard": "1"}},
            "data": {"prod-m.json": json.dumps(doc, indent=2)}}


def _panel(i: int, title: str, expr: str = "up") -> dict[str, Any]:
    return {"id": i, "title": title, "type": "timeseries", "targets": [{"expr": expr, "refId": "A"}]}


def test_changed_paths() -> None:
    assert changed_paths({"a": [1, {"b": 2}], "c": 1}, {"a": [1, {"b": 3}], "c": 1}) == ["a[1].b"]
    assert changed_paths({"a": [1]}, {"a": [1, 2], "d": None}) == ["a"]  # a list that grew is one path; None is absent
    assert changed_paths(1, 2) == ["(whole value)"] and changed_paths({"x": 1}, {"x": 1}) == []


def test_dashboard_panels_rows_and_settings() -> None:
    row = {"id": 9, "title": "More", "type": "row", "collapsed": True, "panels": [_panel(10, "Inside")]}
    before = _board([_panel(1, "Rate"), _panel(2, "Errors"), row, {"title": "No id", "type": "text"}], refresh="30s")
    new_row = {**row, "panels": [_panel(10, "Inside", "rate(x[5m])")]}
    after = _board([_panel(1, "Rate"), _panel(3, "Latency"), new_row, {"title": "No id", "type": "stat"}], refresh="1m")
    after["metadata"]["labels"]["team"] = "risk"
    assert generated_kind(before, after) == "dashboard"
    assert summarise(before, after) == [
        "dashboard 'm (prod)' (prod-m.json) settings changed: refresh",
        "panel 2 'Errors' removed",
        "panel 3 'Latency' added",
        "panel 10 'Inside' changed: targets[0].expr",  # inside a collapsed row (whose own line would say nothing more)
        "panel 'No id' changed: type",
        "object changed: metadata.labels.team",
    ]
    assert summarise(None, after) == ["dashboard 'm (prod)' (prod-m.json) added: 5 panels"]
    assert summarise(before, None) == ["dashboard 'm (prod)' (prod-m.json) removed: 5 panels"]


def _rules(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "m"}, "spec": {"groups": groups}}


def test_rules_by_group_and_name() -> None:
    alert = {"alert": "High", "expr": "x > 1", "for": "5m", "labels": {"severity": "warning"}}
    before = _rules([{"name": "a", "rules": [alert, {"record": "r:sum", "expr": "sum(x)"}]}, {"name": "b", "rules": [alert]}])
    after = _rules([{"name": "a", "interval": "1m", "rules": [{**alert, "for": "10m", "labels": {"severity": "critical"}}]},
                    {"name": "c", "rules": [alert]}])
    assert generated_kind(before, after) == "rules"
    assert summarise(before, after) == [
        "group a changed: interval", "group b removed", "group c added",
        "alert High (group a) changed: for, labels.severity", "record r:sum (group a) removed",
        "alert High (group b) removed", "alert High (group c) added",
    ]
    many = _rules([{"name": "g", "rules": [{"alert": f"A{i}", "expr": "1"} for i in range(10)]}])
    assert summarise(None, many) == ["10 rules added: A0, A1, A2, A3, A4, A5, A6, A7 and 2 more"]


def test_rules_in_a_configmap_and_other_objects() -> None:
    text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m-rules"}, "data": {"m.rules.yaml": text, "note": "x"}}
    changed = {**cm, "data": {"m.rules.yaml": text.replace("up == 0", "up < 1"), "note": "y"}}
    assert summarise(cm, changed) == ["alert A changed: expr", "object changed: data.note"]
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    assert generated_kind(plain, {**plain, "data": {"k": "w"}}) is None and summarise(plain, None) == []
