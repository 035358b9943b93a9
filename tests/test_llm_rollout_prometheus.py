"""LLM ``promote`` against a real Prometheus scraping fake vLLM exporters (the ``prometheus`` fixture
of tests/test_llm_gates_prometheus.py: one namespace per scenario, stable ``chat`` and canary
``chat-canary``): a canary like stable moves to the next weight, a canary with worse TTFT than
stable is held, or rolled back under ``onFailure: rollback``; the cache gate holds step 0 until
every node has the candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git, run_cli
from llm_repo import LLM_SPEC, make_repo
from test_llm_gates_prometheus import CANDIDATE, pytestmark, prometheus  # noqa: F401 (the module's marks and fixture)

STABLE = "hf://Qwen/Qwen2.5-0.5B-Instruct"


def _repo(tmp_path: Path, url: str, namespace: str, extra: str, state: str) -> Path:
    """An LLM repo on KServe 0.20 in ``namespace`` with ``chat`` in the rollout ``state``, committed."""
    spec = "from servespec.spec import RolloutPlan\n" + LLM_SPEC % {"extra": extra}
    repo = make_repo(tmp_path / "repo", spec=spec, overlay=f"rollout:\n  prometheusUrl: {url}\n", state=state)
    overlay = repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text().replace("namespace: ml-prod", f"namespace: {namespace}"))
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return repo


def _canary(candidate: str, step: int, traffic: int) -> str:
    return (f"models:\n  chat:\n    phase: canary\n    stable: {STABLE}\n    candidate: {candidate}\n    step: {step}\n"
            f"    traffic: {traffic}\n    since: \"2026-11-24T18:00:00Z\"\n")


def _state(repo: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((repo / "overlays/prod.rollout.yaml").read_text())["models"]["chat"])


PLAN = 'rollout=RolloutPlan(steps=[10, 50, 100], min_requests=0, gates=None, on_failure="%s"),'


def test_a_canary_like_stable_moves_to_the_next_weight(tmp_path: Path, prometheus: str) -> None:  # noqa: F811
    repo = _repo(tmp_path, prometheus, "ns-good", PLAN % "hold", _canary(CANDIDATE, 1, 10))
    res = run_cli("promote", "chat", "--env", "prod", "--root", repo)
    assert (res.exit_code, res.stderr) == (0, "")
    assert "promote(prod/chat): 10% -> 50% (step 2/3)" in res.stdout
    assert (_state(repo)["step"], _state(repo)["traffic"]) == (2, 50)


@pytest.mark.parametrize("on_failure", ["hold", "rollback"])
def test_a_canary_with_worse_ttft_is_held_or_rolled_back(tmp_path: Path, prometheus: str, on_failure: str) -> None:  # noqa: F811
    repo = _repo(tmp_path, prometheus, "ns-slow", PLAN % on_failure, _canary(CANDIDATE, 1, 10))
    res = run_cli("promote", "chat", "--env", "prod", "--root", repo)
    assert res.exit_code == 1
    if on_failure == "hold":
        assert res.stderr.startswith("servespec: error: prod/chat: gate failed, staying at 10%: gate ttft-vs-stable")
        assert _state(repo)["phase"] == "canary"
    else:
        assert f"prod/chat: gate failed, rolled back to {STABLE} (onFailure: rollback): gate ttft-vs-stable" in res.stderr
        assert _state(repo)["phase"] == "rolled-back"


@pytest.mark.parametrize("candidate, code", [(CANDIDATE, 1), ("hf://ready/model", 0)], ids=["downloading", "ready"])
def test_the_cache_gate_holds_step_0_until_every_node_has_it(tmp_path: Path, prometheus: str, candidate: str, code: int) -> None:  # noqa: F811
    extra = 'rollout=RolloutPlan(steps=[10, 100], min_requests=0), cache=LLMCache(node_groups=["gpu"], model_size="2Gi"),'
    repo = _repo(tmp_path, prometheus, "ns-good", extra, _canary(candidate, 0, 0))
    res = run_cli("promote", "chat", "--env", "prod", "--root", repo)
    assert res.exit_code == code
    if code:
        assert res.stderr.startswith("servespec: error: prod/chat: the candidate's cache is not ready, staying at step 0 (0%): "
                                     "gate cache-ready")
        assert (_state(repo)["step"], _state(repo)["traffic"]) == (0, 0)
    else:
        assert "promote(prod/chat): 0% -> 10% (step 1/2)" in res.stdout
        assert (_state(repo)["step"], _state(repo)["traffic"]) == (1, 10)
