"""Gates against a real Prometheus (Debian's /usr/bin/prometheus) scraping exporters that serve
KServe/Knative-shaped queue-proxy metrics, one exporter per revision (like one pod each).

Prometheus attaches the version label to every series of a target, as a PodMonitor's
``podTargetLabels`` copies the ``serving.servespec.io/version`` pod label in a cluster. The
stable revision serves 90% of the traffic and is healthy, so a gate that looked at the whole
service instead of the canary's series would let a failing canary through.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import git, run_cli
from servespec.errors import SpecError
from servespec.rollout.gates import evaluate_gates
from servespec.metrics import DEFAULT_METRICS as M, version_id
from servespec.spec import Gate

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Like the promtool tests: skipped, not errors, on a machine without Debian's prometheus (.ci/run installs it).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")]
NS = "ml-prod"
STABLE = "s3://census-income/serving_model"
GOOD, ERRORS, SLOW, SILENT = (f"s3://census-income/v2-{k}" for k in ("good", "errors", "slow", "silent"))
# version -> (requests per second, share of 5xx, latency in ms)
PROFILES = {STABLE: (900.0, 0.0, 20.0), GOOD: (100.0, 0.002, 40.0), ERRORS: (100.0, 0.05, 40.0), SLOW: (100.0, 0.0, 800.0)}
BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QueueProxyCollector:
    """``revision_app_request_count`` and ``revision_app_request_latencies`` (ms) of one revision,
    growing with time, under their exact exported names (no ``_total`` suffix)."""

    def __init__(self, revision: str, rps: float, errors: float, latency_ms: float):
        self.revision, self.rps, self.errors, self.latency = revision, rps, errors, latency_ms
        self.t0 = time.monotonic() - 1

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        n = self.rps * (time.monotonic() - self.t0)
        labels = ["namespace_name", "revision_name", "configuration_name", "service_name"]
        values = [NS, self.revision, "census-income-predictor", "census-income-predictor"]
        count = GaugeMetricFamily(M.request_count, "requests by response code class", labels=[*labels, M.response_code_class_label])
        count.add_metric([*values, "2xx"], n * (1 - self.errors))
        if self.errors:
            count.add_metric([*values, "5xx"], n * self.errors)
        yield count
        hist = HistogramMetricFamily(M.request_latencies, "request latency in ms", labels=labels)
        hist.add_metric(values, [(str(b), n if self.latency <= b else 0.0) for b in BUCKETS] + [("+Inf", n)], n * self.latency)
        yield hist


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    """One Prometheus for the module, scraping one exporter per revision every second."""
    from prometheus_client import CollectorRegistry, start_http_server

    tmp = tmp_path_factory.mktemp("prometheus")
    servers, targets = [], []
    for i, (uri, (rps, err, lat)) in enumerate(PROFILES.items(), start=1):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(QueueProxyCollector(f"census-income-predictor-{i:05d}", rps, err, lat))
        port = free_port()
        server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
        servers.append(server)
        targets.append(f"      - targets: ['127.0.0.1:{port}']\n        labels: {{{M.version_label}: {version_id(uri)}}}\n")
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: queue-proxy\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n"
        + "".join(targets))
    port = free_port()
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=(log := open(tmp / "prometheus.log", "w")))
    url = f"http://127.0.0.1:{port}"
    try:
        # ready when the rate of every revision is computable (first scrape lands after ~5.4 s)
        query = f"count(rate({M.request_count}{{response_code_class=\"2xx\"}}[1m]) > 0)"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=2) as r:
                    result = json.loads(r.read())["data"]["result"]
                if result and float(result[0]["value"][1]) == len(PROFILES):
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
        import threading

        stoppers = [threading.Thread(target=s.shutdown) for s in servers]  # each waits up to 0.5 s
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(timeout=5)
        for server in servers:
            server.server_close()


def released(repo: Path, uri: str) -> None:
    res = run_cli("release", "census-income", "--env", "prod", "--storage-uri", uri, "--root", repo)
    assert res.exit_code == 0, res.stderr


def promote(repo: Path, url: str):
    return run_cli("promote", "census-income", "--env", "prod", "--prometheus", url, "--ignore-bake-time", "--root", repo)


def test_healthy_canary_promotes(prometheus: str, example_git_repo: Path) -> None:
    released(example_git_repo, GOOD)
    res = promote(example_git_repo, prometheus)
    assert res.exit_code == 0, res.stderr
    assert "promote(prod/census-income): 10% -> 25% (step 2/4)" in res.stdout
    assert "gate error-rate: passed: value 0.002, expected <= 0.01 over 5m; 0 of 1 checks failed, 0 tolerated" in res.stdout
    msg = git(example_git_repo, "log", "-1", "--format=%B")
    assert "Servespec-Gates: error-rate=0.002 latency-p99=" in msg and "Servespec-Flags: ignore-bake-time" in msg
    st = json.loads(run_cli("status", "--env", "prod", "--output", "json", "--root", example_git_repo).stdout)[0]
    assert st["last_gate"]["result"] == "passed" and st["traffic_percent"] == 25


@pytest.mark.parametrize("uri, message", [
    (ERRORS, "gate error-rate: FAILED: value 0.05, expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated"),
    (SLOW, "gate latency-p99: FAILED: value 995, expected <= 500 over 5m; 1 of 1 checks failed, 0 tolerated"),
    (SILENT, "gate error-rate: FAILED: value no data, expected <= 0.01 over 5m; 1 of 1 checks failed, 0 tolerated; 1 without data (onNoData: fail)"),
])
def test_failing_canary_is_refused_with_its_numbers(prometheus: str, example_git_repo: Path, uri: str, message: str) -> None:
    released(example_git_repo, uri)
    before = git(example_git_repo, "rev-parse", "HEAD")
    res = promote(example_git_repo, prometheus)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert f"servespec: error: prod/census-income: gate failed, staying at 10%: {message}" in res.stderr
    assert git(example_git_repo, "rev-parse", "HEAD") == before
    assert git(example_git_repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_range_checks_no_data_policy_and_bad_query(prometheus: str) -> None:
    err = Gate(name="errs", query=f'sum(rate({M.request_count}{{$canary,response_code_class="5xx"}}[$window]))'
                                  f' / sum(rate({M.request_count}{{$canary}}[$window]))',
               max=0.01, window="1m", samples=3, interval="1s")
    ok, (res,) = evaluate_gates(prometheus, [err], NS, "census-income", ERRORS)
    assert not ok and res.failed == 3 and len(res.values) == 3
    tolerant = err.model_copy(update={"failure_limit": 2})
    assert not evaluate_gates(prometheus, [tolerant], NS, "census-income", ERRORS)[0]
    silent = err.model_copy(update={"on_no_data": "pass"})
    ok, (res,) = evaluate_gates(prometheus, [silent], NS, "census-income", SILENT)
    assert ok and res.values == [None, None, None] and res.failed == 0
    with pytest.raises(SpecError, match=r"gate broken: Prometheus rejected 'sum\(' : |gate broken: Prometheus rejected 'sum\('"):
        evaluate_gates(prometheus, [Gate(name="broken", query="sum(", max=1)], NS, "census-income", GOOD)
