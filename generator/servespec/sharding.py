"""How many objects a delivery unit may hold: the check behind ``delivery.shards``.

With ``shards: N`` the models of an environment are spread over N folders ``shards/<k>/`` by a
stable hash of their names (:func:`shard_hash`, used by ``emit/layout.py``), and a controller
object (a Flux Kustomization, an Argo CD Application) builds each folder with kustomize, whose
time grows faster than the objects in the build. ``delivery.maxShardObjects`` (default
``spec.delivery.MAX_SHARD_OBJECTS``, measured with ``bench/delivery_kustomize.py --sweep``: README
"Thousands of models") is the most a shard should hold.

:func:`oversized_shards` is what ``render`` and ``validate`` say when a shard holds more: how many
shards, the largest with its models and objects, and a ``shards:`` value that keeps every shard of
today's models within the bound. servespec never changes the count by itself: a new count renames
the units, and the controllers' tracking labels restart every model of a renamed unit (README
"Tracking labels restart models"), so an automatic count that moved as models are added would
restart models on an ordinary commit. The count moves only when a person changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .errors import Problem
from .overlay import Env

__all__ = ["oversized_shards", "shard_hash", "shard_objects", "shards_needed"]

_GROWTH = 1.03
"""Each count :func:`shards_needed` tries is at least 3% above the one before (tens of tries, not thousands)."""


def shard_hash(model: str) -> int:
    """The stable 64-bit hash a model's shard is chosen by: its shard is this modulo the count."""
    return int.from_bytes(hashlib.sha256(model.encode()).digest()[:8], "big")


def shard_objects(paths: Iterable[str]) -> dict[str, dict[str, int]]:
    """Objects per model per shard (``"07" -> {model: objects}``) of an env's rendered paths
    (``shards/<k>/<model>/<file>``: one object per file; the shard's kustomization is none)."""
    out: dict[str, dict[str, int]] = {}
    for path in paths:
        parts = path.split("/", 3)
        if len(parts) == 4 and parts[0] == "shards":
            models = out.setdefault(parts[1], {})
            models[parts[2]] = models.get(parts[2], 0) + 1
    return out


def shards_needed(objects: dict[str, int], bound: int, start: int) -> int | None:
    """A shard count of at least ``start`` at which no shard holds more than ``bound`` of
    ``objects`` (model -> its objects): counts from ``start`` (or the fewest the total needs) up,
    each at least 3% above the last, up to as many shards as models. None when none of them does."""
    hashes = [(shard_hash(model), n) for model, n in sorted(objects.items())]
    count = max(start, -(-sum(objects.values()) // bound))
    while count < len(hashes):
        load = [0] * count
        for h, n in hashes:
            load[h % count] += n
        if max(load) <= bound:
            return count
        count = max(count + 1, int(count * _GROWTH))
    return None


def oversized_shards(env: Env, paths: Iterable[str]) -> list[Problem]:
    """A warning, located at the overlay's ``delivery.shards``, when any shard of the env's rendered
    ``paths`` holds more objects than ``delivery.maxShardObjects``; none otherwise."""
    delivery = env.overlay.delivery
    if not delivery.shards:
        return []
    bound = delivery.max_shard_objects
    shards = shard_objects(paths)
    totals = {k: sum(models.values()) for k, models in shards.items()}
    over = sorted((k for k, n in totals.items() if n > bound), key=lambda k: (-totals[k], k))
    if not over:
        return []
    objects = {model: n for models in shards.values() for model, n in models.items()}
    file, line = env.where("delivery", "shards")
    return [Problem(file, line, "delivery.shards", f"{_over(over, shards, delivery.shards, bound)}; "
                    f"{_fix(objects, bound, delivery.shards)} (README \"Thousands of models\")")]


def _over(over: list[str], shards: dict[str, dict[str, int]], count: int, bound: int) -> str:
    """What is over the bound: the one shard, or how many and the largest (``over[0]``)."""
    largest, models = over[0], shards[over[0]]
    if len(over) == 1:
        return f"shards/{largest} holds {sum(models.values())} objects ({len(models)} models), more than maxShardObjects ({bound})"
    return (f"{len(over)} of {count} shards hold more than maxShardObjects ({bound}) objects, the largest "
            f"shards/{largest} {sum(models.values())} ({len(models)} models)")


def _fix(objects: dict[str, int], bound: int, count: int) -> str:
    """What keeps every unit within ``bound``, and what it costs."""
    needed = shards_needed(objects, bound, count + 1)
    restart = "renames the units and restarts their models: choose it once, with room to grow"
    if needed is not None:
        return f"shards: {needed} keeps every shard of today's {len(objects)} models within it, but a new count {restart}"
    if max(objects.values()) <= bound:
        return f"no shard count below {len(objects)} does; removing shards (one unit per model) does, but that {restart}"
    return f"no count does: a model alone has {max(objects.values())} objects; raise maxShardObjects"
