"""Rendering never writes through a symlink, replaces an env whole or not at all, and cleans up
after a crashed run (issue 11, class 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli
from servespec.errors import RenderError
from servespec.render import read_tree, write_env


def test_a_symlinked_env_folder_is_refused_and_nothing_outside_is_written(example_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    prod = example_repo / "rendered/prod"
    os.rename(prod, outside / "prod")
    prod.symlink_to(outside / "prod")
    (example_repo / "specs/census_income.py").write_text((example_repo / "specs/census_income.py").read_text().replace("min_replicas=1", "min_replicas=2"))
    before = read_tree(outside / "prod")
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert (f"servespec: error: rendered/prod: is a symbolic link (to {outside / 'prod'}): servespec writes only real files and "
            "folders inside the repository; replace the link") in res.stderr.splitlines()
    assert read_tree(outside / "prod") == before
    assert not [p for p in (example_repo / "rendered").iterdir() if p.name.startswith(".")]


def test_a_symlink_inside_an_env_is_refused(example_repo: Path, tmp_path: Path) -> None:
    target = example_repo / "rendered/dev/common/namespace.yaml"
    (tmp_path / "elsewhere.yaml").write_text("x: 1\n")
    target.unlink(missing_ok=True)
    target.symlink_to(tmp_path / "elsewhere.yaml")
    res = run_cli("render", "--check", "--root", example_repo)
    assert res.exit_code == 2
    assert "servespec: error: rendered/dev/common/namespace.yaml: is a symbolic link" in res.stderr


def test_leftovers_of_a_crashed_render_are_removed(example_repo: Path) -> None:
    crashed = example_repo / "rendered/.prod.x1y2z3"
    (crashed / "models").mkdir(parents=True)
    (example_repo / "rendered/.prod.old-4242").mkdir()
    spec = example_repo / "specs/census_income.py"
    spec.write_text(spec.read_text().replace("min_replicas=1", "min_replicas=2"))
    assert run_cli("render", "--env", "prod", "--root", example_repo).exit_code == 0
    assert not crashed.exists() and not (example_repo / "rendered/.prod.old-4242").exists()


def test_a_failure_while_writing_leaves_the_env_as_it_was(example_repo: Path) -> None:
    before = read_tree(example_repo / "rendered/dev")
    files = dict(before)
    files["kustomization.yaml"] = b"changed: true\n"
    files["kustomization.yaml/inner.yaml"] = b"a file under a file: cannot be written\n"
    with pytest.raises(OSError):
        write_env(example_repo, "dev", files)
    assert read_tree(example_repo / "rendered/dev") == before
    assert not [p for p in (example_repo / "rendered").iterdir() if p.name.startswith(".")]


def test_a_change_swaps_the_env_in_whole(example_repo: Path) -> None:
    dev = example_repo / "rendered/dev"
    inode = dev.stat().st_ino
    files = read_tree(dev)
    files["common/extra.yaml"] = b"apiVersion: v1\n"
    result = write_env(example_repo, "dev", files)
    assert result.added == ["common/extra.yaml"]
    assert dev.stat().st_ino != inode  # a new folder, not files replaced one by one
    with pytest.raises(RenderError):
        (example_repo / "rendered/staging").rename(example_repo / "staging-real")
        (example_repo / "rendered/staging").symlink_to(example_repo / "staging-real")
        write_env(example_repo, "staging", files)
