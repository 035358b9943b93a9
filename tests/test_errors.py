"""Command-line mistakes that are not about a repo's content. Every mistake in a spec or overlay is
a scenario folder under tests/testdata/ (tests/test_scenarios.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli


def test_not_a_repo(tmp_path: Path) -> None:
    result = run_cli("render", "--root", tmp_path)
    assert result.exit_code == 2
    assert "not a servespec repo: expected specs/ and overlays/ here or above (use --root DIR)" in result.stderr


def test_unknown_option_is_exit_2(example_repo: Path) -> None:
    result = run_cli("render", "--bogus", "--root", example_repo)
    assert result.exit_code == 2
    assert "No such option '--bogus'" in result.stderr
