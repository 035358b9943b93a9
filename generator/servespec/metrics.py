"""Every Prometheus metric and label name servespec uses, in one place (KSERVE.md §8).

Alert rules (``emit/monitoring.py``), dashboards (``emit/dashboards.py``) and scrape configs all
take their names from a :class:`MetricNames`: the defaults below are what KServe and Knative
expose today, and an environment overrides any of them under ``monitoring.metrics`` in its
overlay (Knative 1.19+ is moving queue-proxy metrics to OpenTelemetry names, and other model
servers than KServe's Python one export their own).

Where each name comes from (its *source*) decides which scrape endpoint must exist for it:

- ``queue-proxy``: Knative's queue-proxy sidecar, port ``http-usermetric`` (9091), Knative mode only.
- ``model-server``: the ``kserve-container`` (KServe's Python servers: ``GET :8080/metrics``).
- ``target``: synthesised by Prometheus for every scrape target (``up``).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "MetricNames",
    "DEFAULT_METRICS",
    "version_id",
    "SOURCES",
    "QUEUE_PROXY_PORT_NAME",
    "QUEUE_PROXY_PORT",
    "MODEL_SERVER_PORT",
    "MODEL_SERVER_PATH",
    "AGGREGATED_PORT",
    "LLMMetricNames",
    "DEFAULT_LLM_METRICS",
    "VLLM_PORT",
]

QUEUE_PROXY_PORT_NAME = "http-usermetric"
"""Name of the queue-proxy container port serving user metrics (Knative)."""
QUEUE_PROXY_PORT = 9091
"""Its number."""
MODEL_SERVER_PORT = 8080
"""Port of KServe's model servers' ``/metrics`` (runtimes: triton 8002, torchserve 8082; a model
overrides it with the ``prometheus.kserve.io/port`` annotation)."""
MODEL_SERVER_PATH = "/metrics"
"""Path of the model server's metrics."""
AGGREGATED_PORT = 9088
"""Port where KServe's qpext serves queue-proxy and model-server metrics together."""


class MetricNames(BaseModel):
    """Metric and label names (overlay key ``monitoring.metrics``; every field optional).

    Configured like ``spec.base.SpecModel`` (strict, closed, camelCase aliases); not derived
    from it so that this module imports nothing of ``servespec.spec``, which imports it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, alias_generator=to_camel,
                              validate_by_name=True, validate_by_alias=True, defer_build=True)

    request_count: str = "revision_app_request_count"
    """Queue-proxy counter of requests the model's container answered, by
    ``response_code_class`` (OpenCensus era; older Knative and OpenShift Serverless spell it
    ``app_request_count``). The app-level series, not ``revision_request_count``, so that a
    canary is judged by what its model answered, not by queue-proxy's own overload 503s."""
    request_latencies: str = "revision_app_request_latencies"
    """Queue-proxy latency histogram of the model's container (``_bucket`` is appended)."""
    request_latencies_unit: Literal["ms", "s"] = "ms"
    """Unit of ``request_latencies``: milliseconds today, seconds for OpenTelemetry names."""
    predict_seconds: str = "request_predict_seconds"
    """KServe model server's predict-time histogram, in seconds."""
    preprocess_seconds: str = "request_preprocess_seconds"
    """KServe model server's pre-processing histogram, in seconds."""
    postprocess_seconds: str = "request_postprocess_seconds"
    """KServe model server's post-processing histogram, in seconds."""
    explain_seconds: str = "request_explain_seconds"
    """KServe model server's explain histogram, in seconds."""
    up: str = "up"
    """Prometheus' per-target health series: one per scraped pod (replicas)."""
    namespace_label: str = "namespace_name"
    """Namespace label of queue-proxy series (exported by Knative itself)."""
    target_namespace_label: str = "namespace"
    """Target label holding the pod's namespace (prometheus-operator and the usual
    ``kubernetes-pods`` annotation job both set it)."""
    pod_label: str = "pod"
    """Target label holding the pod's name."""
    service_label: str = "service_name"
    """Queue-proxy label naming the Knative Service (``<isvc>-predictor``)."""
    revision_label: str = "revision_name"
    """Label naming the Knative revision: set by queue-proxy, and copied from the pod label
    ``serving.knative.dev/revision`` onto every target by the rendered PodMonitor (annotation
    scraping with the ``kubernetes-pods`` job's labelmap: ``serving_knative_dev_revision``)."""
    response_code_class_label: str = "response_code_class"
    """Queue-proxy label with the response class."""
    error_class: str = "5xx"
    """Value of ``response_code_class_label`` counted as an error."""
    model_name_label: str = "model_name"
    """Model server label naming the model (KServe's Python servers: the InferenceService name)."""

    version_pod_label: str = "serving.servespec.io/version"
    """Pod label identifying a model version (when predictors carry it), copied onto every
    scraped series by the PodMonitor (``podTargetLabels``), so that queries can tell canary from
    stable by version as well as by revision."""
    version_label: str = "serving_servespec_io_version"
    """The series label that pod label becomes (Prometheus sanitises the name)."""

    @property
    def latency_scale_ms(self) -> float:
        """Milliseconds per unit of ``request_latencies``."""
        return 1.0 if self.request_latencies_unit == "ms" else 1000.0


