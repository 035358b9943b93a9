"""The rollout state file ``overlays/<env>.rollout.yaml``: read with locations, written by round trip.

Only ``release``/``promote``/``rollback``/``forget`` write it (ruamel round trip, so comments and order
survive; env discovery ignores names with a dot). It has an entry per managed model: laid out as
servespec writes it, it is read and edited by lines (``statetext.py``: one entry round-tripped
instead of the whole file), anything else by ruamel::

    models:
      census-income:
        phase: canary            # stable | canary | rolled-back
        stable: s3://census-income/v1
        candidate: s3://census-income/v2
        step: 2                  # 1-based index into the plan's steps
        traffic: 25              # the plan's step: percent of traffic to the candidate
        since: "2026-11-24T18:00:00Z"
        lastGate: {result: passed, at: "...", summary: "error-rate=0.0021 latency-p99=85"}

A model without an entry is unmanaged: its spec's ``storage_uri`` is stable and rendered as is.
What the entries mean is checked by ``resolve.check_state``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..cache.warm import scope
from ..clock import iso
from ..errors import Problem, PromoteError
from ..fsutil import atomic_write
from ..spec.rollout import ModelState
from ..validation_messages import describe_pydantic_error
from ..yamlio import new_map, read_text, roundtrip_dump, roundtrip_load
from . import statetext

__all__ = ["state_path", "load_state", "write_state", "remove_entry"]


def state_path(root: Path, env: str) -> Path:
    """``overlays/<env>.rollout.yaml``."""
    return root / "overlays" / f"{env}.rollout.yaml"


def _line(node: Any, *path: Any) -> int | None:
    """1-based line of ``path`` inside a ruamel round-trip document."""
    line = None
    for key in path:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            line = (lc.key(key) if isinstance(node, dict) else lc.item(key))[0] + 1
        except (KeyError, IndexError, TypeError):
            break
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _kind(node: Any) -> str:
    """What a YAML node is, in the words of the error messages (never ruamel's class names)."""
    if isinstance(node, dict):
        return "a mapping"
    if isinstance(node, list):
        return "a list"
    if isinstance(node, bool):
        return f"a boolean ({str(node).lower()})"
    return f"{type(node).__name__} {node!r}" if isinstance(node, (int, float)) else f"a string {str(node)!r}"


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, dt.datetime):
        return iso(node if node.tzinfo else node.replace(tzinfo=dt.UTC))
    if isinstance(node, str):
        return str(node)
    return node


STATE_MAX_BYTES = 16 << 20
"""The most a state file may hold. It grows by one entry (150–330 bytes) per managed model, so
the 1 MiB cap of hand-written YAML would refuse an environment of a few thousand models; files
laid out as servespec writes them are read by lines (``statetext.py``), fast at any size, and a
hand-edited one over 1 MiB is still refused by the round-trip reader's own cap."""


def load_state(root: Path, env: str) -> tuple[dict[str, ModelState], dict[str, int | None]]:
    """The state of every managed model of ``env`` (empty when there is no state file), and the
    line of each model's entry. Syntax and field types only; :func:`check_state` checks meaning."""
    path = state_path(root, env)
    display = f"overlays/{env}.rollout.yaml"
    text = read_text(path, display, PromoteError, STATE_MAX_BYTES) if path.is_file() else None
    memo = scope(("state", str(path)), text)  # the same file text: the very same objects (resolve.py compares them by identity)
    kept = memo.hit("parsed")
    if kept is None:
        kept = _parsed(text, display) if text is not None else ({}, {})
        memo.put("parsed", kept)
    return kept  # type: ignore[no-any-return]


