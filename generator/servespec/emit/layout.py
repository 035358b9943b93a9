"""The layout of ``rendered/<env>/`` and its kustomizations.

Every environment is split into small *units*, each a folder with its own ``kustomization.yaml``
that a controller object (an Argo CD Application, a Flux Kustomization) builds on its own:

- ``common/``: the objects that belong to no model (Namespace, storage credentials, ...);
- ``models/<name>/``: one model's objects; or, when the overlay sets ``delivery.shards: N``,
  ``shards/<k>/<name>/`` with one kustomization per shard ``shards/<k>/``.

``rendered/<env>/kustomization.yaml`` lists the units, so ``kubectl kustomize rendered/<env>``
builds exactly the environment's objects (CI and people use it; the controllers do not, because
kustomize's cost grows with the square of the resources in one build: TOOLCHAIN.md §2 and
``bench/delivery_kustomize.py``). Emitters write ``models/<name>/...`` for a model's objects and
any other path for the rest; :func:`layout` moves them into their unit.

No ``namespace:``/``namePrefix`` transformers: names and namespaces are final in the objects
themselves (TOOLCHAIN.md §2: the transformers break references and double the build time).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from ..sharding import shard_hash
from ..cache.warm import Scope, scope
from .context import COMMON, EnvContext, Output, kustomization

__all__ = ["Layout", "layout", "shard_of"]

class Layout:
    """The environment's objects moved into their units, with the kustomizations."""

    def __init__(self, units: list[str], members: dict[str, list[str]], laid: dict[str, list[Output]], fresh: list[str],
                 kustomization: Output, basis: int | None = None):
        self.units = units
        """Unit folders as the env's kustomization lists them: ``common`` first, then sorted."""
        self.members = members
        """The models of each unit (sorted; none for ``common``)."""
        self.laid = laid
        """Each unit's outputs at their final paths, its kustomization last."""
        self.fresh = fresh
        """Units laid out now; every other one is the very list of the last layout of the env in this process."""
        self.kustomization = kustomization
        """The env's own kustomization (listing the units)."""
        self.serial = next(_SERIALS)
        self.basis = basis
        """The serial of the layout this one patched: every unit but the :attr:`fresh` ones is that one's (None: laid out whole)."""

    @property
    def outputs(self) -> list[Output]:
        """Every unit's outputs in order, the env's kustomization last."""
        return [*itertools.chain.from_iterable(map(self.laid.__getitem__, self.units)), self.kustomization]


_SERIALS = itertools.count()


@dataclass(frozen=True)
class _Last:
    """An env's last layout in this process and the groups it was made of."""

    groups: list[list[Output]]
    layout: Layout
    where: list[str | None] | None
    """The unit each group went to whole (None: empty), or None when a group was split."""
    members: dict[str, list[int]]
    """The groups of each unit, in order (when ``where`` is known)."""


_LAST = ("last layout",)


@functools.lru_cache(maxsize=1 << 16)
def shard_of(model: str, shards: int) -> str:
    """The shard folder name of a model: a stable hash of its name, zero-padded (``07``)."""
    width = len(str(shards - 1))
    return f"{shard_hash(model) % shards:0{width}d}"


def _unit_of(ctx: EnvContext, out: Output) -> tuple[str, str]:
    """(unit folder, path inside it) of one output."""
    if out.model is None:
        return COMMON, out.path
    prefix = f"models/{out.model}/"
    if not out.path.startswith(prefix):
        raise AssertionError(f"an emitter put an object of model {out.model!r} at {out.path}, outside {prefix}")
    shards = ctx.env.overlay.delivery.shards
    if shards:
        return f"shards/{shard_of(out.model, shards)}", f"{out.model}/{out.path[len(prefix):]}"
    return prefix.rstrip("/"), out.path[len(prefix):]


def layout(ctx: EnvContext, groups: list[list[Output]]) -> Layout:
    """Move every output into its unit and add the unit kustomizations and the env's own.

    ``groups``: the outputs as the emitters gave them (the environment's, then one list per
    model). A unit whose groups are the very lists of the last render in this process (the
    render cache hands out the same list for a model that did not change) is laid out as then
    (``cache/warm.py``); when only a few groups are new, the last layout is patched (:func:`_patched`)."""
    shards = ctx.env.overlay.delivery.shards
    memo = scope(("layout", str(ctx.project.root), ctx.env.name), shards)
    last = memo.hit(_LAST)
    found = _patched(ctx, memo, groups, last) if isinstance(last, _Last) and last.where is not None else None
    if found is None:
        found = _whole(ctx, memo, groups)
        where = [_unit_whole(ctx, group) for group in groups]
        whole = all(unit is not None or not group for unit, group in zip(where, groups, strict=True))
        members: dict[str, list[int]] = {}
        for i, unit in enumerate(where):
            if unit is not None:
                members.setdefault(unit, []).append(i)
        memo.put(_LAST, _Last(list(groups), found, where if whole else None, members))
    else:
        assert isinstance(last, _Last)
        memo.put(_LAST, _Last(list(groups), found, last.where, last.members))
    return found


