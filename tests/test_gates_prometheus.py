"""Gates against a real Prometheus (Debian's /usr/bin/prometheus) scraping exporters that serve
KServe/Knative-shaped queue-proxy metrics, one exporter per revision (like one pod each).

Prometheus attaches the version label to every series of a target, as a PodMonitor's
``podTargetLabels`` copies the ``serving.servespec.io/version`` pod label in a cluster. Each
scenario is one namespace holding the model's stable revision and its canary, so every test
sees exactly one rollout; the stable revision serves 90% of the traffic (unless the scenario is
about the split), so a gate that looked at the whole service instead of the canary's series
would let a failing canary through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import GIT_ENV, git, run_cli
from servespec.errors import SpecError
from servespec.metrics import DEFAULT_METRICS as M, version_id
from servespec.rollout.gates import Target, evaluate_gates
from servespec.spec import Gate

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Like the promtool tests: skipped, not errors, on a machine without Debian's prometheus (.ci/run installs it).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")]
SERVESPEC = str(Path(sys.executable).parent / "servespec")
STABLE = "s3://census-income/serving_model"
CANARY = "s3://census-income/v2"
SERVICE = "census-income-predictor"
# Knative queue-proxy's latency buckets in ms: knative/serving@knative-v1.18.0:pkg/queue/request_metric.go:37
BUCKETS = [5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000]


@dataclass(frozen=True)
class Revision:
    """One revision's traffic: requests per second (or, with ``cap``, that many requests in all,
    served between the first and the second scrape), share of 5xx, latency in ms."""

    rps: float
    errors: float = 0.0
    latency_ms: float = 20.0
    versioned: bool = True
    """Its pods carry servespec's version label (stable pods may predate it)."""
    cap: int | None = None


# namespace -> (stable revision, canary revision or None: the canary serves nothing)
SCENARIOS: dict[str, tuple[Revision, Revision | None]] = {
    "ml-good": (Revision(900), Revision(100, errors=0.002)),
    "ml-errors": (Revision(900), Revision(100, errors=0.05)),
    "ml-old": (Revision(900, errors=0.03, versioned=False), Revision(100, errors=0.03)),
    "ml-slow": (Revision(900, latency_ms=100), Revision(100, latency_ms=200)),
    "ml-unsynced": (Revision(990), Revision(10)),
    "ml-quiet": (Revision(1000, cap=18), Revision(1000, cap=2)),
    "ml-silent": (Revision(900), None),
}


