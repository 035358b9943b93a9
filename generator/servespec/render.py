"""Render environments into ``rendered/<env>/``: in memory first, then written atomically.

Everything is computed before anything is written, so bad input never touches ``rendered/``.
A render that changes nothing writes nothing. A change replaces the env whole, in one step, and
touches only the files that changed (``envtree.py``: a spare copy of the tree is brought up to
date, then exchanged with the live one by ``renameat2``).

``render_repo`` is incremental (``cache/``): models whose inputs did not change are known by
the digest of their files, which are already on disk; only changed models are emitted and
serialized. Its success is recorded (``cache/lastrender.py``) so that the next ``servespec
render`` with the same inputs and an untouched tree ends before importing anything heavy.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from contextlib import nullcontext
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .cache.fingerprint import inputs_digest
from .cache.lastrender import codeowners_state, save_record
from .cache.render import DigestRef, RenderCache, digest
from .cache.specs import Started, start_render
from .cache import warm
from .codeowners import CodeownersSync, sync_codeowners
from .emit import emit_env, emit_units
from .envfiles import EnvFiles, assemble, written
from .envtree import Change, EnvTree, NeedBytes, Wanted
from .errors import Problem, RenderError
from .fsutil import symlinks_under
from .overlay import discover_envs
from .project import Project
from .resolve import build_context
from .resolve_ahead import spec_ahead
from .sharding import oversized_shards
from .emit import Output
from .kserve.webhook import check_inferenceservice
from .resolve import EnvContext
from .render_workers import located, parallel_envs, render_forked
from .validate import record_render
from .yamlwriter import dump

__all__ = ["RenderResult", "RepoRender", "render_repo", "render_env", "render_project", "write_env", "write_model_change", "check_env",
           "read_tree", "orphaned_envs", "remove_env", "RENDERED"]

RENDERED = "rendered"


@dataclass
class RenderResult:
    """What a render changed in one environment."""

    env: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)


def render_env(project: Project, env: str, cache: RenderCache | None = None, warnings: list[Problem] | None = None) -> dict[str, bytes]:
    """Every file of ``rendered/<env>/`` as bytes, keyed by relative path.

    With a ``cache``, models whose inputs did not change since the last render reuse their
    serialized files instead of being emitted again. ``warnings`` receives what is rendered but
    deserves a word (a spec ahead of the env's rollout state: ``resolve.spec_ahead``; shards
    over ``delivery.maxShardObjects``: ``sharding.oversized_shards``).
    """
    ctx = _context(project, env, warnings)
    outputs = emit_env(ctx, cache.per_model(ctx) if cache else None)
    _refuse(ctx, outputs)
    files = {out.path: out.data if out.data is not None else dump(out.obj).encode("utf-8") for out in outputs}
    if warnings is not None:
        warnings.extend(oversized_shards(ctx.env, files))
    return dict(sorted(files.items()))


def _context(project: Project, env: str, warnings: list[Problem] | None) -> EnvContext:
    """The env resolved; a spec ahead of its rollout state noted in ``warnings``."""
    ctx = build_context(project, env)
    if warnings is not None:
        warnings.extend(a.warning for a in spec_ahead(ctx))
    return ctx


def _refuse(ctx: EnvContext, outputs: list[Output]) -> None:
    """``RenderError`` when two objects render to one file or KServe would refuse a freshly
    emitted InferenceService (a cache hit was checked when it was emitted)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for out in outputs:
        if out.path in seen:
            problems.append(Problem(f"rendered/{ctx.env.name}/{out.path}", None, "", "two objects render to the same file"))
        seen.add(out.path)
        if out.model and out.kind == "InferenceService" and "spec" in out.obj:  # emitted now, not a cache hit
            problems.extend(webhook_problems(ctx, out))
    if problems:
        raise RenderError(problems)


def webhook_problems(ctx: EnvContext, out: Output) -> list[Problem]:
    """What KServe's webhooks and controller at the env's version would refuse, rewrite or ignore
    in a freshly emitted InferenceService (``kserve/webhook.py``, create-time rules): bad input,
    located at the model's spec. Update-time rules compare with the committed render: ``validate``."""
    if ctx.env.overlay.kserve_api != "serving.kserve.io/v1beta1" or out.model is None:
        return []
    minor = (int(ctx.kserve.minor.split(".")[0]), int(ctx.kserve.minor.split(".")[1]))
    origin = ctx.project.specs.origin[("model", out.model)]
    return [Problem(origin, None, f"{out.model}: {f.path}", f"KServe {ctx.kserve.minor} (env {ctx.env.name}): {f.message}")
            for f in check_inferenceservice(out.obj, None, minor)]


