"""Rendering: deterministic, atomic, incremental, and offline."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from servespec.project import Project
from servespec.render import read_tree, render_project


def _inodes(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_rerender_of_unchanged_repo_writes_nothing(example_repo: Path) -> None:
    before = _inodes(example_repo / "rendered")
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["dev: unchanged (37 files)", "prod: unchanged (59 files)", "staging: unchanged (43 files)"]
    assert _inodes(example_repo / "rendered") == before


def test_render_from_scratch_matches_committed_output(example_repo: Path) -> None:
    committed = read_tree(example_repo / "rendered")
    shutil.rmtree(example_repo / "rendered")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert read_tree(example_repo / "rendered") == committed


def test_render_is_byte_deterministic_in_memory(example_repo: Path) -> None:
    first = render_project(Project.load(example_repo))
    second = render_project(Project.load(example_repo))
    assert first == second


def test_change_to_one_model_rewrites_only_its_files(example_repo: Path) -> None:
    spec = example_repo / "specs/fraud_detector.py"
    spec.write_text(spec.read_text().replace("timeout=30", "timeout=45"))
    before = _inodes(example_repo / "rendered")
    result = run_cli("render", "--env", "prod", "--root", example_repo)
    assert result.stdout == "prod: 0 added, 1 changed, 0 removed (59 files)\n"
    after = _inodes(example_repo / "rendered")
    changed = sorted(p for p in after if after[p] != before.get(p))
    assert changed == ["prod/models/fraud-detector/inferenceservice.yaml"]
    assert "timeout: 45" in (example_repo / "rendered/prod/models/fraud-detector/inferenceservice.yaml").read_text()


def test_deleted_model_files_are_removed(example_repo: Path) -> None:
    (example_repo / "specs/sklearn_iris.py").unlink()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert not (example_repo / "rendered/dev/models/sklearn-iris").exists()
    assert "sklearn-iris" not in (example_repo / "rendered/dev/kustomization.yaml").read_text()
    assert not [p for p in (example_repo / "rendered").iterdir() if p.name.startswith(".")]


def test_disabled_model_is_not_rendered_in_that_env(example_repo: Path) -> None:
    with (example_repo / "overlays/staging.yaml").open("a") as f:
        f.write("  sklearn-iris:\n    enabled: false\n")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert not (example_repo / "rendered/staging/models/sklearn-iris").exists()
    assert (example_repo / "rendered/prod/models/sklearn-iris").exists()


def test_check_reports_drift_with_a_short_diff(example_repo: Path) -> None:
    isvc = example_repo / "rendered/prod/models/census-income/inferenceservice.yaml"
    isvc.write_text(isvc.read_text().replace("minReplicas: 3", "minReplicas: 5"))
    (example_repo / "rendered/dev/models/census-income/inferenceservice.yaml").unlink()
    before = read_tree(example_repo / "rendered")
    result = run_cli("render", "--check", "--root", example_repo)
    assert result.exit_code == 1
    assert "--- a/rendered/prod/models/census-income/inferenceservice.yaml" in result.stdout
    assert "-    minReplicas: 5\n+    minReplicas: 3\n" in result.stdout
    assert "+++ b/rendered/dev/models/census-income/inferenceservice.yaml" in result.stdout
    assert result.stderr.splitlines() == [
        "servespec: error: rendered/dev: stale: run `servespec render` and commit the result",
        "servespec: error: rendered/prod: stale: run `servespec render` and commit the result",
    ]
    assert read_tree(example_repo / "rendered") == before


def test_check_diff_is_capped(example_repo: Path) -> None:
    shutil.rmtree(example_repo / "rendered/prod")
    result = run_cli("render", "--check", "--env", "prod", "--root", example_repo)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 41
    assert result.stdout.splitlines()[-1].endswith("more diff lines")


def test_render_never_reads_a_kubeconfig_or_opens_a_connection(example_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Audit every file open and socket use while rendering (sys.addaudithook)."""
    kube = tmp_path / "home" / ".kube"
    kube.mkdir(parents=True)
    (kube / "config").write_text("not: read\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(kube / "config"))
    events: list[tuple[str, str]] = []
    active = [True]

    def hook(event: str, args: tuple) -> None:
        if not active[0]:
            return
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            events.append((event, os.fsdecode(args[0])))
        elif event.startswith("socket."):
            events.append((event, repr(args)[:80]))

    sys.addaudithook(hook)
    try:
        shutil.rmtree(example_repo / "rendered")
        result = run_cli("render", "--root", example_repo)
    finally:
        active[0] = False
    assert result.exit_code == 0
    assert not [e for e in events if e[0].startswith("socket.")]
    assert not [e for e in events if ".kube" in e[1]]
    assert any(e[1].endswith("overlays/dev.yaml") for e in events)  # the hook did see the render (specs load in a child)


def test_render_does_not_import_kubernetes_clients(example_repo: Path) -> None:
    # In a fresh interpreter: other tests (kfp's) import kubernetes into this one.
    probe = ("import sys\nfrom servespec.cli import main\ntry:\n    main(['render', '--root', sys.argv[1]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
             "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith(('kubernetes.', 'lightkube', 'kr8s'))))")
    out = subprocess.run([sys.executable, "-c", probe, str(example_repo)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"


def test_no_socket_is_created_when_network_is_blocked(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("render opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    shutil.rmtree(example_repo / "rendered")
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0, result.stderr


def test_a_deleted_environment_is_stale_then_removed(example_repo: Path) -> None:
    (example_repo / "overlays/staging.yaml").unlink()
    check = run_cli("render", "--check", "--root", example_repo)
    assert check.exit_code == 1
    assert "rendered/staging/: no overlays/staging.yaml any more; `servespec render` deletes it" in check.stdout
    assert check.stderr == "servespec: error: rendered/staging: stale: run `servespec render` and commit the result\n"
    (example_repo / "rendered/notes").mkdir()  # not servespec's: left alone
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0 and result.stdout.endswith("staging: removed (no overlay)\n")
    assert sorted(p.name for p in (example_repo / "rendered").iterdir()) == ["dev", "notes", "prod"]
    assert run_cli("render", "--check", "--root", example_repo).exit_code == 0


def test_swapped_in_folders_are_not_private(example_repo: Path) -> None:
    import stat

    shutil.rmtree(example_repo / "rendered")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    mode = stat.S_IMODE((example_repo / "rendered/dev").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask
