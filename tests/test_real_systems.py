"""The guard of conftest.py: a test that starts a real system must be marked slow."""

from __future__ import annotations

import subprocess

import pytest

from conftest import real_system


@pytest.mark.parametrize("argv, what", [
    (["/usr/bin/promtool", "check", "rules", "x.yaml"], "promtool"),
    (["prometheus", "--config.file=p.yml"], "prometheus"),
    (["git", "daemon", "--export-all"], "git daemon"),
    (["/venv/bin/servespec", "promote", "m", "--push"], "servespec"),
    (["sh", "-ec", "python3 -m kfp.dsl.executor_main --executor_input {}"], "kfp's local runner"),
    (["git", "push", "-q", "origin", "main"], None),
    (["/usr/local/bin/kubectl", "kustomize", "rendered/dev"], None),
    ([], None),
])
def test_real_systems_are_recognised(argv: list[str], what: str | None) -> None:
    assert real_system(argv) == what


def test_an_unmarked_test_cannot_start_one() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"this test starts git daemon: mark it @pytest.mark.slow"):
        subprocess.run(["git", "daemon", "--version"], capture_output=True)
    with pytest.raises(pytest.fail.Exception, match=r"this test starts promtool"):
        subprocess.run("promtool --version", shell=True, capture_output=True)
    assert subprocess.run(["git", "--version"], capture_output=True, check=True).returncode == 0


@pytest.mark.slow
def test_a_slow_test_may() -> None:
    assert subprocess.Popen.__name__ == "Popen"  # not conftest's guard