def render_project(project: Project, cache: RenderCache | None = None, warnings: list[Problem] | None = None) -> dict[str, dict[str, bytes]]:
    """All environments of the project, rendered in memory; all problems reported together."""
    out: dict[str, dict[str, bytes]] = {}
    problems: list[Problem] = []
    for env in project.envs:
        try:
            with nullcontext() if cache is not None else warm.off():  # no cache: nothing kept from earlier renders either
                out[env] = render_env(project, env, cache, warnings)
        except RenderError as exc:
            problems.extend(located(env, exc.problems))
    if problems:
        raise RenderError(list(dict.fromkeys(problems)))
    return out


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, keyed by POSIX relative path."""
    if not folder.is_dir():
        return {}
    out = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(dirpath) / name
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return dict(sorted(out.items()))


def _compare(env: str, old: dict[str, bytes], new: dict[str, bytes]) -> RenderResult:
    """Differences between two trees given as ``path -> bytes`` or ``path -> digest``."""
    res = RenderResult(env)
    for path, data in new.items():
        if path not in old:
            res.added.append(path)
        elif old[path] != data:
            res.changed.append(path)
    res.removed = [p for p in old if p not in new]
    return res


def write_env(root: Path, env: str, files: dict[str, bytes], cache: RenderCache | None = None) -> RenderResult:
    """Make ``rendered/<env>/`` hold exactly ``files``: a no-op when nothing changed, else the env
    is replaced whole (never half an env on disk; ``envtree.py``); leftovers of a crashed earlier
    run are removed first; a symlink in the way is refused.

    With an enabled ``cache``, files whose stat matches the last render are not read again, and
    the change is made in the env's spare tree (only the changed files touched)."""
    tree = EnvTree(root, env, use_cache=cache is not None and cache.enabled)
    change = tree.write({path: (digest(data), data) for path, data in files.items()})
    return RenderResult(env, change.added, change.changed, change.removed)


def _refuse_symlinks(root: Path, target: Path) -> None:
    links = symlinks_under(root, target)
    if links:
        raise RenderError([Problem(link, None, "", f"is a symbolic link (to {os.readlink(root / link)}): servespec writes only real "
                                   "files and folders inside the repository; replace the link") for link in links])


def orphaned_envs(root: Path, envs: list[str]) -> list[str]:
    """Folders of ``rendered/`` that servespec wrote (they hold a kustomization.yaml) for an
    environment whose overlay is gone: a controller would keep syncing them."""
    folder = root / RENDERED
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in envs and (p / "kustomization.yaml").is_file())


def remove_env(root: Path, env: str) -> None:
    """Delete ``rendered/<env>/`` (renamed away first, so it disappears at once)."""
    target = root / RENDERED / env
    trash = target.parent / f".{env}.old-{os.getpid()}"
    os.rename(target, trash)
    shutil.rmtree(trash)


def check_env(root: Path, env: str, files: dict[str, bytes], max_lines: int = 40) -> tuple[RenderResult, str]:
    """Compare ``files`` with ``rendered/<env>/``: the differences and a short unified diff."""
    target = root / RENDERED / env
    _refuse_symlinks(root, target)
    old = read_tree(target)
    result = _compare(env, old, files)
    lines: list[str] = []
    for path in sorted({*result.added, *result.changed, *result.removed}):
        a = old.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = files.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        lines.extend(difflib.unified_diff(a, b, f"a/{RENDERED}/{env}/{path}", f"b/{RENDERED}/{env}/{path}", n=2))
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... {len(lines) - max_lines} more diff lines\n"]
    return result, "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass
class RepoRender:
    """What ``render_repo`` did or found: per env its result (and, with ``check``, its diff),
    the orphaned envs (removed, or with ``check`` reported), the file counts."""

    results: list[RenderResult] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)
    diffs: dict[str, str] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Rendered, but worth a word: a spec ahead of an env's rollout state, renamed delivery units."""
    owners: CodeownersSync | None = None
    """CODEOWNERS kept in line with the overlays' ``owners:`` (only when every env is rendered)."""

    def stale(self) -> list[Problem]:
        """With ``check``: one problem per stale folder of ``rendered/`` (none: up to date)."""
        folders = sorted([f"rendered/{o}" for o in self.orphans] + [f"rendered/{e}" for e in self.diffs])
        stale = [Problem(s, None, "", "stale: run `servespec render` and commit the result") for s in folders]
        if self.owners and self.owners.changed:
            stale.append(Problem(self.owners.path, None, "", "not in line with the owners: of the overlays; `servespec render` rewrites its servespec lines"))
        return stale


