"""Names of the Prometheus metrics and labels servespec queries and renders, in one place.

Shared by the rollout gates (``gates.py``, default gates in ``spec/rollout.py``) and the
observability objects (scrape configs, alerts, dashboards). Sources: KSERVE.md §8.

- Knative queue-proxy (Knative mode only; OpenCensus-era names, port 9091):
  ``revision_app_request_count`` (counter, labels ``namespace_name``, ``revision_name``,
  ``response_code_class``, ...) and ``revision_app_request_latencies`` (histogram, milliseconds).
- KServe's Python model servers (any mode): ``request_predict_seconds`` (histogram, seconds,
  label ``model_name``) and its pre/post-process and explain siblings.
- ``version_pod_label``: a pod label servespec renders on every predictor it manages
  (``spec.predictor.labels``); its value identifies the model version (see ``version_id``), so
  the canary revision's pods carry a different value than the stable revision's. Scrape configs
  copy it onto every series as ``version_label`` (a PodMonitor's ``podTargetLabels``), which is
  how gates select the canary revision instead of the whole service.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["MetricNames", "DEFAULT_METRICS", "version_id"]


@dataclass(frozen=True)
class MetricNames:
    """Metric and label names; one instance per cluster flavour (overridable per env later)."""

    request_count: str = "revision_app_request_count"
    request_latencies: str = "revision_app_request_latencies"
    """Histogram in milliseconds: series ``<name>_bucket``, ``_sum``, ``_count``."""
    predict_seconds: str = "request_predict_seconds"
    preprocess_seconds: str = "request_preprocess_seconds"
    postprocess_seconds: str = "request_postprocess_seconds"
    explain_seconds: str = "request_explain_seconds"
    namespace_label: str = "namespace_name"
    """Namespace label of queue-proxy series (exported by Knative itself)."""
    target_namespace_label: str = "namespace"
    """Namespace label Prometheus' Kubernetes discovery adds (model-server series)."""
    revision_label: str = "revision_name"
    response_code_class_label: str = "response_code_class"
    model_name_label: str = "model_name"
    version_pod_label: str = "serving.servespec.io/version"
    version_label: str = "serving_servespec_io_version"


DEFAULT_METRICS = MetricNames()


def version_id(storage_uri: str) -> str:
    """A short, label-safe id of a model version (its storage URI)."""
    return "v" + hashlib.sha256(storage_uri.encode("utf-8")).hexdigest()[:12]
