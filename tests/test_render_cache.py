"""The caches never change the output: after any sequence of edits — specs, helper modules inside
and outside specs/, deleted files, renamed models, overlays, hand edits of rendered/, servespec's
own code, corrupted, truncated or deleted caches, a tampered spare tree — a cached render writes
exactly what a cold render (no cache) computes, the no-op fast path agrees, and a stale tree is
never reported up to date. The same holds in a process that runs commands as the daemon does
(its memos, watched trees, cache files written after each command, or lost when it is killed)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import servespec.emit as emit
from conftest import CliResult, copy_example, run_cli
from servespec.cache import fingerprint, treewatch, warm
from servespec.cache.render import RenderCache
from servespec.project import Project
from servespec.render import read_tree, render_project


def _sub(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    path.write_text(text.replace(old, new, 1) if old in text else text.replace(new, old, 1))


def _iris(repo: Path) -> Path:
    """The sklearn-iris spec module, wherever "delete-model" and "delete-file" left it."""
    for name in ("specs/sklearn_iris.py", "specs/_sklearn_iris.py", "iris.py.away"):
        if (repo / name).exists():
            return repo / name
    raise AssertionError("sklearn_iris.py is gone")


def _cache_files(repo: Path) -> list[Path]:
    return sorted(p for p in Path(RenderCache(repo).folder).rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _corrupt(repo: Path) -> None:
    for path in _cache_files(repo):
        data = bytearray(path.read_bytes())
        if data:
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))


def _truncate(repo: Path) -> None:
    for path in _cache_files(repo):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _same_size_edit(repo: Path) -> None:
    """A hand edit of a rendered file that keeps its size and puts its mtime back."""
    target = repo / "rendered/dev/common/kustomization.yaml"
    if not target.exists():
        return
    st_ = target.stat()
    data = target.read_bytes()
    target.write_bytes(data.replace(b"- ", b"-\t", 1) if b"- " in data else data.replace(b"-\t", b"- ", 1))
    os.utime(target, ns=(st_.st_atime_ns, st_.st_mtime_ns))


def _tamper_spare(repo: Path) -> None:
    """Something other than servespec writes into the spare copies of the trees."""
    spare = Path(RenderCache(repo).folder) / "spare"
    for env in spare.glob("*"):
        (env / "stray.yaml").write_text("kind: Stray\n")
        for path in sorted(env.rglob("inferenceservice.yaml"))[:1]:
            path.write_bytes(path.read_bytes().replace(b"metadata:", b"metadata: ", 1))  # bytes: "corrupt-caches" may have flipped some


_CODE = {"changed": False}


def _toggle_code(_repo: Path) -> None:
    """servespec's code changes (a model emitter and the code fingerprint with it), or changes back."""
    _CODE["changed"] = not _CODE["changed"]
    fingerprint._CODE = "changed-code" if _CODE["changed"] else None


def _labelled(real: Callable[..., list[emit.Output]]) -> Callable[..., list[emit.Output]]:
    def emitter(ctx: emit.EnvContext, model: emit.Model) -> list[emit.Output]:
        outs = real(ctx, model)
        if _CODE["changed"]:
            for out in outs:
                out.obj.setdefault("metadata", {}).setdefault("labels", {})["example.com/code"] = "changed"
        return outs
    return emitter


