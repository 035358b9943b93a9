"""A spec module cannot end servespec: hard exits, kills, crashes, hangs and any BaseException
become that spec file's error (exit 2, one located line, no traceback, nothing written)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from servespec.errors import SpecError, UsageError
import servespec.loader as loader
from servespec.loader import load_specs, spec_timeout
from servespec.project import Project
from servespec.render import read_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="spec isolation needs os.fork")

# line 1 is always `x = 1`, so the hostile statement is on line 2
HOSTILE = {
    "os-exit": ("import os; os._exit(0)", "specs/zz_hostile.py:2: importing the spec tried to end the process: os._exit(0)"),
    "posix-exit": ("from posix import _exit; _exit(3)",
                   "specs/zz_hostile.py:2: importing the spec tried to end the process: os._exit(3)"),
    "kill-self": ("import os; os.kill(os.getpid(), 9)",
                  "specs/zz_hostile.py:2: importing the spec tried to end the process: os.kill(its own process, SIGKILL)"),
    "kill-parent": ("import os, signal; os.kill(os.getppid(), signal.SIGTERM)",
                    "specs/zz_hostile.py:2: importing the spec tried to end the process: os.kill(servespec's process, SIGTERM)"),
    "kill-group": ("import os; os.killpg(0, 15)",
                   "specs/zz_hostile.py:2: importing the spec tried to end the process: os.killpg(0, SIGTERM)"),
    "abort": ("import os; os.abort()", "specs/zz_hostile.py:2: importing the spec tried to end the process: os.abort()"),
    "raise-signal": ("import signal; signal.raise_signal(signal.SIGKILL)",
                     "specs/zz_hostile.py:2: importing the spec tried to end the process: signal.raise_signal(SIGKILL)"),
    "keyboard-interrupt": ("raise KeyboardInterrupt", "specs/zz_hostile.py:2: importing the spec raised KeyboardInterrupt"),
    "sys-exit-1": ("import sys; sys.exit(1)", "specs/zz_hostile.py:2: importing the spec raised SystemExit: 1"),
    "base-exception": ("class Stop(BaseException): pass\nraise Stop('no')", "specs/zz_hostile.py:3: importing the spec raised Stop: no"),
    "unprintable": ("class Odd(Exception):\n    def __str__(self): raise ValueError\nraise Odd()",
                    "specs/zz_hostile.py:4: importing the spec raised Odd: <Odd that cannot be printed>"),
    "reads-stdin": ("input()", "specs/zz_hostile.py:2: importing the spec raised EOFError: EOF when reading a line"),
    "segfault": ("import ctypes; ctypes.string_at(0)", "specs/zz_hostile.py:2: importing the spec ended the process (signal SIGSEGV)"),
    "killed-from-outside": ("import os, subprocess; subprocess.run(['kill', '-9', str(os.getpid())])",
                            "specs/zz_hostile.py: importing the spec ended the process (signal SIGKILL)"),
}


def _children() -> list[str]:
    """This thread's child processes (a session's servers, e.g. Prometheus, may be the worker's children too)."""
    return Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children").read_text().split()


def _render_fails(repo: Path, expected: list[str], *args: str) -> None:
    before = read_tree(repo / "rendered")
    result = run_cli("render", *args, "--root", repo)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"servespec: error: {m}" for m in expected]
    assert "Traceback" not in result.stderr
    assert read_tree(repo / "rendered") == before


@pytest.fixture(params=["fork", "zygote"])
def importer(request: pytest.FixtureRequest) -> Iterator[str]:
    """Spec modules imported in children of this process, or of a zygote (as in the daemon: ``zygote.py``)."""
    if request.param == "zygote":
        loader.start_zygote()
        assert loader.ZYGOTE.live
    try:
        yield request.param
    finally:
        loader.ZYGOTE.stop()


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_spec_is_that_files_error(importer: str, example_repo: Path, case: str) -> None:
    body, message = HOSTILE[case]
    (example_repo / "specs/zz_hostile.py").write_text(f"x = 1\n{body}\n")
    _render_fails(example_repo, [message])