def _whole(ctx: EnvContext, memo: Scope, groups: list[list[Output]]) -> Layout:
    """Every group to its unit, each unit laid out unless its groups are the very lists of last time."""
    shards = ctx.env.overlay.delivery.shards
    get, used = memo.get, memo.used
    parts: dict[str, list[list[Output]]] = {}
    for group in groups:
        if group and not shards and group[0].model:
            unit = "models/" + group[0].model
            kept = get(unit)
            if kept is not None and len(kept[0]) == 1 and kept[0][0] is group:  # a model's unit as last time: _split would agree
                parts.setdefault(unit, []).append(group)
                continue
        for unit, part in _split(ctx, group):
            parts.setdefault(unit, []).append(part)
    order = sorted(parts)
    if COMMON in parts:  # common/ first, then the rest sorted
        order.remove(COMMON)
        order.insert(0, COMMON)
    members: dict[str, list[str]] = {}
    laid: dict[str, list[Output]] = {}
    fresh: list[str] = []
    for unit in order:
        used.add(unit)  # Scope.hit, inlined: 30,000 units at 10,000 models
        hit, now = get(unit), parts[unit]
        if hit is None or len(hit[0]) != len(now) or not (hit[0][0] is now[0] if len(now) == 1 else all(a is b for a, b in zip(hit[0], now, strict=True))):
            hit = (now, *_lay(ctx, unit, now))
            memo.put(unit, hit)
            fresh.append(unit)
        laid[unit], members[unit] = hit[1], hit[2]
    env_kustomization = Output("kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": order,
    })
    return Layout(order, members, laid, fresh, env_kustomization)


def _patched(ctx: EnvContext, memo: Scope, groups: list[list[Output]], last: _Last) -> Layout | None:
    """The last layout with the units of the groups that are not the very lists of last time
    laid out again (with their other groups), when each such group goes whole to the unit its
    old one went to (the same units, in the same order: the env's kustomization is the same
    object); None otherwise."""
    if len(groups) != len(last.groups) or last.where is None:
        return None
    changed = [i for i, (a, b) in enumerate(zip(groups, last.groups, strict=True)) if a is not b]
    units: dict[str, None] = {}
    for i in changed:
        unit = _unit_whole(ctx, groups[i])
        if unit is None or unit != last.where[i]:
            return None
        units[unit] = None
    was = last.layout
    laid, members, fresh = dict(was.laid), was.members, []
    for unit in units:
        now = [groups[i] for i in last.members[unit]]
        entry = (now, *_lay(ctx, unit, now))
        memo.put(unit, entry)
        laid[unit] = entry[1]
        if entry[2] != members[unit]:
            members = {**members, unit: entry[2]}  # a shard's models change when one is renamed
        fresh.append(unit)
    memo.keep()  # every other unit's entry stays: the next whole layout reuses them
    return Layout(was.units, members, laid, fresh, was.kustomization, was.serial)


def _unit_whole(ctx: EnvContext, group: list[Output]) -> str | None:
    """The unit all of a (non-empty) group goes to; None when it is split or empty."""
    if not group:
        return None
    model = group[0].model
    if any(o.model != model for o in group):
        return None
    return _unit_of(ctx, group[0])[0]


def _split(ctx: EnvContext, group: list[Output]) -> list[tuple[str, list[Output]]]:
    """``(unit, outputs)`` of one group: the group itself when all of it goes to one unit."""
    if not group:
        return []
    first = _unit_of(ctx, group[0])[0]
    if group[0].model is not None and all(o.model == group[0].model for o in group):
        return [(first, group)]
    out: dict[str, list[Output]] = {}
    for o in group:
        out.setdefault(_unit_of(ctx, o)[0], []).append(o)
    return list(out.items())


def _lay(ctx: EnvContext, unit: str, parts: list[list[Output]]) -> tuple[list[Output], list[str]]:
    """One unit's outputs at their final paths, then its kustomization; the unit's models."""
    laid = [Output(f"{unit}/{_unit_of(ctx, out)[1]}", out.obj, out.model, out.data) for part in parts for out in part]  # not replace(): 3x faster
    laid.append(kustomization(f"{unit}/kustomization.yaml", laid, f"{unit}/"))
    return laid, sorted({o.model for o in laid if o.model})
