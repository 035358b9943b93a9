"""Validate rendered trees: every file of ``rendered/<env>/`` against its schema and servespec's
policies (``checks.py``), and every kustomization's listing (``kustomization.yaml`` and the
controller's ``bootstrap/kustomization.yaml``, nested ones followed).

Only what changed is checked: a file whose digest is the one an earlier result was computed for
(under the same settings, schemas and code) keeps that result (``cache/validation.py``), and a
file the last render left as it was (its stat as the manifest recorded, ``cache/manifest.py``) is
not even read: its digest is the manifest's and its object the render cache's JSON
(``cache/objects.py``). What is left to check is checked in this process or, when it is much,
in one worker per core, forked once for every environment (schemas compiled before forking).

After a large render most results are not computed here at all: each of its forked workers checks
the files it wrote, with their bytes and objects at hand (:func:`record_rendered`), and keeps the
results under the key a validate without ``--crds`` looks them up by.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..cache.fingerprint import file_digest
from ..cache.manifest import load_manifest, manifest_path, tree_view
from ..cache.objects import ObjectStore
from ..cache.validation import CLEAN, EnvResults, FileResult, Listing, ValidationCache
from ..capacity import budget_problems, tree_objects
from ..errors import Problem
from ..overlay import Env
from ..yamlio import load_all
from ..yamlwriter import dump
from .checks import ValidationReport, check_objects, kustomize_listing, validate_objects
from .schemas import SchemaRegistry

__all__ = ["ValidationReport", "validate_objects", "validate_tree", "validate_trees", "rendered_files", "rendered_view", "record_rendered",
           "FileResult", "PARALLEL_FROM"]

PARALLEL_FROM = 1500
"""Validate in worker processes (one per core) when at least this many files changed."""

_KUSTOMIZATION = re.compile(rb"apiVersion: ([!-~]+)\nkind: Kustomization\nresources:\n((?:- [ -~]+\n)+)\Z")


def _kustomization(data: bytes) -> dict[str, Any] | None:
    """The kustomization in ``data`` when it is spelled as servespec writes one, without PyYAML:
    read by a pattern, then trusted only if ``yamlwriter.dump`` spells it back to the same bytes
    (``dump`` round-trips through PyYAML, property-tested)."""
    found = _KUSTOMIZATION.match(data)
    if found is None:
        return None
    obj = {"apiVersion": found.group(1).decode(), "kind": "Kustomization",
           "resources": [line[2:] for line in found.group(2).decode().splitlines()]}
    return obj if dump(obj).encode() == data else None


def _check_file(shown: str, data: bytes | None, json: bytes | None, env: Env, registry: SchemaRegistry,
                read: Callable[[], bytes]) -> FileResult:
    """Validate one rendered file: its objects from ``json`` (the render cache's, for bytes
    servespec wrote) or else parsed from ``data`` (``read()`` gives the bytes when not at hand)."""
    if not shown.endswith(".yaml"):
        return (Problem(shown, None, "", "unexpected non-YAML file in rendered output"),), (), (), 0, None
    docs: list[Any] = []
    if json is not None:
        try:
            docs = [orjson.loads(json)]
        except orjson.JSONDecodeError:
            json = None
    if json is None:
        data = data if data is not None else read()
        known = _kustomization(data)
        try:
            docs = [known] if known is not None else load_all(data)
        except yaml.YAMLError as exc:
            return (Problem(shown, None, "", f"invalid YAML: {exc}"),), (), (), 0, None
    resources = None
    if shown.endswith("/kustomization.yaml"):
        listed = (docs[0] if docs and isinstance(docs[0], dict) else {}).get("resources")
        resources = tuple(str(entry) for entry in listed) if isinstance(listed, list) else ()
    report = check_objects(((shown, d, json) for d in docs), env, registry)
    return (), tuple(report.problems), tuple(report.notes), report.objects, resources


@dataclass
class _Tree:
    """One environment's rendered tree while it is validated."""

    env: Env
    folder: Path
    store: ObjectStore | None
    digests: dict[str, bytes] = field(default_factory=dict)
    """Every file -> its digest (the manifest's, or of the bytes read now)."""
    data: dict[str, bytes] = field(default_factory=dict)
    """Files read while looking for their digest."""
    results: dict[str, FileResult] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def check(self, rel: str, registry: SchemaRegistry) -> FileResult:
        json = self.store.by_digest(self.digests[rel]) if self.store is not None else None
        return _check_file(f"rendered/{self.env.name}/{rel}", self.data.get(rel), json, self.env, registry,
                           lambda: (self.folder / rel).read_bytes())


def _plan(tree: _Tree, files: dict[str, bytes | None], cache: ValidationCache | None, key: bytes) -> None:
    """Each file's earlier result where it still holds, else the file is pending."""
    earlier = cache.earlier(tree.env.name, key) if cache is not None else EnvResults()
    known, encoded, digests, results, pending = earlier.digests, earlier.encoded, tree.digests, tree.results, tree.pending
    for rel, digest in files.items():
        if digest is None:
            tree.data[rel] = data = (tree.folder / rel).read_bytes()
            digest = file_digest(data)
        digests[rel] = digest
        if known.get(rel) == digest:
            results[rel] = CLEAN if rel not in encoded else earlier.result(rel)  # most files: no call (50,000 per env at 10,000 models)
        else:
            pending.append(rel)


