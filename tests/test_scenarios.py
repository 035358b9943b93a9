"""Bad input, one scenario folder per mistake: exit 2, exactly the expected lines, nothing written.

Each ``tests/testdata/<scenario>/`` is a tiny self-contained servespec repo (``specs/*.py``,
``overlays/*.yaml``) with a ``README.md`` saying what is wrong and an ``expected.txt``:

    exit: 2
    args: --env qa                      (optional: more arguments for ``servespec render``)
    servespec: error: overlays/qa.yaml:4: ...

The line numbers are those of the scenario's own files, so editing the example repo breaks none of
them. To add a case: add a folder, run the test, check the message is the one a user should read.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import TESTDATA, copy_scenario, run_cli

SCENARIOS = sorted(p.name for p in TESTDATA.iterdir() if p.is_dir())


@dataclass(frozen=True)
class Expected:
    """What ``servespec render --root <scenario>`` must do."""

    exit_code: int
    args: tuple[str, ...]
    lines: tuple[str, ...]


def read_expected(folder: Path) -> Expected:
    """Parse ``folder/expected.txt``: ``exit: N``, an optional ``args: ...`` line, then the stderr lines."""
    header, *rest = (folder / "expected.txt").read_text().splitlines()
    assert header.startswith("exit: "), f"{folder.name}/expected.txt: first line must be 'exit: N', found {header!r}"
    args: tuple[str, ...] = ()
    if rest and rest[0].startswith("args: "):
        args = tuple(shlex.split(rest.pop(0).removeprefix("args: ")))
    return Expected(int(header.removeprefix("exit: ")), args, tuple(rest))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str, tmp_path: Path) -> None:
    expected = read_expected(TESTDATA / scenario)
    repo = copy_scenario(scenario, tmp_path / "repo")
    before = _files(repo)
    result = run_cli("render", "--root", repo, *expected.args)
    assert result.exit_code == expected.exit_code, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    missing = [line for line in expected.lines if line not in lines]
    assert not missing, f"expected lines not printed: {missing}; stderr: {lines}"
    assert lines == list(expected.lines), "stderr has other lines, or the same ones in another order"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (repo / "rendered").exists()
    assert _files(repo) == before


def test_scenarios_are_documented_and_well_formed() -> None:
    assert len(SCENARIOS) >= 44
    for name in SCENARIOS:
        folder = TESTDATA / name
        readme = (folder / "README.md").read_text()
        assert readme.startswith(f"# {name}\n\n") and len(readme.strip().splitlines()) >= 3, f"{name}/README.md: say what is wrong"
        expected = read_expected(folder)
        assert expected.exit_code == 2, name
        assert expected.lines and all(line.startswith("servespec: error: ") for line in expected.lines), name
        assert (folder / "specs").is_dir() and (folder / "overlays").is_dir(), name


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    repo = copy_scenario("spec-raises", tmp_path / "repo")
    result = run_cli("--debug", "render", "--root", repo)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "specs/iris.py:4: importing the spec raised RuntimeError: boom" in result.stderr
