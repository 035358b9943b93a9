"""An environment's files from its laid-out units: ``path -> (digest, bytes)``, each unit serialized
once and kept while it is laid out again (``cache/warm.py``).

In a long-lived process (``servespec daemon``) that wrote the environment before, the files are
the last written ones patched where a unit is not the very list of outputs it was then, and the
write is told which paths those are (``envtree.Since``): at 10,000 models a one-model change then
neither copies nor compares 16,000 entries per environment one by one. Anything else (the first
render, units added or removed, a render that was not written) is assembled whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cache import warm
from .cache.render import DigestRef, digest
from .emit import Output
from .emit.layout import Layout
from .envtree import Since, Wanted
from .yamlwriter import dump

__all__ = ["EnvFiles", "assemble", "serialized", "written"]

_LAST = ("last written",)
_TAIL = ("last tail",)
"""The key, in an env's memo of serialized units, of what the last write of the env was given."""


@dataclass(frozen=True)
class _Last:
    units: list[str]
    laid: dict[str, list[Output]]
    """Each unit's outputs then (the very lists)."""
    layout: int
    """The serial of that layout (``emit/layout.Layout``)."""
    files: Wanted
    tail: list[str]
    """The env-wide files then (kustomization, controllers)."""
    token: str
    """The manifest the write left (``EnvTree.token``; "" when none was kept)."""


class EnvFiles(dict[str, tuple[bytes, bytes | None]]):
    """One environment's wanted files (sorted by path), and where they may differ from the last
    written ones (:attr:`since`, None: anywhere)."""

    since: Since | None = None
    _memo: warm.Scope | None = None
    _last: _Last | None = None


def serialized(outputs: list[Output]) -> Wanted:
    """``path -> (digest, bytes)`` of ``outputs``; a cached file by its digest only (on disk)."""
    out: Wanted = {}
    for o in outputs:
        if isinstance(o.data, DigestRef):
            out[o.path] = (o.data.digest, None)
        else:
            data = o.data if o.data is not None else dump(o.obj).encode("utf-8")
            out[o.path] = (digest(data), data)
    return out


def assemble(root: str, env: str, units: Layout, tail: list[Output]) -> EnvFiles:
    """The files of ``units`` and the env-wide ``tail`` outputs."""
    memo = warm.scope(("serialized", root, env), None)
    last = memo.hit(_LAST)
    kept = memo.hit(_TAIL)
    if kept is not None and len(kept[0]) == len(tail) and all(a is b for a, b in zip(kept[0], tail, strict=True)):
        tail_files = kept[1]  # the env's kustomization of 10,000 units is not written out again
    else:
        tail_files = serialized(tail)
        memo.put(_TAIL, (list(tail), tail_files))
    if isinstance(last, _Last) and last.units == units.units:
        files = _patched(memo, units, tail_files, last)
    else:
        whole: Wanted = {}
        for unit in units.units:
            laid = units.laid[unit]
            hit = memo.hit(unit)
            if hit is None or hit[0] is not laid:
                hit = (laid, serialized(laid))
                memo.put(unit, hit)
            whole.update(hit[1])
        whole.update(tail_files)
        files = EnvFiles(sorted(whole.items()))
    files._memo = memo
    files._last = _Last(units.units, units.laid, units.serial, files, list(tail_files), "")
    return files


def _patched(memo: warm.Scope, units: Layout, tail: Wanted, last: _Last) -> EnvFiles:
    """The last written files with every unit that is not the very list it was then serialized
    again (the same units), and the paths that may differ."""
    if units.basis is not None and units.basis == last.layout:  # the layout says which units it laid out again
        changed = units.fresh
    else:
        changed = [unit for unit in units.units if last.laid.get(unit) is not units.laid[unit]]
    memo.keep()  # every unit's entry stays (``Scope.sweep``)
    files = EnvFiles(last.files)  # a path kept keeps its place: the files stay sorted unless paths come or go
    dirty = {*last.tail, *tail}
    for unit in changed:
        laid = units.laid[unit]
        hit = memo.get(unit)
        if hit is None or hit[0] is not laid:
            hit = (laid, serialized(laid))
            memo[unit] = hit
        for out in last.laid[unit]:
            dirty.add(out.path)
            if out.path not in hit[1]:
                del files[out.path]
        dirty.update(hit[1])
        files.update(hit[1])
    for path in last.tail:
        if path not in tail:
            del files[path]
    files.update(tail)
    if any((path in files) != (path in last.files) for path in dirty):
        files = EnvFiles(sorted(files.items()))
    files.since = (last.token, dirty)
    return files


def written(files: Wanted, token: str) -> None:
    """``files`` were written, leaving the manifest ``token``: the next render of the env in this
    process patches them."""
    if isinstance(files, EnvFiles) and files._memo is not None and files._last is not None:
        last = files._last
        files._memo.put(_LAST, _Last(last.units, last.laid, last.layout, files, last.tail, token))
