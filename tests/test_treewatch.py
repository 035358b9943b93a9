"""In a process that watches its rendered trees (``cache/treewatch.py``; ``servespec daemon``
does), a tree servespec proved or wrote itself is trusted without a ``stat`` of each file, and
any change it did not make — an edit, a same-size edit with its mtime put back, an edit through
the spare copy's hard link, a new or deleted file, a lost event queue — makes the next render
prove the tree by ``lstat`` again and put it right. Real inotify on ``tmp_path``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from inotify_simple import flags

from conftest import run_cli
from servespec.cache import manifest as manifest_mod
from servespec.cache import treewatch, warm
from servespec.cache.render import RenderCache
from servespec.project import Project
from servespec.render import read_tree, render_project


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Watches on; the tops whose manifest was checked by lstat, in order."""
    watcher = treewatch.Watcher()
    monkeypatch.setattr(warm, "trees", watcher)
    proved: list[str] = []
    real = manifest_mod.Manifest.unchanged
    monkeypatch.setattr(manifest_mod.Manifest, "unchanged", lambda self, top: proved.append(os.path.basename(top)) or real(self, top))
    yield proved
    watcher.close()


def _render(repo: Path) -> None:
    result = run_cli("render", "--root", repo)
    assert result.exit_code == 0, result.stderr


def _as_cold(repo: Path) -> None:
    cold = render_project(Project.load(repo), cache=None)
    assert read_tree(repo / "rendered") == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}


def _warmed(repo: Path, proved: list[str]) -> None:
    _render(repo)  # first render: the folders get their watches
    _render(repo)  # proved by lstat with every folder watched: trusted from now on
    proved.clear()
    _render(repo)
    assert proved == []


def test_a_tree_servespec_proved_or_wrote_is_trusted_without_stat(example_repo: Path, watched: list[str]) -> None:
    _warmed(example_repo, watched)
    fraud = example_repo / "specs/fraud_detector.py"
    for replicas in ("7", "8"):  # the first change builds the spare tree (new folders); the second goes through it
        fraud.write_text(fraud.read_text().replace("max_replicas=6", f"max_replicas={replicas}", 1).replace("max_replicas=7", "max_replicas=8", 1))
        _render(example_repo)
        watched.clear()
        _render(example_repo)
    assert watched == []
    assert b"maxReplicas: 8" in (example_repo / "rendered/prod/models/fraud-detector/inferenceservice.yaml").read_bytes()
    _as_cold(example_repo)


@pytest.mark.parametrize("change", ["edit", "same-size-edit", "through-spare", "new-file", "deleted-file"])
def test_a_change_servespec_did_not_make_is_found_and_put_right(example_repo: Path, watched: list[str], change: str) -> None:
    _warmed(example_repo, watched)
    fraud = example_repo / "specs/fraud_detector.py"
    fraud.write_text(fraud.read_text().replace("max_replicas=6", "max_replicas=7", 1))
    _warmed(example_repo, watched)  # a change made: the tree that was live is now the spare
    target = example_repo / "rendered/prod/models/census-income/inferenceservice.yaml"
    if change == "edit":
        target.write_text("edited: by hand\n")
    elif change == "same-size-edit":
        st = target.stat()
        data = target.read_bytes()
        target.write_bytes(data.replace(b"name:", b"nome:", 1))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "through-spare":  # unchanged files of the spare copy are hard links of the live ones
        spare = Path(RenderCache(example_repo).folder) / "spare/prod/models/census-income/inferenceservice.yaml"
        assert spare.stat().st_ino == target.stat().st_ino
        with open(spare, "r+b") as f:
            f.write(b"#")
    elif change == "new-file":
        (example_repo / "rendered/prod/models/census-income/stray.yaml").write_text("kind: Stray\n")
    else:
        target.unlink()
    watched.clear()
    _render(example_repo)
    assert "prod" in watched  # proved by lstat, not trusted
    _as_cold(example_repo)


def test_a_lost_event_queue_or_a_foreign_event_is_never_trusted(tmp_path: Path) -> None:
    top = tmp_path / "tree"
    (top / "a").mkdir(parents=True)
    watch = treewatch.TreeWatch()
    try:
        watch.reset()
        watch.arm(str(top), ["", "a"], "t1", set())
        assert not watch.trusted("t1")  # its folders were not watched before it was proven
        watch.reset()
        watch.arm(str(top), ["", "a"], "t1", set())
        assert watch.trusted("t1") and not watch.trusted("t2")
        assert watch._foreign([(1, flags.Q_OVERFLOW, "")], set())
        (top / "a/ours.yaml").write_text("x")
        watch.arm(str(top), ["", "a"], "t2", {"a/ours.yaml"})
        assert watch.trusted("t2")
        (top / "a/theirs.yaml").write_text("x")
        assert not watch.trusted("t2")
        shutil.rmtree(top / "a")
        watch.reset()
        assert "a" not in watch.watched[next(iter(watch.watched))]  # a deleted folder's watch is dropped
    finally:
        watch.close()