EDITS: dict[str, Callable[[Path], None]] = {
    "model-replicas": lambda r: _sub(r / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7"),
    "model-annotation": lambda r: _sub(r / "specs/census_income.py", '"prometheus.io/scrape": "true",', '"prometheus.io/scrape": "false",'),
    # what the environment-wide objects read of a model (emit.env_view): the overview dashboard, the runtimes
    "model-mode": lambda r: _toggle(r / "specs/fraud_detector.py", 'deployment_mode="Standard",', 'deployment_mode="Knative",'),
    "model-monitoring": lambda r: _toggle(_iris(r), 'name="sklearn-iris",\n', 'name="sklearn-iris",\n    monitoring=Monitoring(enabled=False),\n'),
    "model-uri": lambda r: _toggle(r / "specs/fraud_detector.py", "s3://fraud-detector/v3", "s3://fraud-detector/v4"),
    "overlay-defaults": lambda r: _sub(r / "overlays/prod.yaml", "  minReplicas: 3\n  maxReplicas: 10\n", "  minReplicas: 4\n  maxReplicas: 10\n"),
    # a toggle (entry first: "models:\n" is always there); not sklearn-iris, which "delete-model" removes
    "overlay-disable": lambda r: _sub(r / "overlays/staging.yaml", "models:\n  fraud-detector: {enabled: false}\n", "models:\n"),
    "overlay-shards": lambda r: _toggle(r / "overlays/prod.yaml", "delivery:\n  controller: flux\n", "delivery:\n  shards: 2\n  controller: flux\n"),
    "overlay-monitoring": lambda r: _sub(r / "overlays/dev.yaml", "messageDumper: {enabled: true}", "messageDumper: {enabled: false}"),
    "add-model": lambda r: (r / "specs/extra.py").unlink() if (r / "specs/extra.py").exists() else (r / "specs/extra.py").write_text(
        "from servespec.spec import Model, Predictor, Resources\n"
        "EXTRA = Model(name='extra', predictor=Predictor(model_format='sklearn', storage_uri='gs://b/extra',\n"
        "    resources=Resources(limits={'cpu': '1', 'memory': '1Gi'})))\n"),
    "delete-model": lambda r: _iris(r).rename(r / "specs/_sklearn_iris.py") if _iris(r).name == "sklearn_iris.py"
    else _iris(r).rename(r / "specs/sklearn_iris.py"),
    "delete-file": lambda r: _iris(r).rename(r / "iris.py.away") if _iris(r).name != "iris.py.away" else _iris(r).rename(r / "specs/sklearn_iris.py"),
    "rename-model": lambda r: _sub(_iris(r), 'name="sklearn-iris",', 'name="sklearn-iris-v2",'),
    "helper-in-specs": lambda r: _sub(r / "specs/_shared.py", 'TEAM = "risk"', 'TEAM = "fraud"'),
    "helper-outside-specs": lambda r: _sub(r / "lib/naming.py", 'NAMING = "a"', 'NAMING = "b"'),
    "shared-export": lambda r: _sub(r / "specs/census_income.py", "from _shared import ARCHIVE  # exported here too\n", ""),
    "hand-edit-rendered": lambda r: (r / "rendered/prod/models/census-income/inferenceservice.yaml").write_text("edited: by hand\n"),
    "same-size-edit-rendered": _same_size_edit,
    "delete-rendered-env": lambda r: shutil.rmtree(r / "rendered/staging", ignore_errors=True),
    "stray-rendered-file": lambda r: (r / "rendered/dev/models/stray.yaml").write_text("kind: Stray\n"),
    "servespec-code": _toggle_code,
    "corrupt-caches": _corrupt,
    "truncate-caches": _truncate,
    "delete-caches": lambda r: shutil.rmtree(RenderCache(r).folder, ignore_errors=True),
    "tamper-spare": _tamper_spare,
    "daemon-killed": lambda r: _daemon_killed(r),
    "model-drops-a-file": lambda r: _toggle_dashboard(r),
}


def _toggle(path: Path, one: str, other: str) -> None:
    """``one`` becomes ``other``, or back."""
    text = path.read_text()
    path.write_text(text.replace(other, one, 1) if other in text else text.replace(one, other, 1))


def _toggle_dashboard(repo: Path) -> None:
    """fraud-detector without its dashboard, or with it again: a unit that loses or gains a file."""
    spec = repo / "specs/fraud_detector.py"
    text = spec.read_text()
    off = '    name="fraud-detector",\n    monitoring=Monitoring(dashboard=False),\n'
    if off in text:
        spec.write_text(text.replace(off, '    name="fraud-detector",\n'))
    else:
        spec.write_text("from servespec.spec import Monitoring\n" + text.replace('    name="fraud-detector",\n', off))


def _daemon_killed(repo: Path) -> None:
    """A render after a model change whose cache files are never written (the daemon killed
    between its reply and its writes; outside a daemon they are written at once)."""
    warm.flush()
    spec = repo / "specs/fraud_detector.py"
    text = spec.read_text()
    spec.write_text(text.replace("timeout=30,", "timeout=31,") if "timeout=30," in text else text.replace("timeout=31,", "timeout=30,"))
    assert run_cli("render", "--root", repo).exit_code == 0
    assert warm._LATER or warm._DEFER_IN == 0  # in a daemon, something was left to write
    warm._LATER.clear()


def with_helpers(repo: Path) -> Path:
    """The example repo, its specs also importing a helper in specs/ (``_shared.py``), a module
    outside specs/ (``lib/naming.py``), and exporting one storage endpoint from two modules."""
    (repo / "lib").mkdir()
    (repo / "lib/naming.py").write_text('NAMING = "a"\n')
    (repo / "specs/_shared.py").write_text(
        "from servespec.spec import ExistingSecret, S3Storage\n"
        'TEAM = "risk"\n'
        'ARCHIVE = S3Storage(name="archive", endpoint="archive.example:9000", credentials=ExistingSecret(name="archive-creds"))\n')
    fraud = repo / "specs/fraud_detector.py"
    fraud.write_text("from _shared import TEAM\n" + fraud.read_text().replace('labels={"team": "risk"}', 'labels={"team": TEAM}'))
    census = repo / "specs/census_income.py"
    census.write_text(
        "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'lib'))\n"
        "from naming import NAMING  # noqa: E402\nfrom _shared import ARCHIVE  # exported here too\n"
        + census.read_text().replace('"sidecar.istio.io/inject": "false",', '"sidecar.istio.io/inject": "false", "example.com/naming": NAMING,'))
    storage = repo / "specs/storage.py"
    storage.write_text(storage.read_text() + "\nfrom _shared import ARCHIVE  # noqa: E402,F401\n")
    iris = repo / "specs/sklearn_iris.py"
    iris.write_text("from servespec.spec import Monitoring\n" + iris.read_text())
    return repo


@pytest.fixture(autouse=True)
def _code_as_shipped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The "servespec-code" edit patches a model emitter; every test starts and ends with the real code."""
    monkeypatch.setattr(emit, "MODEL_EMITTERS", [*emit.MODEL_EMITTERS[:2], _labelled(emit.MODEL_EMITTERS[2])])
    _CODE["changed"] = False
    yield
    _CODE["changed"] = False
    fingerprint._CODE = None


def _run(*args: str | Path) -> CliResult:
    """``run_cli``, after the cache writes the last command left for later (as the daemon makes
    them between two commands; none outside :func:`_as_a_daemon`)."""
    warm.flush()
    return run_cli(*args)


@contextmanager
def _as_a_daemon() -> Iterator[None]:
    """Commands run as in ``servespec daemon``: trees watched, cache files written after each."""
    watcher = treewatch.Watcher()
    warm.trees = watcher
    warm.defer_writes()
    try:
        yield
    finally:
        warm.defer_writes(False)
        warm.trees = None
        watcher.close()


def _agrees_with_cold(repo: Path, edit: str, full: bool = False) -> None:
    """Render (cached): exactly the cold render on disk; then a no-op render (the fast path)
    finds nothing to do, and so does ``--check``; with ``full``, the fast path's report is
    also the full command's, word for word."""
    result = _run("render", "--root", repo)
    assert result.exit_code == 0, (edit, result.stderr)
    cold = render_project(Project.load(repo), cache=None)
    assert read_tree(repo / "rendered") == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}, edit
    fast = _run("render", "--root", repo)
    assert fast.exit_code == 0 and fast.stdout.count("unchanged") == 3, edit
    if full:
        assert fast.stdout == _run("render", "--no-cache", "--root", repo).stdout, edit
    check = _run("render", "--check", "--root", repo)
    assert (check.exit_code, check.stdout) == (0, "rendered/ is up to date (dev, prod, staging)\n"), edit


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=5))
@example(edits=["add-model", "corrupt-caches", "tamper-spare"])  # corrupted spare files (hard links of live ones), then tampered
def test_cached_render_equals_cold_render_after_any_edits(tmp_path: Path, edits: list[str]) -> None:
    repo = with_helpers(copy_example(Path(tempfile.mkdtemp(dir=tmp_path)) / "repo"))
    fingerprint._CODE = None
    _CODE["changed"] = False
    assert run_cli("render", "--root", repo).exit_code == 0  # fills the caches
    for edit in edits:
        EDITS[edit](repo)
        _agrees_with_cold(repo, edit)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=5))