_POOL_STATE: tuple[list[_Tree], SchemaRegistry] | None = None


def _check_all(trees: list[_Tree], work: list[tuple[int, str]], registry: SchemaRegistry) -> list[FileResult]:
    """Check ``(tree, file)`` pairs in order, forgetting a tree's loaded objects once past it."""
    out: list[FileResult] = []
    for at, (index, rel) in enumerate(work):
        out.append(trees[index].check(rel, registry))
        store = trees[index].store
        if store is not None and (at + 1 == len(work) or work[at + 1][0] != index):
            store.release()
    return out


def _check_chunk(chunk: list[tuple[int, str]]) -> list[FileResult]:
    """Worker side of a parallel validation (state inherited through fork)."""
    assert _POOL_STATE is not None
    trees, registry = _POOL_STATE
    return _check_all(trees, chunk, registry)


def _check_pending(trees: list[_Tree], registry: SchemaRegistry) -> None:
    """Check every pending file of every tree: here, or in one worker per core when there are many."""
    global _POOL_STATE
    work = [(index, rel) for index, tree in enumerate(trees) for rel in tree.pending]
    cores = os.cpu_count() or 1
    if len(work) < PARALLEL_FROM or cores < 2:
        for (index, rel), result in zip(work, _check_all(trees, work, registry), strict=True):
            trees[index].results[rel] = result
        return
    registry.warm({tree.env.overlay.kubernetes_version for tree in trees})  # compile once, before forking
    first: dict[tuple[str, str, str], tuple[int, str]] = {}
    for index, rel in work:  # one file of each name per version pair, checked here: its kind's schema compiled here
        overlay = trees[index].env.overlay
        first.setdefault((overlay.kubernetes_version, overlay.kserve_version, rel.rpartition("/")[2]), (index, rel))
    for index, rel in first.values():
        trees[index].results[rel] = trees[index].check(rel, registry)
    done = set(first.values())
    # by digest, so that each worker loads only its own part of the render cache's objects
    workers = min(cores, max(2, 2 * len(work) // PARALLEL_FROM))  # half a batch each at least
    chunks: list[list[tuple[int, str]]] = [[] for _ in range(workers)]
    for index, rel in work:
        if (index, rel) not in done:
            chunks[trees[index].digests[rel][0] % workers].append((index, rel))
    _POOL_STATE = (trees, registry)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for chunk, out in zip(chunks, pool.map(_check_chunk, chunks), strict=True):
                for (index, rel), result in zip(chunk, out, strict=True):
                    trees[index].results[rel] = result
    finally:
        _POOL_STATE = None


def rendered_files(root: Path, env: str, use_cache: bool = True) -> dict[str, bytes | None]:
    """Every file of ``rendered/<env>/`` with its digest where known without reading it: the
    last render's manifest's, for each file that still has the stat it recorded (else None)."""
    return rendered_view(root, env, use_cache)[0]


def rendered_view(root: Path, env: str, use_cache: bool = True) -> tuple[dict[str, bytes | None], str]:
    """:func:`rendered_files`, and the token of the manifest the tree is exactly as ("" when it
    is not, or there is none)."""
    resolved = str(root.resolve())
    view = tree_view(resolved, env) if use_cache else None
    if view is None or view.links or not view.dirs:
        folder = root / "rendered" / env
        return {p.relative_to(folder).as_posix(): None for p in folder.rglob("*") if p.is_file()}, ""
    if not view.read:
        return {rel: digest for rel, (_st, digest) in view.files.items()}, view.token
    known = load_manifest(manifest_path(resolved, env))  # which files kept their stat (the others were read)
    recorded = known.files if known is not None else {}
    return {rel: digest if recorded.get(rel, (None,))[0] == st else None for rel, (st, digest) in view.files.items()}, ""


def _listing_key(tree: _Tree, rels: list[str], kustomizations: Iterable[str]) -> bytes:
    h = hashlib.blake2b("\0".join(rels).encode(), digest_size=16)
    for rel in kustomizations:
        h.update(tree.digests[rel])
    return h.digest()


def _listing(tree: _Tree, rels: list[str], earlier: EnvResults) -> Listing:
    """The problems of the tree's kustomization listing (``rels``: its files, sorted) under their
    key (``earlier``'s when they were computed for the same file names and kustomization files)."""
    display = f"rendered/{tree.env.name}"
    kustomizations = {rel: list(result[4]) for rel in rels if (result := tree.results[rel]) != CLEAN and result[4] is not None}
    listing_key = _listing_key(tree, rels, kustomizations)
    known = earlier.listing(listing_key)
    if known is not None:
        return listing_key, known
    if "kustomization.yaml" not in kustomizations:
        return listing_key, (Problem(f"{display}/kustomization.yaml", None, "", "missing: kustomize cannot build this environment"),)
    return listing_key, tuple(kustomize_listing(display, kustomizations, set(rels)))


def _report(tree: _Tree, cache: ValidationCache | None, key: bytes) -> ValidationReport:
    """The tree's report from its files' results, its kustomization listing and its budget."""
    report = ValidationReport()
    unreadable: list[Problem] = []
    rels = sorted(tree.digests)
    for rel in rels:
        result = tree.results[rel]
        if result is CLEAN or result == CLEAN:
            report.objects += 1
            continue
        file_problems, problems, notes, objects, _listed = result
        unreadable.extend(file_problems)
        report.problems.extend(problems)
        report.notes.extend(notes)
        report.objects += objects
    listing = _listing(tree, rels, cache.earlier(tree.env.name, key) if cache is not None else EnvResults())
    if cache is not None:
        cache.put(tree.env.name, key, tree.digests, tree.results, tree.pending, listing)
    report.problems = [*unreadable, *listing[1], *report.problems]
    report.problems.extend(budget_problems(tree.env.name, tree.env.overlay, tree_objects(tree.folder, tree.store), tree.env.where))
    report.files = len(rels)
    return report


def record_rendered(env: Env, folder: Path, wanted: Mapping[str, tuple[bytes, bytes | None]], store: ObjectStore | None,
                    registry: SchemaRegistry, cache: ValidationCache) -> None:
    """Put into ``cache`` what :func:`validate_trees` with ``registry`` will find in the files a
    render just wrote into ``folder`` (``wanted``: each file's digest and its bytes, or None for a
    file the render left as it was), so that ``validate`` right after checks nothing again: every
    file with bytes is checked here exactly as validate checks it (``_check_file``, the object
    from ``store``), a file without bytes keeps its earlier result for that digest or is left
    for validate to check. The results are under the key validate looks them up by, so only a
    validate with the same settings, schemas and code takes them; a table of results for the
    user's schemas (``validate --crds``) is left as it is, for the validate that wrote it."""
    if cache.custom_kept(env.name):
        return
    key = cache.env_key(env, registry)
    earlier = cache.earlier(env.name, key)
    tree = _Tree(env, folder, store)
    for rel, (digest, data) in wanted.items():
        if earlier.digests.get(rel) == digest:
            tree.digests[rel], tree.results[rel] = digest, earlier.result(rel)
        elif data is not None:
            tree.digests[rel], tree.data[rel] = digest, data
            tree.pending.append(rel)
    for rel in tree.pending:
        tree.results[rel] = tree.check(rel, registry)
    # the listing only from every file (a key of no listing otherwise: validate computes it)
    listing = _listing(tree, sorted(tree.digests), earlier) if len(tree.digests) == len(wanted) else (b"", ())
    cache.put(env.name, key, tree.digests, tree.results, tree.pending, listing)


def validate_trees(root: Path, envs: list[Env], registry: SchemaRegistry, cache: ValidationCache | None = None,
                   stores: dict[str, ObjectStore] | None = None,
                   files: dict[str, dict[str, bytes | None]] | None = None) -> dict[str, ValidationReport]:
    """:func:`validate_tree` of several environments at once (their changed files checked in one
    batch). ``stores`` and ``files`` are per environment name."""
    out: dict[str, ValidationReport] = {}
    trees: list[_Tree] = []
    keys: dict[str, bytes] = {}
    use_cache = cache is not None and cache.enabled
    for env in envs:
        folder = root / "rendered" / env.name
        if not folder.is_dir():
            out[env.name] = ValidationReport([Problem(f"rendered/{env.name}", None, "", "not rendered: run `servespec render`")])
            continue
        tree = _Tree(env, folder, (stores or {}).get(env.name))
        keys[env.name] = cache.env_key(env, registry) if cache is not None else b""
        found = (files or {}).get(env.name)
        _plan(tree, found if found is not None else rendered_files(root, env.name, use_cache), cache, keys[env.name])
        trees.append(tree)
    _check_pending(trees, registry)
    for tree in trees:
        out[tree.env.name] = _report(tree, cache, keys[tree.env.name])
    return {env.name: out[env.name] for env in envs}


def validate_tree(root: Path, env: Env, registry: SchemaRegistry, cache: ValidationCache | None = None,
                  parsed: ObjectStore | None = None, files: dict[str, bytes | None] | None = None) -> ValidationReport:
    """Validate every file of ``rendered/<env>/`` and its kustomizations' resource lists.

    With a ``cache``, a file whose bytes, environment settings, schemas and code are unchanged
    since it was last validated is not parsed again: its earlier result is reused (files known
    by digest, ``files`` or :func:`rendered_files`, are not even read). ``parsed``: the render
    cache's objects of the env. Large batches are validated in worker processes, one per core.
    """
    return validate_trees(root, [env], registry, cache, {env.name: parsed} if parsed is not None else None,
                          {env.name: files} if files is not None else None)[env.name]
