"""The example repo renders, is up to date, and validates."""

from pathlib import Path

from conftest import CRDS, run_cli


def test_example_is_rendered_and_valid(example_repo: Path) -> None:
    check = run_cli("render", "--check", "--root", example_repo)
    assert check.exit_code == 0, check.stdout + check.stderr
    valid = run_cli("validate", "--crds", CRDS, "--root", example_repo)
    assert valid.exit_code == 0, valid.stderr
    assert "objects valid" in valid.stdout