@example(edits=["model-replicas", "daemon-killed", "model-replicas", "tamper-spare", "model-annotation"])
@example(edits=["model-drops-a-file", "model-replicas", "model-drops-a-file"])  # files removed and added in a unit
@example(edits=["model-mode", "model-monitoring", "model-uri", "model-monitoring", "model-mode"])  # one model's context patched (resolve.py)
@example(edits=["overlay-shards", "model-replicas", "model-mode", "rename-model", "model-replicas"])  # a shard laid out again (layout.py)
def test_in_a_daemon_cached_render_equals_cold_render_after_any_edits(tmp_path: Path, edits: list[str]) -> None:
    repo = with_helpers(copy_example(Path(tempfile.mkdtemp(dir=tmp_path)) / "repo"))
    fingerprint._CODE = None
    _CODE["changed"] = False
    warm.clear()
    with _as_a_daemon():
        assert _run("render", "--root", repo).exit_code == 0
        for edit in edits:
            EDITS[edit](repo)
            _agrees_with_cold(repo, edit)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_edit_once_then_twice(tmp_path: Path, edit: str) -> None:
    """Every edit is seen at least once whatever hypothesis draws (and undone: the spare tree
    serves the second change)."""
    repo = with_helpers(copy_example(tmp_path / "repo"))
    assert run_cli("render", "--root", repo).exit_code == 0
    for full in (False, True):
        EDITS[edit](repo)
        _agrees_with_cold(repo, edit, full)


def test_cache_hits_skip_emitting(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second render emits no model at all; a change to one model emits only that one."""
    import servespec.cache.render as rc

    assert run_cli("render", "--root", example_repo).exit_code == 0
    emitted: list[str] = []
    real = rc.emit_model
    monkeypatch.setattr(rc, "emit_model", lambda ctx, model: emitted.append(f"{ctx.env.name}/{model.name}") or real(ctx, model))
    assert run_cli("render", "--root", example_repo).stdout.count("unchanged") == 3
    assert emitted == []
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert sorted(emitted) == ["dev/fraud-detector", "prod/fraud-detector", "staging/fraud-detector"]


def test_unreadable_caches_are_ignored(example_repo: Path) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    for path in _cache_files(example_repo):
        path.write_bytes(b"not a cache file")
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0 and result.stdout.count("unchanged") == 3
    assert run_cli("render", "--check", "--root", example_repo).exit_code == 0
