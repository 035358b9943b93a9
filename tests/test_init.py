"""`servespec init`: a new repo renders and validates on the first try; a non-empty dir is refused."""

from __future__ import annotations

from pathlib import Path

from conftest import CRDS, run_cli


def test_init_renders_and_validates(tmp_path: Path) -> None:
    new = tmp_path / "team-repo"
    res = run_cli("init", new, "--repo-url", "https://git.example.com/team/serving.git", "--crds", CRDS)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"created {new}: 9 files, ")
    assert (new / ".github/workflows/servespec.yml").is_file() and (new / ".gitignore").is_file()
    assert (new / "crds/kserve/serving.kserve.io_inferenceservices.yaml").is_file()
    overlay = (new / "overlays/prod.yaml").read_text()
    assert "repoUrl: https://git.example.com/team/serving.git" in overlay and "@@" not in overlay
    assert "@@" not in (new / ".github/workflows/servespec.yml").read_text()
    check = run_cli("render", "--check", "--root", new)
    assert check.exit_code == 0, check.stdout + check.stderr
    valid = run_cli("validate", "--crds", new / "crds", "--root", new)
    assert valid.exit_code == 0, valid.stderr
    assert valid.stdout.endswith(" objects valid\n")
    assert (new / "rendered/prod/bootstrap/applicationset-servespec-prod-models.yaml").is_file()


def test_init_refuses_a_non_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    res = run_cli("init", tmp_path)
    assert res.exit_code == 2
    assert res.stderr == f"servespec: error: {tmp_path}: expected a new or empty directory, found 1 entries (init never overwrites)\n"
    assert (tmp_path / "notes.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1
    res = run_cli("init", tmp_path / "notes.txt")
    assert res.exit_code == 2
    assert res.stderr == f"servespec: error: {tmp_path / 'notes.txt'}: expected a new or empty directory, found a file\n"
    empty = tmp_path / "nocrds"
    empty.mkdir()
    res = run_cli("init", tmp_path / "x", "--crds", empty)
    assert res.exit_code == 2
    assert res.stderr == f"servespec: error: {empty}: --crds: expected a folder of CRD *.yaml files, found none\n"
    assert not (tmp_path / "x").exists()
