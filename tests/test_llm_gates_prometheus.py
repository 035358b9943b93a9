"""The LLM gates' PromQL (``promql.default_llm_gate_queries``, ``cache_gate_query``) against a real
Prometheus scraping fake vLLM exporters: one per service (stable ``chat``, canary ``chat-canary``)
in one namespace per scenario, labelled as the PodMonitor labels a pod's series
(``app_kubernetes_io_name``, ``namespace``). A canary whose TTFT or error share is worse than
stable's fails its gate; a canary like stable passes; the cache gate holds until every node has
the candidate's model."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_gates_prometheus import free_port
from servespec.metrics import DEFAULT_LLM_METRICS as M, version_id
from servespec.promql import cache_gate_query, default_llm_gate_queries, llm_fill

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="needs Debian's prometheus (apt-get install prometheus)")]
CANDIDATE = "hf://Qwen/Qwen2.5-1.5B-Instruct"
BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
# namespace -> {service: (requests per second, share of errors, TTFT seconds, time per output token seconds)}
SCENARIOS = {
    "ns-good": {"chat": (20.0, 0.0, 0.08, 0.02), "chat-canary": (5.0, 0.0, 0.08, 0.02)},
    "ns-slow": {"chat": (20.0, 0.0, 0.08, 0.02), "chat-canary": (5.0, 0.0, 0.4, 0.02)},
    "ns-errors": {"chat": (20.0, 0.0, 0.08, 0.02), "chat-canary": (5.0, 0.2, 0.08, 0.02)},
}


class VLLMCollector:
    """vLLM's request counter and latency histograms of one service's pod, growing with time."""

    def __init__(self, rps: float, errors: float, ttft: float, tpot: float):
        self.rps, self.errors, self.ttft, self.tpot = rps, errors, ttft, tpot
        self.t0 = time.monotonic() - 1

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        n = self.rps * (time.monotonic() - self.t0)
        done = GaugeMetricFamily(M.requests_finished, "finished requests", labels=["model_name", M.finished_reason_label])
        done.add_metric(["qwen", "stop"], n * (1 - self.errors))
        done.add_metric(["qwen", M.error_reason], n * self.errors)
        yield done
        for name, value in ((M.time_to_first_token, self.ttft), (M.time_per_output_token, self.tpot)):
            hist = HistogramMetricFamily(name, name, labels=["model_name"])
            hist.add_metric(["qwen"], [(str(b), n if value <= b else 0.0) for b in BUCKETS] + [("+Inf", n)], n * value)
            yield hist


class CacheCollector:
    """What kube-state-metrics exports for two LocalModel caches: one on every node, one downloading."""

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import GaugeMetricFamily

        for metric, values in ((M.cache_available, (2, 1)), (M.cache_total, (2, 2))):
            g = GaugeMetricFamily(metric, metric, labels=[M.cache_name_label])
            g.add_metric([f"chat-{version_id('hf://ready/model')}"], values[0])
            g.add_metric([f"chat-{version_id(CANDIDATE)}"], values[1])
            yield g


def _serve_text(registry: object) -> tuple[ThreadingHTTPServer, int]:
    """Serve ``registry`` in the classic text format whatever the scraper accepts: vLLM's names
    keep their colons (prometheus_client's OpenMetrics output escapes them to underscores when the
    scraper does not ask for UTF-8 names, which Prometheus 2.42 does not)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = generate_latest(registry)  # type: ignore[arg-type]
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def prometheus(llm_prometheus: str) -> str:
    """The URL of the session's Prometheus scraping the exporters of :data:`SCENARIOS`."""
    return llm_prometheus


def serve_llm_prometheus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Start a Prometheus scraping one fake vLLM exporter per service of :data:`SCENARIOS` (and
    kube-state-metrics' cache series); yield its URL once every exporter's rate is computable; stop
    it all. conftest's session fixture ``llm_prometheus`` runs it once for this module and
    tests/test_llm_rollout_prometheus.py (module-scoped, each module waited ~7 s for its own)."""
    from prometheus_client import CollectorRegistry

    tmp = tmp_path_factory.mktemp("prometheus-llm")
    servers, targets = [], []
    exporters = [(ns, svc, VLLMCollector(*p)) for ns, members in SCENARIOS.items() for svc, p in members.items()]
    for ns, svc, collector in [*exporters, ("kube-system", "kube-state-metrics", CacheCollector())]:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        server, port = _serve_text(registry)
        servers.append(server)
        targets.append(f"      - targets: ['127.0.0.1:{port}']\n        labels: {{{M.target_namespace_label}: {ns}, {M.member_label}: {svc}}}\n")
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: vllm\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n" + "".join(targets))
    port = free_port()
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=(log := open(tmp / "prometheus.log", "w")))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _query(url, f"count(rate({M.requests_finished}{{finished_reason=\"stop\"}}[1m]) > 0)") != len(exporters):
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
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


def _query(url: str, query: str) -> float | None:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=2) as r:
            body = json.loads(r.read())
    except OSError:
        return None
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _gates(url: str, namespace: str) -> dict[str, tuple[float | None, bool]]:
    """Each default gate's value for the canary of ``namespace`` and whether it passes (<= max)."""
    out = {}
    for gate in default_llm_gate_queries():
        value = _query(url, llm_fill(gate.query, namespace, "chat", "1m", CANDIDATE))
        out[gate.name] = (value, value is not None and value <= gate.max)
    return out


def test_a_canary_like_stable_passes_every_gate(prometheus: str) -> None:
    gates = _gates(prometheus, "ns-good")
    assert {k: ok for k, (_, ok) in gates.items()} == {"error-rate": True, "ttft-vs-stable": True, "tpot-vs-stable": True}
    assert gates["error-rate"][0] == 0 and gates["ttft-vs-stable"][0] == pytest.approx(1.0)


def test_a_canary_with_a_worse_ttft_than_stable_is_held(prometheus: str) -> None:
    gates = _gates(prometheus, "ns-slow")
    value, ok = gates["ttft-vs-stable"]
    assert not ok and value is not None and value > 4  # p99 in (0.25, 0.5] against (0.05, 0.1]
    assert gates["error-rate"][1] and gates["tpot-vs-stable"][1]


def test_a_canary_that_fails_requests_is_held(prometheus: str) -> None:
    value, ok = _gates(prometheus, "ns-errors")["error-rate"]
    assert not ok and value == pytest.approx(0.2, rel=0.05)


def test_the_cache_gate_waits_for_every_node(prometheus: str) -> None:
    gate = cache_gate_query()
    assert _query(prometheus, llm_fill(gate.query, "ml-prod", "chat", "1m", CANDIDATE)) == 0.5  # 1 of 2 nodes: hold
    assert _query(prometheus, llm_fill(gate.query, "ml-prod", "chat", "1m", "hf://ready/model")) == 1.0  # every node: go
