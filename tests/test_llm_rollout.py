"""``release``/``promote``/``rollback``/``promote --all``/``status`` for LLMs, end to end through the
CLI on a git repo with a bare remote, gates asked of a fake Prometheus HTTP API on 127.0.0.1 that
answers each LLM gate query by the vLLM metric it reads (the PromQL itself is checked against a
real Prometheus in tests/test_llm_gates_prometheus.py): weights move by the plan, the cache gate
holds step 0 until the cache is ready, a canary with worse TTFT than stable is held (or rolled back
under ``onFailure: rollback``), and ``status --output json`` lists LLMs like models."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git, run_cli
from llm_repo import LLM_SPEC, make_repo
from servespec.metrics import DEFAULT_LLM_METRICS as M

STABLE = "hf://Qwen/Qwen2.5-0.5B-Instruct"
CANDIDATE = "hf://Qwen/Qwen2.5-1.5B-Instruct"
UNIT = "rendered/prod/models/chat"


class FakePrometheus:
    """``/api/v1/query`` answering by the metric a query reads: the cache's copies ratio, the TTFT
    and TPOT ratios (canary over stable) and the error share; every query is recorded."""

    def __init__(self) -> None:
        self.values = {"cache": 1.0, "ttft": 1.0, "tpot": 1.0, "errors": 0.0}
        self.queries: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                query, at = params["query"][0], float(params["time"][0])
                fake.queries.append(query)
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {}, "value": [at, str(fake.value(query))]}]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def value(self, query: str) -> float:
        if M.cache_available in query:
            return self.values["cache"]
        if M.time_to_first_token in query:
            return self.values["ttft"]
        if M.time_per_output_token in query:
            return self.values["tpot"]
        return self.values["errors"]


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _repo(tmp_path: Path, prom: FakePrometheus, extra: str) -> tuple[Path, Path]:
    """An LLM repo (KServe 0.20) rendered and committed, pushed to a bare remote."""
    spec = "from servespec.spec import Gate, RolloutPlan\n" + LLM_SPEC % {"extra": extra}
    repo = make_repo(tmp_path / "repo", spec=spec, overlay=f"rollout:\n  prometheusUrl: {prom.url}\n")
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    remote = tmp_path / "srv" / "gitops.git"
    remote.parent.mkdir()
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return repo, remote


def _state(repo: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((repo / "overlays/prod.rollout.yaml").read_text())["models"]["chat"])


def _weights(repo: Path) -> dict[str, int]:
    """Route weight of every rendered LLMInferenceService of ``chat``."""
    out = {}
    for path in sorted((repo / UNIT).glob("llminferenceservice*.yaml")):
        obj = yaml.safe_load(path.read_text())
        out[obj["metadata"]["name"]] = obj["spec"]["router"]["route"]["weight"]
    return out


def _cli(repo: Path, *args: str) -> tuple[int, str, str]:
    res = run_cli(*args, "--root", repo)
    return res.exit_code, res.stdout, res.stderr


def test_weights_move_by_the_plan_and_every_step_is_pushed(tmp_path: Path, prom: FakePrometheus) -> None:
    repo, remote = _repo(tmp_path, prom, "rollout=RolloutPlan(steps=[10, 50, 100], min_requests=0),")
    code, out, err = _cli(repo, "release", "chat", "--env", "prod", "--storage-uri", CANDIDATE, "--push")
    assert (code, err) == (0, "")
    assert out.endswith(f"release(prod/chat): {CANDIDATE} at 10% (step 1/3), pushed (1 attempt)\n")
    assert _weights(repo) == {"chat": 90, "chat-canary": 10}
    code, out, err = _cli(repo, "promote", "chat", "--env", "prod", "--push")
    assert (code, err) == (0, "")
    assert "promote(prod/chat): 10% -> 50% (step 2/3), pushed (1 attempt)" in out
    assert "ttft-vs-stable" in out
    assert _weights(repo) == {"chat": 50, "chat-canary": 50}
    # the gates' queries were filled for the LLM: the canary service against the stable one
    assert prom.queries and all("$" not in q and 'app_kubernetes_io_name="chat-canary"' in q for q in prom.queries)
    assert any('app_kubernetes_io_name="chat"' in q for q in prom.queries if M.time_to_first_token in q)
    code, out, _ = _cli(repo, "promote", "chat", "--env", "prod", "--push")
    assert code == 0 and f"promote(prod/chat): 50% -> 100% (step 3/3), {CANDIDATE} is stable" in out
    assert _weights(repo) == {"chat": 100}
    assert _state(repo)["phase"] == "stable" and _state(repo)["stable"] == CANDIDATE
    assert git(repo, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert git(repo, "log", "-1", "--format=%(trailers:key=Servespec-Model,valueonly)").strip() == "chat"
    assert run_cli("validate", "--root", repo).exit_code == 0


def test_cache_then_switch_gates_step_0_on_the_cache(tmp_path: Path, prom: FakePrometheus) -> None:
    extra = 'rollout=RolloutPlan(steps=[10, 100], min_requests=0), cache=LLMCache(node_groups=["gpu"], model_size="2Gi"),'
    repo, _ = _repo(tmp_path, prom, extra)
    code, out, err = _cli(repo, "release", "chat", "--env", "prod", "--storage-uri", CANDIDATE)
    assert (code, err) == (0, "")
    assert out.endswith(f"release(prod/chat): {CANDIDATE} cached at 0% (step 0/2)\n")
    assert (_state(repo)["step"], _state(repo)["traffic"]) == (0, 0)
    assert _weights(repo) == {"chat": 100}  # no candidate service yet, only its cache
    prom.values["cache"] = 0.5
    code, out, err = _cli(repo, "promote", "chat", "--env", "prod")
    assert code == 1 and out == ""
    assert err.startswith("servespec: error: prod/chat: the candidate's cache is not ready, staying at step 0 (0%): gate cache-ready")
    assert all(M.cache_available in q and "-v" in q for q in prom.queries)
    prom.values["cache"] = 1.0
    code, out, err = _cli(repo, "promote", "chat", "--env", "prod")
    assert (code, err) == (0, "")
    assert "promote(prod/chat): 0% -> 10% (step 1/2)" in out
    assert _weights(repo) == {"chat": 90, "chat-canary": 10}


@pytest.mark.parametrize("on_failure", ["hold", "rollback"])
def test_a_canary_with_worse_ttft_is_held_or_rolled_back(tmp_path: Path, prom: FakePrometheus, on_failure: str) -> None:
    repo, _ = _repo(tmp_path, prom, f'rollout=RolloutPlan(steps=[10, 100], min_requests=0, on_failure="{on_failure}"),')
    assert _cli(repo, "release", "chat", "--env", "prod", "--storage-uri", CANDIDATE)[0] == 0
    head = git(repo, "rev-parse", "HEAD")
    prom.values["ttft"] = 3.0  # the canary's p99 TTFT is 3 times stable's (bound 1.5)
    code, out, err = _cli(repo, "promote", "chat", "--env", "prod")
    assert code == 1
    if on_failure == "hold":
        assert out == ""
        assert err.startswith("servespec: error: prod/chat: gate failed, staying at 10%: gate ttft-vs-stable")
        assert git(repo, "rev-parse", "HEAD") == head and _state(repo)["phase"] == "canary"
        assert _weights(repo) == {"chat": 90, "chat-canary": 10}
    else:
        assert f"rollback(prod/chat): 10% -> 0%, all traffic to {STABLE}" in out
        assert f"prod/chat: gate failed, rolled back to {STABLE} (onFailure: rollback): gate ttft-vs-stable" in err
        assert _state(repo)["phase"] == "rolled-back" and _state(repo)["rolledBack"] == CANDIDATE
        assert _weights(repo) == {"chat": 100}
        assert "ttft-vs-stable" in git(repo, "log", "-1", "--format=%(trailers:key=Servespec-Reason,valueonly)")


def test_rollback_promote_all_and_status_list_llms_like_models(tmp_path: Path, prom: FakePrometheus) -> None:
    repo, _ = _repo(tmp_path, prom, "rollout=RolloutPlan(steps=[10, 100], min_requests=0),")
    code, out, _ = _cli(repo, "status", "--output", "json")
    rows = json.loads(out)
    assert code == 0 and [(r["env"], r["model"], r["kind"], r["phase"], r["stable"], r["steps"]) for r in rows] == \
        [("prod", "chat", "llm", "stable", STABLE, [10, 100])]
    assert _cli(repo, "release", "chat", "--env", "prod", "--storage-uri", CANDIDATE)[0] == 0
    row = json.loads(_cli(repo, "status", "--output", "json")[1])[0]
    assert (row["phase"], row["candidate"], row["traffic_percent"], row["step"], row["managed"]) == ("canary", CANDIDATE, 10, 1, True)
    code, out, _ = _cli(repo, "promote", "--all", "--env", "prod", "--output", "json")
    report = json.loads(out)
    assert (code, [(m["model"], m["result"]) for m in report["models"]]) == (0, [("chat", "promoted")])
    assert _state(repo)["phase"] == "stable"
    assert _cli(repo, "release", "chat", "--env", "prod", "--storage-uri", "hf://Qwen/Qwen2.5-3B-Instruct")[0] == 0
    code, out, err = _cli(repo, "rollback", "chat", "--env", "prod")
    assert (code, err) == (0, "") and out.endswith(f"rollback(prod/chat): 10% -> 0%, all traffic to {CANDIDATE}\n")
    row = json.loads(_cli(repo, "status", "--output", "json")[1])[0]
    assert (row["phase"], row["rolled_back"], row["traffic_percent"]) == ("rolled-back", "hf://Qwen/Qwen2.5-3B-Instruct", 0)


@pytest.mark.parametrize("args, message", [
    (("--storage-uri", "gs://b/m"), "--storage-uri: expected a model URI starting with one of hf://, s3://, pvc://, oci://, found 'gs://b/m'"),
    (("--storage-uri", "hf://user:pw@hf.co/m"), "--storage-uri: credentials in a URL are refused"),
    (("--from", "staging"), "an LLM is released with --storage-uri URI (--from is not supported for LLMs)"),
], ids=["bad-scheme", "credentials", "from"])
def test_bad_release_input_is_refused(tmp_path: Path, prom: FakePrometheus, args: tuple[str, ...], message: str) -> None:
    repo, _ = _repo(tmp_path, prom, "")
    code, out, err = _cli(repo, "release", "chat", "--env", "prod", *args)
    assert (code, out) == (2, "")
    assert message in err
    assert not (repo / "overlays/prod.rollout.yaml").exists()


def test_promote_and_rollback_without_a_canary_say_so(tmp_path: Path, prom: FakePrometheus) -> None:
    repo, _ = _repo(tmp_path, prom, "")
    code, _, err = _cli(repo, "promote", "chat", "--env", "prod")
    assert (code, err) == (2, f"servespec: error: prod/chat: no candidate to promote (stable: {STABLE}); start one with `servespec release`\n")
    code, _, err = _cli(repo, "rollback", "chat", "--env", "prod")
    assert (code, err) == (2, f"servespec: error: prod/chat: nothing to roll back: no candidate under canary (stable: {STABLE}); "
                              "to go back to an older version, release it\n")