def render_repo(root: Path, envs: list[str] | None = None, *, check: bool = False, use_cache: bool = True,
                started: Started | None = None) -> RepoRender:
    """``servespec render``: render every environment (or ``envs``) and write ``rendered/``
    atomically (orphaned envs removed); with ``check`` write nothing and report what is stale.
    ``started``: :func:`start_render` of the same arguments, called earlier."""
    if not use_cache:
        with warm.off():
            return _render_repo(root, envs, check, use_cache, started)
    return _render_repo(root, envs, check, use_cache, started)


def _render_repo(root: Path, envs: list[str] | None, check: bool, use_cache: bool, started: Started | None) -> RepoRender:
    where = str(root.resolve())
    base, specs = started or start_render(root, check, use_cache)

    project = Project.load(root, envs, lambda _root, overlays: specs.load(overlays))  # overlays read while a child imports
    cache = RenderCache(root, enabled=use_cache)
    out = RepoRender(orphans=[] if envs else orphaned_envs(root, discover_envs(root)))
    warnings: list[Problem] = []
    tokens: dict[str, tuple[str, int]] = {}
    if check:
        for env, files in render_project(project, cache, warnings).items():
            out.files[env] = len(files)
            result, diff = check_env(root, env, files)  # always reads the files themselves
            if not result.unchanged:
                out.diffs[env] = diff
            out.results.append(result)
    else:
        tokens = _write_repo(root, project, cache, out, warnings, base)
    out.warnings[:0] = [str(w) for w in warnings]
    if not envs:  # CODEOWNERS from every env's owners:, so only when every env is rendered
        out.owners = sync_codeowners(root, project.envs, check=check)
    if not check:
        for orphan in out.orphans:
            remove_env(root, orphan)
    cache.save()
    if base is not None and all(token for token, _n in tokens.values()):
        deps = specs.deps(project.specs)
        save_record(where, inputs_digest(where, deps, base), tokens, [str(w) for w in warnings], deps,
                    None if envs else codeowners_state(where))
    return out


def _write_repo(root: Path, project: Project, cache: RenderCache, out: RepoRender, warnings: list[Problem],
                inputs: str | None = None) -> dict[str, tuple[str, int]]:
    """Render every env of ``project`` incrementally and write what changed; per env the token
    of the manifest now describing its tree ("" when none was kept) and its file count. Large
    renders run one forked worker per env (``render_workers.py``), with the same result."""
    if parallel_envs(project, cache):
        written = render_forked(list(project.envs), lambda env, found: _render_env_refs(project, env, cache, warnings=found),
                                lambda env, wanted: _write_one(root, project, cache, env, wanted, worker=True, inputs=inputs), warnings)
    else:
        written = [_write_one(root, project, cache, env, wanted) for env, wanted in _render_incremental(project, cache, warnings).items()]
    tokens: dict[str, tuple[str, int]] = {}
    for result, token, count in written:
        out.files[result.env] = count
        out.warnings.extend(_renamed_units(result))
        out.results.append(result)
        tokens[result.env] = (token, count)
    return tokens


def _write_one(root: Path, project: Project, cache: RenderCache, env: str, wanted: Wanted,
               worker: bool = False, inputs: str | None = None) -> tuple[RenderResult, str, int]:
    """Write one env's tree: what changed, the token of its manifest, its file count. A forked
    ``worker`` (a large render) also saves its render cache (its own) and keeps validate's results
    for the files it wrote and the env's verdict (with the render's ``inputs``), spread over the
    cores as the render is; after a small render, validate checks the few changed files itself."""
    tree = EnvTree(root, env, use_cache=cache.enabled)
    first = wanted
    change, wanted = _write_tree(tree, lambda fresh: _render_env_refs(project, env, cache, fresh) if fresh else first)
    written(wanted, tree.token)
    if worker:
        if cache.enabled:  # while the bytes and objects of what was written are at hand
            record_render(root, project.envs[env], wanted, cache.objects(env), inputs, tree.token)
        cache.save()
    return RenderResult(env, change.added, change.changed, change.removed), tree.token, len(wanted)