class QueueProxyCollector:
    """``revision_app_request_count`` and ``revision_app_request_latencies`` (ms) of one revision,
    growing with time, under their exact exported names (no ``_total`` suffix)."""

    def __init__(self, namespace: str, revision: str, r: Revision):
        self.namespace, self.revision, self.r = namespace, revision, r
        self.t0 = time.monotonic() - 1
        self.scrapes = 0

    def _served(self) -> float:
        self.scrapes += 1
        if self.r.cap is not None:
            return 0.0 if self.scrapes == 1 else float(self.r.cap)
        return self.r.rps * (time.monotonic() - self.t0)

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        n = self._served()
        labels = ["namespace_name", "revision_name", "configuration_name", "service_name"]
        values = [self.namespace, self.revision, SERVICE, SERVICE]
        count = GaugeMetricFamily(M.request_count, "requests by response code class", labels=[*labels, M.response_code_class_label])
        count.add_metric([*values, "2xx"], n * (1 - self.r.errors))
        if self.r.errors:
            count.add_metric([*values, "5xx"], n * self.r.errors)
        yield count
        hist = HistogramMetricFamily(M.request_latencies, "request latency in ms", labels=labels)
        hist.add_metric(values, [(str(b), n if self.r.latency_ms <= b else 0.0) for b in BUCKETS] + [("+Inf", n)], n * self.r.latency_ms)
        yield hist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _targets() -> tuple[list[object], list[str]]:
    from prometheus_client import CollectorRegistry, start_http_server

    servers, targets = [], []
    for ns, revisions in SCENARIOS.items():
        for i, (uri, r) in enumerate(zip((STABLE, CANARY), revisions, strict=True), start=1):
            if r is None:
                continue
            registry = CollectorRegistry(auto_describe=False)
            registry.register(QueueProxyCollector(ns, f"{SERVICE}-{i:05d}", r))
            port = free_port()
            server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
            servers.append(server)
            label = f"{M.version_label}: {version_id(uri)}" if r.versioned else ""
            targets.append(f"      - targets: ['127.0.0.1:{port}']\n        labels: {{{label}}}\n")
    return servers, targets


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prometheus for the module, scraping one exporter per revision of every scenario every second."""
    tmp = tmp_path_factory.mktemp("prometheus")
    servers, targets = _targets()
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: queue-proxy\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n"
        + "".join(targets))
    port = free_port()
    log = open(tmp / "prometheus.log", "w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        # ready when every revision's rate is computable, the capped ones included (first scrape after ~5.4 s)
        query = f"count(rate({M.request_count}{{response_code_class=\"2xx\"}}[1m]) > 0)"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=2) as r:
                    result = json.loads(r.read())["data"]["result"]
                if result and float(result[0]["value"][1]) == len(targets):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Prometheus had no rates after 30 s"
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        stoppers = [threading.Thread(target=s.shutdown) for s in servers]  # each waits up to 0.5 s
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(timeout=5)
        for server in servers:
            server.server_close()


def scenario(repo: Path, namespace: str, **plan: object) -> Path:
    """The example repo with prod in ``namespace`` (one scenario), extra plan fields, rendered
    and committed, and census-income released as a canary at 10%."""
    overlay = repo / "overlays/prod.yaml"
    extra = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in plan.items())
    text = overlay.read_text().replace("namespace: ml-prod\n", f"namespace: {namespace}\n")
    overlay.write_text(text.replace("    bakeTime: 10m\n", "    bakeTime: 10m\n" + extra))
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "commit", "-qam", f"prod in {namespace}")
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", CANARY, "--root", repo)
    assert res.exit_code == 0, res.stderr
    return repo


def promote(repo: Path, url: str, *extra: str):
    return run_cli("promote", "census-income", "--env", "prod", "--prometheus", url, "--ignore-bake-time", *extra, "--root", repo)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def untouched(repo: Path, before: str) -> bool:
    return head(repo) == before and git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def isvc(repo: Path) -> dict:
    return yaml.safe_load((repo / "rendered/prod/models/census-income/inferenceservice.yaml").read_text())


def trailers(repo: Path) -> dict[str, str]:
    msg = git(repo, "log", "-1", "--format=%B")
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=msg, capture_output=True, text=True, check=True).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def test_healthy_canary_promotes(prometheus: str, example_git_repo: Path) -> None:
    repo = scenario(example_git_repo, "ml-good", minRequests=50)
    res = promote(repo, prometheus)
    assert res.exit_code == 0, res.stderr
    assert "promote(prod/census-income): 10% -> 25% (step 2/4)" in res.stdout
    assert "gate error-rate-increase: passed: value 0.002, expected <= 0.01 over 5m; 0 of 1 checks failed, 0 tolerated" in res.stdout
    assert "gate latency-p99-ratio: passed: value 1, expected <= 1.5 over 5m; 0 of 1 checks failed, 0 tolerated" in res.stdout
    t = trailers(repo)
    assert (t["Servespec-Gates"], t["Servespec-Flags"]) == ("error-rate-increase=0.002 latency-p99-ratio=1", "ignore-bake-time")
    st = json.loads(run_cli("status", "--env", "prod", "--output", "json", "--root", repo).stdout)[0]
    assert st["last_gate"]["result"] == "passed" and st["traffic_percent"] == 25


def test_failing_canary_with_rollback_commits_the_rollback(prometheus: str, example_git_repo: Path) -> None:
    repo = scenario(example_git_repo, "ml-errors", minRequests=50, onFailure="rollback")
    before = head(repo)
    res = promote(repo, prometheus)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert git(repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    subject = f"rollback(prod/census-income): 10% -> 0%, all traffic to {STABLE}"
    assert git(repo, "log", "-1", "--format=%s").strip() == subject
    assert re.match(rf"^\[[0-9a-f]{{10}}\] {re.escape(subject)}\n", res.stdout)
    t = trailers(repo)
    assert (t["Servespec-Action"], t["Servespec-Reason"]) == ("rollback", "error-rate-increase 0.05 > 0.01 over 5m")
    assert t["Servespec-From"] == f"canary 10% {CANARY} (stable {STABLE})"
    assert t["Servespec-To"] == f"rolled-back {CANARY} (stable {STABLE})"
    assert t["Servespec-Gates"] == "error-rate-increase=0.05 latency-p99-ratio=1"
    assert t["Servespec-Flags"] == "ignore-bake-time"  # what the decision skipped is on record
    assert res.stderr.splitlines() == [
        f"servespec: error: prod/census-income: gate failed, rolled back to {STABLE} (onFailure: rollback): "
        "gate error-rate-increase: FAILED: value 0.05, expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated",
        f"servespec: error: prod/census-income: rollback committed as {head(repo)[:10]}"]
    pred = isvc(repo)["spec"]["predictor"]
    assert (pred["model"]["storageUri"], pred["canaryTrafficPercent"]) == (STABLE, 0)  # the stable URI, pinned
    assert run_cli("render", "--check", "--root", repo).exit_code == 0
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "overlays/prod.rollout.yaml", "rendered/prod/models/census-income/inferenceservice.yaml"]


@pytest.mark.parametrize("namespace, message", [
    ("ml-errors", "gate error-rate-increase: FAILED: value 0.05, expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated"),
    # twice as slow as stable: refused, where the former absolute 500 ms gate passed (see below)
    ("ml-slow", "gate latency-p99-ratio: FAILED: value 1.999, expected <= 1.5 over 5m; 1 of 1 checks failed, 0 tolerated"),
])
def test_failing_canary_with_hold_commits_nothing(prometheus: str, example_git_repo: Path, namespace: str, message: str) -> None:
    repo = scenario(example_git_repo, namespace, minRequests=50)
    before = head(repo)
    res = promote(repo, prometheus)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.stderr == f"servespec: error: prod/census-income: gate failed, staying at 10%: {message}\n"
    assert untouched(repo, before)


def test_relative_latency_catches_what_the_absolute_gate_missed(prometheus: str) -> None:
    absolute = Gate(name="p99", max=500, query=f'histogram_quantile(0.99, sum by (le) (rate({M.request_latencies}_bucket'
                                                 '{namespace_name="$namespace",$canary}[$window])))')
    ok, (res,) = evaluate_gates(prometheus, [absolute], Target("ml-slow", "census-income", "Knative", CANARY))
    assert ok and res.values == [pytest.approx(199.5)]


def test_old_model_at_3_percent_errors_is_promoted_by_the_relative_gate(prometheus: str, example_git_repo: Path) -> None:
    # the stable pods have no version label (they predate servespec): $stable still selects them
    repo = scenario(example_git_repo, "ml-old", minRequests=50)
    res = promote(repo, prometheus)
    assert res.exit_code == 0, res.stderr
    value = re.search(r"gate error-rate-increase: passed: value (\S+), expected <= 0.01 over 5m", res.stdout)
    assert value and float(value.group(1)) == pytest.approx(0, abs=1e-12)  # 3% - 3%, up to float rounding
    absolute = Gate(name="abs", max=0.01, query=f'sum(rate({M.request_count}{{namespace_name="$namespace",$canary,response_code_class="5xx"}}'
                                                f'[$window])) / sum(rate({M.request_count}{{namespace_name="$namespace",$canary}}[$window]))')
    ok, (res,) = evaluate_gates(prometheus, [absolute], Target("ml-old", "census-income", "Knative", CANARY))
    assert not ok and res.values == [pytest.approx(0.03)]  # the former absolute 1% default could never promote it


# rate() and increase() extrapolate over the few seconds of data this Prometheus has, a little
# differently per target: numbers are matched within that error (a 1% share seen as 0.5-1.5%, 2
# requests counted as 2 to 4); the verdict does not depend on it
@pytest.mark.parametrize("namespace, plan, pattern", [
    ("ml-unsynced", {"minRequests": 50},
     r"prod/census-income: not live yet: the canary served (0\.[5-9]\d*|1|1\.[0-4]\d*)% of the model's requests over the last 5m, the step is 10% "
     r"\(shareTolerance 0\.5: 5-15%\): controllers not synced, a revision still starting, or a deployment mode that ignores the split; "
     r"nothing committed\n"),
    ("ml-silent", {"minRequests": 50},
     r"prod/census-income: not live yet: the canary served 0% of the model's requests over the last 5m, the step is 10% "),
    ("ml-quiet", {"minRequests": 100, "onFailure": "rollback"},
     r"prod/census-income: too little traffic to decide: the canary served [234] requests over the last 5m, minRequests is 100; "
     r"nothing committed\n"),
])
def test_not_decided_yet_exits_3(prometheus: str, example_git_repo: Path, namespace: str, plan: dict, pattern: str) -> None:
    repo = scenario(example_git_repo, namespace, **plan)
    before = head(repo)
    res = promote(repo, prometheus)
    assert res.exit_code == 3, res.stdout + res.stderr
    assert re.match(f"servespec: waiting: {pattern}", res.stderr), res.stderr
    assert untouched(repo, before)


def test_prometheus_down_never_rolls_back(example_git_repo: Path) -> None:
    repo = scenario(example_git_repo, "ml-errors", onFailure="rollback", queryTimeout="2s")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    before = head(repo)
    start = time.monotonic()
    res = promote(repo, url)
    assert time.monotonic() - start < 2
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.stderr.startswith(f"servespec: error: prod/census-income: cannot decide, staying at 10%: cannot query Prometheus at {url}: ")
    assert untouched(repo, before)


def test_range_checks_no_data_policy_and_bad_query(prometheus: str) -> None:
    errors = Target("ml-errors", "census-income", "Knative", CANARY)
    err = Gate(name="errs", query=f'sum(rate({M.request_count}{{namespace_name="$namespace",$canary,response_code_class="5xx"}}[$window]))'
                                  f' / sum(rate({M.request_count}{{namespace_name="$namespace",$canary}}[$window]))',
               max=0.01, window="1m", samples=3, interval="1s")
    ok, (res,) = evaluate_gates(prometheus, [err], errors)
    assert not ok and res.failed == 3 and len(res.values) == 3 and res.decisive
    tolerant = err.model_copy(update={"failure_limit": 2})
    assert not evaluate_gates(prometheus, [tolerant], errors)[0]
    silent = Target("ml-silent", "census-income", "Knative", CANARY)
    ok, (res,) = evaluate_gates(prometheus, [err.model_copy(update={"on_no_data": "pass"})], silent)
    assert ok and res.values == [None, None, None] and res.failed == 0
    ok, (res,) = evaluate_gates(prometheus, [err], silent)
    assert not ok and res.failed == 3 and not res.decisive  # missing data: never a reason to roll back
    with pytest.raises(SpecError, match=r"^gate broken: Prometheus rejected 'sum\(': "):
        evaluate_gates(prometheus, [Gate(name="broken", query="sum(", max=1)], errors)


def _clone(url: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True, env={**os.environ, **GIT_ENV}, capture_output=True)
    return dest


def test_two_scheduled_runs_make_one_rollback(prometheus: str, example_git_repo: Path, bare_remote: Path, tmp_path: Path) -> None:
    scenario(example_git_repo, "ml-errors", minRequests=50, onFailure="rollback")
    git(example_git_repo, "push", "-q", str(bare_remote), "main")
    clones = [_clone(f"file://{bare_remote}", tmp_path / name) for name in ("a", "b")]
    procs = [subprocess.Popen([SERVESPEC, "promote", "--all", "--env", "prod", "--prometheus", prometheus, "--ignore-bake-time",
                               "--push", "--root", str(c), "--author", f"{c.name} <{c.name}@servespec.invalid>"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV})
             for c in clones]
    outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [1, 1], outs
    log = git(bare_remote, "log", "--format=%s", "main").splitlines()
    assert [s for s in log if s.startswith("rollback(")] == [f"rollback(prod/census-income): 10% -> 0%, all traffic to {STABLE}"]
    assert log[0].startswith("rollback(")
    state = yaml.safe_load(git(bare_remote, "show", "main:overlays/prod.rollout.yaml"))["models"]["census-income"]
    assert (state["phase"], state["stable"], state["rolledBack"]) == ("rolled-back", STABLE, CANARY)
    lines = sorted(out[0].strip() for out in outs)
    assert lines[0].startswith("prod/census-income: failed: prod/census-income changed upstream while this rollback ran: "
                               f"now rolled-back {CANARY} (stable {STABLE})"), outs
    assert re.match(r"^prod/census-income: rolled-back: error-rate-increase 0.05 > 0.01 over 5m: all traffic to "
                    rf"{re.escape(STABLE)} \[[0-9a-f]{{10}}\], pushed \(\d attempts?\)$", lines[1]), outs
    for c in clones:
        assert git(c, "status", "--porcelain", "--untracked-files=no") == ""