SOURCES: dict[str, Literal["queue-proxy", "model-server", "target"]] = {
    "request_count": "queue-proxy",
    "request_latencies": "queue-proxy",
    "predict_seconds": "model-server",
    "up": "target",
}
"""Which scrape endpoint produces each metric field of :class:`MetricNames`."""


DEFAULT_METRICS = MetricNames()
"""The names KServe and Knative expose today."""


def version_id(storage_uri: str) -> str:
    """A short, label-safe id of a model version (its storage URI): the value of
    ``version_pod_label`` on the pods of that version, so gates can select the canary."""
    return "v" + hashlib.sha256(storage_uri.encode("utf-8")).hexdigest()[:12]


# -- LLMs (LLMInferenceService: vLLM's own metrics) ----------------------------------------------

VLLM_PORT = 8000
"""Port of vLLM's API server and ``/metrics`` in KServe's LLM presets (``containerPort: 8000``)."""


class LLMMetricNames(BaseModel):
    """Metric and label names of an LLM (spec key ``monitoring.metrics`` of an ``LLM``).

    The defaults are what the vLLM in the presets of KServe 0.17 … 0.20 exports (llm-d images;
    KServe 0.20 pins ``ghcr.io/llm-d/llm-d-cuda:v0.8.0`` with a tokenizer built for vLLM 0.19.1):
    ``vllm:kv_cache_usage_perc``, not ``vllm:gpu_cache_usage_perc`` (deprecated in 0.10, removed by
    vllm-project/vllm#29330), and ``vllm:inter_token_latency_seconds`` for the time per output
    token, not ``vllm:time_per_output_token_seconds`` (deprecated in 0.11 by vllm#24110, removed by
    vllm#32661). An LLM running an older vLLM sets the old names here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, alias_generator=to_camel,
                              validate_by_name=True, validate_by_alias=True, defer_build=True)

    time_to_first_token: str = "vllm:time_to_first_token_seconds"
    """Histogram of the time to first token, in seconds (``_bucket`` is appended)."""
    time_per_output_token: str = "vllm:inter_token_latency_seconds"
    """Histogram of the time between output tokens, in seconds."""
    e2e_latency: str = "vllm:e2e_request_latency_seconds"
    """Histogram of the end-to-end request latency, in seconds."""
    requests_finished: str = "vllm:request_success_total"
    """Counter of finished requests, by ``finished_reason`` (stop, length, abort, error)."""
    finished_reason_label: str = "finished_reason"
    """Label of ``requests_finished`` saying why a request finished."""
    error_reason: str = "error"
    """Value of ``finished_reason_label`` counted as an error (vLLM answers those with a 500)."""
    requests_waiting: str = "vllm:num_requests_waiting"
    """Gauge of requests queued in the engine (queue depth)."""
    requests_running: str = "vllm:num_requests_running"
    """Gauge of requests in the running batch."""
    kv_cache_usage: str = "vllm:kv_cache_usage_perc"
    """Gauge of KV-cache use, 0 to 1."""
    generation_tokens: str = "vllm:generation_tokens_total"
    """Counter of generated tokens."""
    prompt_tokens: str = "vllm:prompt_tokens_total"
    """Counter of prompt (prefill) tokens."""
    target_namespace_label: str = "namespace"
    """Target label holding the pod's namespace."""
    member_pod_label: str = "app.kubernetes.io/name"
    """Pod label KServe puts on an LLMInferenceService's workload pods: the service's name, so
    stable (``<llm>``) and canary (``<llm>-canary``) pods are told apart."""
    member_label: str = "app_kubernetes_io_name"
    """The series label that pod label becomes (the PodMonitor copies it onto every series)."""
    cache_available: str = "kserve_localmodel_copies_available"
    """Nodes holding a LocalModelCache's model (kube-state-metrics custom-resource metric from
    ``status.copies.available``; docs/serving-llms.md has its configuration)."""
    cache_total: str = "kserve_localmodel_copies_total"
    """Nodes that should hold it (``status.copies.total``)."""
    cache_name_label: str = "name"
    """Label of the cache metrics naming the cache object."""


DEFAULT_LLM_METRICS = LLMMetricNames()
"""The names the pinned vLLM exports."""