def _parsed(text: str, display: str) -> tuple[dict[str, ModelState], dict[str, int | None]]:
    fast = statetext.parse(text)
    if fast is not None:
        try:
            return ({e.name: ModelState.model_validate(e.value, by_alias=True, by_name=False) for e in fast.entries},
                    {e.name: e.start + 1 for e in fast.entries})
        except ValidationError:
            pass  # reported below, located by ruamel
    doc = roundtrip_load(text, display, PromoteError)
    if doc is None:
        return {}, {}
    if not isinstance(doc, dict) or set(doc) - {"models"}:
        found = _kind(doc) if not isinstance(doc, dict) else ", ".join(sorted(map(str, set(doc) - {"models"})))
        raise PromoteError(Problem(display, _line(doc) or 1, "", f"expected a mapping with only the key 'models', found {found}"))
    models = doc.get("models") or {}
    if not isinstance(models, dict):
        raise PromoteError(Problem(display, _line(doc, "models"), "models", f"expected a mapping of model name to state, found {_kind(models)}"))
    problems: list[Problem] = []
    out: dict[str, ModelState] = {}
    lines: dict[str, int | None] = {}
    for name, entry in models.items():
        lines[str(name)] = _line(doc, "models", name)
        try:
            out[str(name)] = ModelState.model_validate(_plain(entry), by_alias=True, by_name=False)
        except ValidationError as exc:
            for err in exc.errors():
                fld, message = describe_pydantic_error(err)
                problems.append(Problem(display, _line(doc, "models", name, *err["loc"]) or lines[str(name)],
                                        f"models.{name}" + (f".{fld}" if fld else ""), message))
    if problems:
        raise PromoteError(problems)
    return out, lines


_HEADER = ("# Rollout state of environment {env!r}: written only by `servespec release/promote/rollback/forget`.\n"
           "# Each change is one commit together with the re-rendered rendered/{env}/.\n")


def write_state(root: Path, env: str, model: str, after: ModelState) -> None:
    """Set one model's entry (round trip: comments, order and other entries untouched)."""
    path = state_path(root, env)
    display = f"overlays/{env}.rollout.yaml"
    text = read_text(path, display, PromoteError, STATE_MAX_BYTES) if path.is_file() else _HEADER.format(env=env)
    fast = statetext.parse(text)
    if fast is not None and fast.canonical:  # only the entry's lines are round-tripped
        entry = fast.get(model)
        edited = _edit("models:\n" + ("".join(fast.lines[entry.start:entry.end]) if entry else ""), model, after)
        if edited.startswith("models:\n"):
            atomic_write(path, statetext.splice(fast, model, edited.removeprefix("models:\n")).encode("utf-8"))
            return
    atomic_write(path, _edit(text, model, after).encode("utf-8"))


def _edit(text: str, model: str, after: ModelState) -> str:
    """``text`` with ``model``'s entry set to ``after`` (ruamel round trip)."""
    doc = roundtrip_load(text)
    if doc is None:
        doc = roundtrip_load(text + "models: {}\n")
    if doc.get("models") is None:
        doc["models"] = new_map()
    models = doc["models"]
    if getattr(models, "fa", None) is not None:
        models.fa.set_block_style()
    new = after.model_dump(by_alias=True, exclude_none=True)
    if model not in models or not isinstance(models[model], dict):
        models[model] = new_map()
        models = _sorted_insert(models, model)
        doc["models"] = models
    entry = models[model]
    for key in list(entry):
        if key not in new:
            del entry[key]
    for key, value in new.items():
        if isinstance(value, dict):
            sub = entry.get(key) if isinstance(entry.get(key), dict) else new_map()
            for k in list(sub):
                if k not in value:
                    del sub[k]
            for k, v in value.items():
                sub[k] = v
            entry[key] = sub
        elif entry.get(key) != value:
            entry[key] = value
    return roundtrip_dump(doc)


def remove_entry(root: Path, env: str, model: str) -> None:
    """Delete one model's entry (round trip: comments, order and other entries untouched)."""
    path = state_path(root, env)
    text = path.read_text(encoding="utf-8")
    fast = statetext.parse(text)
    if fast is not None and fast.get(model) is not None and len(fast.entries) > 1:  # the last one: "models: {}", by ruamel
        atomic_write(path, statetext.splice(fast, model, "").encode("utf-8"))
        return
    doc = roundtrip_load(text)
    del doc["models"][model]
    atomic_write(path, roundtrip_dump(doc).encode("utf-8"))


def _sorted_insert(models: Any, name: str) -> Any:
    """Keep model entries in name order when adding one (stable diffs)."""
    keys = [k for k in models if k != name]
    pos = sum(1 for k in keys if str(k) < name)
    value = models.pop(name)
    models.insert(pos, name, value)
    return models