@pytest.mark.parametrize("body", ["import time; time.sleep(60)", "while True: pass"], ids=["sleep", "busy-loop"])
def test_a_hang_is_cut_at_the_time_limit_with_its_line(importer: str, example_repo: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    monkeypatch.setenv("SERVESPEC_SPEC_TIMEOUT", "0.5")
    (example_repo / "specs/zz_hostile.py").write_text(f"x = 1\n{body}\n")
    t0 = time.monotonic()
    _render_fails(example_repo, ["specs/zz_hostile.py:2: importing the spec did not finish within 0.5 s "
                                 "(set SERVESPEC_SPEC_TIMEOUT to allow longer)"])
    assert time.monotonic() - t0 < 10


def test_check_on_a_stale_tree_cannot_be_turned_green(example_repo: Path) -> None:
    # issue 11, class 5: os._exit(0) in a spec made `render --check` exit 0 on a hand-edited tree
    target = next((example_repo / "rendered").rglob("*.yaml"))
    target.write_text(target.read_text() + "# hand edit\n")
    (example_repo / "specs/zz_hostile.py").write_text("import os\nos._exit(0)\n")
    _render_fails(example_repo, ["specs/zz_hostile.py:2: importing the spec tried to end the process: os._exit(0)"], "--check")


def test_as_a_real_process_a_hard_exit_is_exit_2(example_repo: Path) -> None:
    (example_repo / "specs/zz_hostile.py").write_text("import os\nos._exit(0)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "generator")}
    proc = subprocess.run([sys.executable, "-m", "servespec", "render", "--check", "--root", str(example_repo)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "servespec: error: specs/zz_hostile.py:2: importing the spec tried to end the process: os._exit(0)\n"


def test_every_file_is_reported_after_a_child_died(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVESPEC_SPEC_TIMEOUT", "0.5")
    specs = example_repo / "specs"
    (specs / "a_exit.py").write_text("import os\nos._exit(1)\n")
    (specs / "b_segv.py").write_text("import ctypes\nctypes.string_at(0)\n")
    (specs / "c_hang.py").write_text("import time\ntime.sleep(60)\n")
    (specs / "d_copy.py").write_text((specs / "census_income.py").read_text())  # loaded by the third child
    _render_fails(example_repo, [
        "specs/a_exit.py:2: importing the spec tried to end the process: os._exit(1)",
        "specs/b_segv.py:2: importing the spec ended the process (signal SIGSEGV)",
        "specs/c_hang.py:2: importing the spec did not finish within 0.5 s (set SERVESPEC_SPEC_TIMEOUT to allow longer)",
        "specs/d_copy.py: census-income: duplicate model name (also declared in specs/census_income.py)",
    ])


def test_an_object_shared_through_a_helper_is_still_one_declaration(example_repo: Path) -> None:
    specs = example_repo / "specs"
    (specs / "_shared.py").write_text(
        "from servespec.spec import Model, Predictor\n"
        "SHARED = Model(name='shared-model', predictor=Predictor(model_format='sklearn', storage_uri='gs://b/m'))\n")
    (specs / "a_one.py").write_text("from _shared import SHARED\n")
    (specs / "b_two.py").write_text("from _shared import SHARED\nMODELS = [SHARED, SHARED]\n")
    result = load_specs(example_repo)
    assert result.origin[("model", "shared-model")] == "specs/a_one.py"
    assert sorted(result.models) == ["census-income", "fraud-detector", "llama3-chat", "shared-model", "sklearn-iris", "text-embedder"]
    assert result.models["census-income"].predictor.storage_uri == "s3://census-income/serving_model"


def test_a_class_defined_in_specs_cannot_leave_the_child(example_repo: Path) -> None:
    (example_repo / "specs/zz_custom.py").write_text(
        "from servespec.spec import Model, Predictor\n"
        "class Mine(Model):\n    pass\n"
        "X = Mine(name='mine', predictor=Predictor(model_format='sklearn', storage_uri='gs://b/m'))\n")
    with pytest.raises(SpecError) as err:
        load_specs(example_repo)
    assert [str(p) for p in err.value.problems] == [
        "specs/zz_custom.py: expected instances of servespec.spec classes, found Mine "
        "(a class defined in specs/ cannot leave the process that imports the specs)"]


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "inf", "nan"])
def test_a_bad_time_limit_is_a_usage_error(example_repo: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SERVESPEC_SPEC_TIMEOUT", raw)
    with pytest.raises(UsageError) as err:
        load_specs(example_repo)
    assert str(err.value) == f"SERVESPEC_SPEC_TIMEOUT: expected a number of seconds > 0, found {raw!r}"


def test_time_limit_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVESPEC_SPEC_TIMEOUT", raising=False)
    assert spec_timeout() == 5.0
    monkeypatch.setenv("SERVESPEC_SPEC_TIMEOUT", " 12.5 ")
    assert spec_timeout() == 12.5


def test_loading_leaves_this_process_untouched(example_repo: Path) -> None:
    before_modules, before_path = set(sys.modules), list(sys.path)
    (example_repo / "specs/zz_side_effects.py").write_text("import os\nos.environ['SPEC_WAS_HERE'] = '1'\n")
    load_specs(example_repo)
    assert not {m for m in set(sys.modules) - before_modules if m.startswith("_servespec_spec_")}
    assert sys.path == before_path
    assert "SPEC_WAS_HERE" not in os.environ


def test_meanwhile_runs_here_while_the_child_imports(example_repo: Path, tmp_path: Path) -> None:
    """Start-up work overlaps the import: a spec module that waits for what ``meanwhile`` does
    in this process finishes only because both run at once (run one after the other, the
    module would fail after its 20 s of waiting)."""
    flag = tmp_path / "meanwhile-ran"
    (example_repo / "specs/zz_waits.py").write_text(
        "import os, time\n"
        "deadline = time.monotonic() + 20\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    if time.monotonic() > deadline:\n"
        "        raise RuntimeError('meanwhile never ran during the import')\n"
        "    time.sleep(0.005)\n")
    calls: list[int] = []

    def meanwhile() -> None:
        calls.append(os.getpid())
        flag.touch()

    result = load_specs(example_repo, None, meanwhile)
    assert calls == [os.getpid()]  # once, in this process
    assert result.models and not result.outcomes[example_repo / "specs/zz_waits.py"].problems


def test_meanwhile_runs_once_when_nothing_is_imported_or_the_specs_fail(example_repo: Path, tmp_path: Path) -> None:
    calls: list[str] = []
    kept = load_specs(example_repo).outcomes
    load_specs(example_repo, kept, lambda: calls.append("all kept"))
    (example_repo / "specs/zz_broken.py").write_text("x = 1\nraise ValueError('no')\n")
    with pytest.raises(SpecError) as caught:
        load_specs(example_repo, None, lambda: calls.append("broken"))
    assert [str(p) for p in caught.value.problems] == ["specs/zz_broken.py:2: importing the spec raised ValueError: no"]
    assert calls == ["all kept", "broken"]


def test_an_error_in_meanwhile_leaves_no_child_behind(example_repo: Path) -> None:
    def meanwhile() -> None:
        raise RuntimeError("start-up failed")

    before = _children()
    with pytest.raises(RuntimeError, match="start-up failed"):
        load_specs(example_repo, None, meanwhile)
    assert _children() == before  # the importing child was killed and reaped


def test_project_reports_spec_and_overlay_problems_together_also_without_specs(example_repo: Path) -> None:
    """``Project.load`` reads the overlays while the specs import; when the specs fail before any
    import (no specs/ folder), the overlays are still read and their problems reported too."""
    (example_repo / "overlays/dev.yaml").write_text("kserveVersion: [1\n")
    (example_repo / "specs/zz_broken.py").write_text("x = 1\nraise ValueError('no')\n")
    with pytest.raises(SpecError) as caught:
        Project.load(example_repo)
    shown = [str(p) for p in caught.value.problems]
    bad_overlay = "overlays/dev.yaml:2: invalid YAML: did not find expected ',' or ']'"
    assert shown == ["specs/zz_broken.py:2: importing the spec raised ValueError: no", bad_overlay]
    shutil.rmtree(example_repo / "specs")
    with pytest.raises(SpecError) as caught:
        Project.load(example_repo)
    assert [str(p) for p in caught.value.problems] == ["specs/: expected a specs/ folder with Python modules, found none", bad_overlay]


def test_with_a_zygote_spec_modules_are_imported_in_its_children_and_without_it_in_ours(example_repo: Path, tmp_path: Path) -> None:
    """The daemon's importers are forked from the zygote (``zygote.py``); when the zygote is gone
    (here: killed), this process forks them itself, with the same outcome."""
    import signal

    seen = tmp_path / "parents"
    (example_repo / "specs/zz_parent.py").write_text(f"import os\nopen({str(seen)!r}, 'a').write(f'{{os.getppid()}}\\n')\n")
    loader.start_zygote()
    try:
        zygote = loader.ZYGOTE.pid
        first = load_specs(example_repo)
        os.kill(zygote, signal.SIGKILL)
        os.waitpid(zygote, 0)
        second = load_specs(example_repo)
        assert not loader.ZYGOTE.live
    finally:
        loader.ZYGOTE.stop()
    assert seen.read_text().split() == [str(zygote), str(os.getpid())]
    assert sorted(first.models) == sorted(second.models) and first.models == second.models


def test_an_import_begun_early_is_taken_over_abandoned_or_begun_again(example_repo: Path, tmp_path: Path) -> None:
    """``loader.begin_import`` (the CLI's render starts the spec import before it imports the
    render): ``load_specs`` takes the child over and gives what a load of its own gives; a
    begun import nobody takes is stopped and reaped by ``abandon``; one begun for other files
    (a module added meanwhile) is abandoned and the load imports afresh."""
    before = _children()
    plain = load_specs(example_repo)
    begun = loader.begin_import(example_repo)
    assert begun is not None and len(_children()) == len(before) + 1
    taken = load_specs(example_repo, None, None, begun)
    assert taken.models == plain.models and begun.taken and _children() == before
    loader.begin_import(example_repo).abandon()  # type: ignore[union-attr]
    assert _children() == before
    stale = loader.begin_import(example_repo)
    (example_repo / "specs/zz_late.py").write_text(
        "from servespec.spec import Model, Predictor\n"
        "LATE = Model(name='late', predictor=Predictor(model_format='sklearn', storage_uri='gs://b/late'))\n")
    assert "late" in load_specs(example_repo, None, None, stale).models and _children() == before