def write_model_change(root: Path, ctx: EnvContext, model: str) -> RenderResult:
    """Re-render ``ctx``'s environment after one model's rollout state changed (``rollout/``):
    that model's files and the environment-wide ones are written; when the set of files stays
    the same, every other model's files (its unit's kustomization too) stay exactly as they are
    on disk (a rollout commit never carries unrelated drift), else the whole environment is
    written. Unchanged models are not emitted (the render cache) and the env is replaced through
    its spare tree (``envtree.py``)."""
    env = ctx.env.name
    cache = RenderCache(root)
    tree = EnvTree(root, env)
    on_disk = tree.digests()
    own = f"models/{model}/"

    def wanted_for(fresh: set[str]) -> Wanted:
        outputs = emit_env(ctx, cache.refs(ctx, fresh))
        cache.record(env, outputs)
        keep = set(on_disk) == {o.path for o in outputs}
        wanted: Wanted = {}
        for out in outputs:
            other = out.model not in (model, None) or (out.model is None and out.path.startswith("models/") and not out.path.startswith(own))
            if keep and other:
                wanted[out.path] = (on_disk[out.path], None)
            elif isinstance(out.data, DigestRef):
                wanted[out.path] = (out.data.digest, None)
            else:
                data = out.data if out.data is not None else dump(out.obj).encode("utf-8")
                wanted[out.path] = (digest(data), data)
        return wanted

    change, _wanted = _write_tree(tree, wanted_for)
    cache.save()
    return RenderResult(env, change.added, change.changed, change.removed)


def _write_tree(tree: EnvTree, wanted_for: Callable[[set[str]], Wanted]) -> tuple[Change, Wanted]:
    """``tree.write(wanted_for(set()))``; while files known by digest only are not on disk as
    cached, their models are rendered again (``wanted_for(those models)``), as long as that names
    models not rendered again yet (a model whose bytes were at hand in one try may be known by
    digest only in the next). What changed, and what was written."""
    fresh: set[str] = set()
    wanted = wanted_for(fresh)
    while True:
        try:
            return tree.write(wanted, wanted.since if isinstance(wanted, EnvFiles) and not fresh else None), wanted
        except NeedBytes as need:
            owners = {_owner(path) for path in need.paths}
            if owners <= fresh:
                raise
            fresh |= owners
            wanted = wanted_for(set(fresh))


def _render_incremental(project: Project, cache: RenderCache, warnings: list[Problem]) -> dict[str, Wanted]:
    """Every environment as ``path -> (digest, bytes or None)``; all problems reported together."""
    out: dict[str, Wanted] = {}
    problems: list[Problem] = []
    for env in project.envs:
        try:
            out[env] = _render_env_refs(project, env, cache, warnings=warnings)
        except RenderError as exc:
            problems.extend(located(env, exc.problems))
    if problems:
        raise RenderError(list(dict.fromkeys(problems)))
    return out


def _render_env_refs(project: Project, env: str, cache: RenderCache, fresh: set[str] | frozenset[str] = frozenset(),
                     warnings: list[Problem] | None = None) -> Wanted:
    """One environment as ``path -> (digest, bytes)``, files of unchanged models by digest only
    (their bytes are on disk); ``fresh`` models are emitted again; ``warnings`` as ``render_env``."""
    ctx = _context(project, env, warnings)
    units, controllers = emit_units(ctx, models=cache.groups(ctx, fresh))
    # a unit not laid out now (the same lists as the last render in this process) was recorded,
    # checked and serialized then; unit folders are disjoint, so no path of it can clash with another's
    tail = [units.kustomization, *controllers]  # the env's kustomization, bootstrap/
    new = [out for unit in units.fresh for out in units.laid[unit]] + tail
    cache.record(env, new)
    _refuse(ctx, new)
    wanted = assemble(str(project.root), env, units, tail)
    if warnings is not None:
        warnings.extend(oversized_shards(ctx.env, wanted))
    return wanted


def _owner(path: str) -> str:
    """The model a laid-out file belongs to (``models/<name>/...`` or ``shards/<k>/<name>/...``)."""
    parts = path.split("/")
    return parts[2] if parts[0] == "shards" and len(parts) > 3 else parts[1] if len(parts) > 2 else ""


def _renamed_units(result: RenderResult) -> list[str]:
    """A warning when controller objects (delivery units) were renamed: their tracking labels and
    annotations reach every pod KServe creates, so the models in them restart (README "Delivery")."""
    def units(paths: list[str]) -> list[str]:
        return sorted(p for p in paths if p.startswith("bootstrap/") and p != "bootstrap/kustomization.yaml")

    gone, new = units(result.removed), units(result.added)
    if not (gone and new):
        return []
    return [f"rendered/{result.env}/bootstrap: delivery units renamed ({', '.join(gone)} -> {', '.join(new)}): KServe copies "
            "Argo CD's and Flux's tracking labels and annotations into pod templates, so the models in them restart unless "
            "inferenceservice-config's serviceLabelDisallowedList / serviceAnnotationDisallowedList exclude them (README \"Delivery\")"]
