"""Human-written YAML is read through one guard: size cap, regular files only, no aliases (no
"billion laughs"), bounded nesting, duplicate keys refused, lines kept (issue 11, class 1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml.error import MarkedYAMLError

from conftest import REPO
from servespec.errors import PromoteError, SpecError
from servespec.render import read_tree
from servespec.yamlio import MAX_BYTES, MAX_DEPTH, check_structure, load_with_lines, read_text, roundtrip_load


def _laughs(first_line: str, indent: str = "") -> str:
    """A 1 KB "billion laughs": 10 levels of 10 aliases each, 10**10 strings once expanded."""
    lines = [first_line, f'{indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{indent}{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


ALIAS_A = "aliases are not allowed in servespec's YAML files (found *a): write the value out"

# Runs `servespec render` as its own process from a fresh interpreter, so that RUSAGE_CHILDREN
# holds that process (and the spec loader's child) only: its peak RSS, not the test session's.
MEASURE = r"""
import json, resource, subprocess, sys, time
t0 = time.monotonic()
proc = subprocess.run([sys.executable, "-m", "servespec", "render", "--root", sys.argv[1]], capture_output=True, text=True)
elapsed = time.monotonic() - t0
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": proc.returncode, "stderr": proc.stderr, "elapsed": elapsed, "peak_mb": peak_kb / 1024}))
"""


def _render_measured(repo: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "generator")}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(repo)], capture_output=True, text=True, env=env, timeout=120, check=True)
    return dict(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("qa.yaml", _laughs("namespace: ml-qa"), re.escape(f"overlays/qa.yaml:3: {ALIAS_A}")),
        # the state file is read by render too; until rollout passes its file name to
        # roundtrip_load, ruamel's "invalid YAML: " prefix stands before the same message
        ("dev.rollout.yaml", _laughs("models:", "  "), re.escape("overlays/dev.rollout.yaml:3: ") + "(invalid YAML: )?" + re.escape(ALIAS_A)),
    ],
    ids=["overlay", "state-file"],
)
def test_billion_laughs_fails_fast_and_small(example_repo: Path, name: str, text: str, expected: str) -> None:
    before = read_tree(example_repo / "rendered")
    (example_repo / "overlays" / name).write_text(text)
    result = _render_measured(example_repo)
    assert result["code"] == 2, result
    assert re.fullmatch(f"servespec: error: {expected}\n", str(result["stderr"])), result["stderr"]
    assert float(str(result["elapsed"])) < 10, result  # the whole CLI run, generously; the guard alone: below
    assert float(str(result["peak_mb"])) < 200, result
    assert read_tree(example_repo / "rendered") == before


def test_the_guard_itself_refuses_the_bomb_in_well_under_two_seconds(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(_laughs("namespace: ml-qa"))
    t0 = time.monotonic()
    with pytest.raises(SpecError) as err:
        load_with_lines(path, "overlays/qa.yaml")
    assert time.monotonic() - t0 < 2
    assert str(err.value) == f"overlays/qa.yaml:3: {ALIAS_A}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x 1\nb: *x\n", "f.yaml:2: aliases are not allowed in servespec's YAML files (found *x): write the value out"),
        ("base: &base\n  minReplicas: 1\nmodels:\n  m:\n    <<: *base\n",
         "f.yaml:5: aliases are not allowed in servespec's YAML files (found *base): write the value out"),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", f"f.yaml:1: expected at most {MAX_DEPTH} levels of nesting, found more"),
        ("".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "x\n",
         f"f.yaml:{MAX_DEPTH + 1}: expected at most {MAX_DEPTH} levels of nesting, found more"),
        # a 5,000-digit int made PyYAML raise ValueError (Python's int-from-text limit): an internal error
        ("namespace: a\nminReplicas: " + "1" * 5000 + "\n", "f.yaml:2: expected a number of at most 4300 digits, found 5000 digits"),
        ("namespace: a\nnamespace: b\n", "f.yaml:2: namespace: duplicate key (first on line 1)"),
        ("a: [1\n", "f.yaml:2: invalid YAML: did not find expected ',' or ']'"),
    ],
    ids=["alias", "merge-key", "deep-flow", "deep-block", "huge-int", "duplicate-key", "syntax"],
)
def test_overlay_structure_refused_with_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_with_lines(path, "f.yaml")
    assert str(err.value) == expected


def test_anchors_alone_and_nesting_at_the_limit_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("a: &x 1\nb: " + "[" * (MAX_DEPTH - 1) + "2" + "]" * (MAX_DEPTH - 1) + "\nc: '*not an alias'\n")
    data, lines = load_with_lines(path, "f.yaml")
    assert data["a"] == 1 and data["c"] == "*not an alias"
    assert lines[("b",)] == 2 and lines[("c",)] == 3


def test_size_cap_names_the_file_its_size_and_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_BYTES - 4) + "\n")  # exactly the cap: read
    assert len(read_text(path, "overlays/big.yaml")) == MAX_BYTES
    path.write_text("a: " + "x" * (2 * MAX_BYTES) + "\n")
    with pytest.raises(SpecError) as err:
        load_with_lines(path, "overlays/big.yaml")
    assert str(err.value) == f"overlays/big.yaml: expected a file of at most 1 MiB (1048576 bytes), found {2 * MAX_BYTES + 4} bytes"


@pytest.mark.parametrize(
    ("make", "found"),
    [
        (lambda p: os.mkfifo(p), "a FIFO"),  # must not block waiting for a writer
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),  # must not read forever
    ],
    ids=["fifo", "dev-zero"],
)
def test_only_regular_files_are_read(tmp_path: Path, make: object, found: str) -> None:
    path = tmp_path / "x.yaml"
    make(path)  # type: ignore[operator]
    with pytest.raises(PromoteError) as err:
        read_text(path, "overlays/x.yaml", PromoteError)
    assert str(err.value) == f"overlays/x.yaml: expected a regular file, found {found}"


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        read_text(tmp_path / "missing.yaml", "overlays/missing.yaml")
    assert str(err.value) == "overlays/missing.yaml: cannot read: No such file or directory"
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(SpecError) as err:
        read_text(tmp_path / "dir.yaml", "overlays/dir.yaml")
    assert str(err.value) == "overlays/dir.yaml: cannot read: Is a directory"
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe a: 1\n")
    with pytest.raises(SpecError) as err:
        read_text(tmp_path / "bin.yaml", "overlays/bin.yaml")
    assert str(err.value) == "overlays/bin.yaml: expected UTF-8 text, found binary data"


def test_roundtrip_load_refuses_aliases_as_the_callers_error_when_told_the_file() -> None:
    with pytest.raises(PromoteError) as err:
        roundtrip_load(_laughs("models:", "  "), "overlays/prod.rollout.yaml", PromoteError)
    assert str(err.value) == f"overlays/prod.rollout.yaml:3: {ALIAS_A}"
    with pytest.raises(PromoteError) as err:
        roundtrip_load("x: " + "x" * MAX_BYTES + "\n", "overlays/prod.rollout.yaml", PromoteError)
    assert str(err.value) == f"overlays/prod.rollout.yaml: expected a file of at most 1 MiB (1048576 bytes), found {MAX_BYTES + 4} bytes"


def test_roundtrip_load_refuses_a_huge_int_and_keeps_a_long_quoted_string() -> None:
    with pytest.raises(PromoteError) as err:
        roundtrip_load("models:\n  a:\n    traffic: " + "1" * 5000 + "\n", "overlays/prod.rollout.yaml", PromoteError)
    assert str(err.value) == "overlays/prod.rollout.yaml:3: expected a number of at most 4300 digits, found 5000 digits"
    assert roundtrip_load("a: '" + "1" * 5000 + "'\n")["a"] == "1" * 5000


def test_roundtrip_load_without_a_file_name_raises_what_callers_already_catch() -> None:
    with pytest.raises(MarkedYAMLError) as err:
        roundtrip_load("models:\n  a: &x {}\n  b: *x\n")
    assert err.value.problem == "aliases are not allowed in servespec's YAML files (found *x): write the value out"
    assert err.value.problem_mark.line + 1 == 3
    doc = roundtrip_load("# kept\nmodels:\n  a: &x {}\n")  # an anchor alone is harmless
    assert list(doc["models"]) == ["a"]


def test_where_libyaml_gives_up_ruamel_events_are_checked() -> None:
    # libyaml rejects U+2028 inside a plain scalar; ruamel accepts it, so ruamel's events are walked
    text = "a: &x 1\nb: *x\nc: x\u2028y\n"
    with pytest.raises(Exception) as err:
        check_structure(text)
    assert (err.value.line, str(err.value)) == (2, "aliases are not allowed in servespec's YAML files (found *x): write the value out")  # type: ignore[attr-defined]
    check_structure("a: [1\n")  # a syntax error for both: left to the loader, which reports it
