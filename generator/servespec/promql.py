"""The one PromQL builder: alert rules, dashboards and the default rollout gates all come from here.

:class:`Queries` builds the expressions of one model, :class:`GroupQueries` those of several models
of one namespace (the overview dashboard), :func:`default_gate_queries` the gates' defaults and
:func:`fill` the gates' ``$placeholders``; every metric and label name comes from the environment's
:class:`~servespec.metrics.MetricNames`.

Knative mode reads Knative's queue-proxy (requests, errors, end-to-end latency per revision);
Standard mode has no queue-proxy, so requests and latency come from the model server's predict
histogram and there is no error ratio.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from string import Template

from .metrics import DEFAULT_LLM_METRICS, DEFAULT_METRICS, LLMMetricNames, MetricNames, version_id

__all__ = ["Queries", "GroupQueries", "LIST_LIMIT", "PLACEHOLDERS", "DefaultGate", "default_gate_queries", "fill", "num", "TrafficQueries",
           "traffic_queries", "stable_matcher",
           "LLMQueries", "LLM_PLACEHOLDERS", "default_llm_gate_queries", "cache_gate_query", "llm_fill"]

PLACEHOLDERS = ("namespace", "model", "window", "version", "canary", "stable")
"""Placeholders a gate query may use (``string.Template`` syntax, since PromQL uses braces)."""


def num(value: float) -> str:
    """A threshold as PromQL and messages print it (``0.01``, ``500``)."""
    return f"{value:g}"


def _agg(op: str, by: Iterable[str], inner: str) -> str:
    labels = ", ".join(by)
    return f"{op} by ({labels}) ({inner})" if labels else f"{op}({inner})"


@dataclass(frozen=True)
class Queries:
    """PromQL for one model in one namespace, from the environment's metric names.

    Knative mode reads Knative's queue-proxy (requests, errors, end-to-end latency per
    revision); Standard mode has no queue-proxy, so requests and latency come from the model
    server's predict histogram and there is no error ratio.
    """

    model: str
    """The model's name."""
    deployment_mode: str
    """``Knative`` or ``Standard``."""
    namespace: str
    m: MetricNames

    @property
    def knative(self) -> bool:
        return self.deployment_mode == "Knative"

    @property
    def service(self) -> str:
        """Knative Service (and Deployment name prefix) of the predictor."""
        return f"{self.model}-predictor"

    def _qp(self, *extra: str) -> str:
        m = self.m
        return "{" + ",".join([f'{m.target_namespace_label}="{self.namespace}"', f'{m.service_label}="{self.service}"', *extra]) + "}"

    def _ms(self) -> str:
        m = self.m
        return "{" + f'{m.target_namespace_label}="{self.namespace}",{m.model_name_label}="{self.model}"' + "}"

    def _pods(self) -> str:
        m = self.m
        return "{" + f'{m.target_namespace_label}="{self.namespace}",{m.pod_label}=~"{self.service}-.*"' + "}"

    def request_rate(self, window: str, by: tuple[str, ...] = ()) -> str:
        """Requests per second."""
        if self.knative:
            return _agg("sum", by, f"rate({self.m.request_count}{self._qp()}[{window}])")
        return _agg("sum", by, f"rate({self.m.predict_seconds}_count{self._ms()}[{window}])")

    def error_ratio(self, window: str, by: tuple[str, ...] = ()) -> str | None:
        """Share of requests answered with an error (Knative mode only)."""
        if not self.knative:
            return None
        m = self.m
        error_matcher = f'{m.response_code_class_label}="{m.error_class}"'
        errors = _agg("sum", by, f"rate({m.request_count}{self._qp(error_matcher)}[{window}])")
        return f"{errors} / {self.request_rate(window, by)}"

    def latency_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A request-latency quantile, in :meth:`latency_unit`."""
        if self.knative:
            inner = f"rate({self.m.request_latencies}_bucket{self._qp()}[{window}])"
        else:
            inner = f"rate({self.m.predict_seconds}_bucket{self._ms()}[{window}])"
        return f"histogram_quantile({num(q)}, {_agg('sum', ('le', *by), inner)})"

    @property
    def latency_unit(self) -> str:
        """``ms`` or ``s``: the unit of :meth:`latency_quantile`."""
        return self.m.request_latencies_unit if self.knative else "s"

    def ms_to_latency_unit(self, ms: float) -> float:
        """A threshold in milliseconds, in the unit of :meth:`latency_quantile`."""
        return ms if self.latency_unit == "ms" else ms / 1000.0

    def predict_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A quantile of the model server's predict time, in seconds."""
        inner = f"rate({self.m.predict_seconds}_bucket{self._ms()}[{window}])"
        return f"histogram_quantile({num(q)}, {_agg('sum', ('le', *by), inner)})"

    def replicas(self, by: tuple[str, ...] = ()) -> str:
        """Pods of the predictor whose metrics are being scraped (one ``up`` series per target)."""
        per_pod = _agg("count", (*by, self.m.pod_label), f"{self.m.up}{self._pods()} == 1")
        return _agg("count", by, per_pod)


LIST_LIMIT = 200
"""The most models an overview query names; past it, it selects every model of the namespace."""


@dataclass(frozen=True)
class GroupQueries:
    """PromQL over several models of one namespace and one deployment mode, one series per
    model, labelled ``model`` (the overview dashboard: two targets per panel at most, whatever
    the number of models)."""

    models: tuple[str, ...]
    """The models' names."""
    deployment_mode: str
    """``Knative`` or ``Standard`` (all models of a group share it)."""
    namespace: str
    m: MetricNames

    @property
    def knative(self) -> bool:
        return self.deployment_mode == "Knative"

    def _names(self, suffix: str = "") -> str:
        """The models as a regex alternation; every name of the namespace (``.+``) past
        :data:`LIST_LIMIT` models, so that the overview's size does not grow with the models
        (listed, 10,400 models would push its ConfigMap past Kubernetes' 1 MiB)."""
        if len(self.models) > LIST_LIMIT:
            return f".+{suffix}"
        return "|".join(f"{model}{suffix}" for model in self.models)

    def _by_model(self, expr: str) -> str:
        """``expr`` with a ``model`` label (from the Knative service name or the model label)."""
        if self.knative:
            return f'label_replace({expr}, "model", "$1", "{self.m.service_label}", "(.+)-predictor")'
        return f'label_replace({expr}, "model", "$1", "{self.m.model_name_label}", "(.+)")'

    @property
    def _key(self) -> str:
        return self.m.service_label if self.knative else self.m.model_name_label

    def _sel(self, *extra: str) -> str:
        m = self.m
        if self.knative:
            base = [f'{m.target_namespace_label}="{self.namespace}"', f'{m.service_label}=~"{self._names("-predictor")}"']
        else:
            base = [f'{m.target_namespace_label}="{self.namespace}"', f'{m.model_name_label}=~"{self._names()}"']
        return "{" + ",".join([*base, *extra]) + "}"

    def _rate(self, window: str, *extra: str) -> str:
        if self.knative:
            return _agg("sum", (self._key,), f"rate({self.m.request_count}{self._sel(*extra)}[{window}])")
        return _agg("sum", (self._key,), f"rate({self.m.predict_seconds}_count{self._sel(*extra)}[{window}])")

    def request_rate(self, window: str) -> str:
        """Requests per second of each model."""
        return self._by_model(self._rate(window))

    def error_ratio(self, window: str) -> str | None:
        """Error ratio of each model (Knative mode only)."""
        if not self.knative:
            return None
        return self._by_model(f"{self._rate(window, self._error())} / {self._rate(window)}")

    def _error(self) -> str:
        return f'{self.m.response_code_class_label}="{self.m.error_class}"'

    def latency_p99_seconds(self, window: str) -> str:
        """p99 latency of each model, in seconds."""
        if self.knative:
            inner = f"rate({self.m.request_latencies}_bucket{self._sel()}[{window}])"
            scale = "" if self.m.request_latencies_unit == "s" else " / 1000"
        else:
            inner = f"rate({self.m.predict_seconds}_bucket{self._sel()}[{window}])"
            scale = ""
        return self._by_model(f"histogram_quantile(0.99, {_agg('sum', ('le', self._key), inner)}){scale}")

    def replicas(self) -> str:
        """Scraped pods of each model."""
        m = self.m
        up = (f'label_replace({m.up}{{{m.target_namespace_label}="{self.namespace}",{m.pod_label}=~"({self._names()})-predictor-.*"}} == 1, '
              f'"model", "$1", "{m.pod_label}", "(.+)-predictor-.*")')
        return _agg("count", ("model",), _agg("count", ("model", m.pod_label), up))


@dataclass(frozen=True)
class DefaultGate:
    """A default gate: its name, PromQL template (with ``$placeholders``) and upper bound."""

    name: str
    query: str
    max: float


def default_gate_queries(deployment_mode: str, m: MetricNames = DEFAULT_METRICS, *, error_margin: float = 0.01,
                         latency_factor: float = 1.5) -> list[DefaultGate]:
    """Gates comparing the canary with the stable revision (``$canary`` with ``$stable``), on what
    KServe/Knative actually export, with the thresholds of the model's canary alerts
    (``Monitoring.canary``: ``error_margin``, ``latency_factor``).

    Knative mode: ``error-rate-increase``, the canary's 5xx share of queue-proxy's
    ``revision_app_request_count`` minus stable's (<= ``error_margin``; no 5xx series counts as 0,
    no requests as no data), and ``latency-p99-ratio``, the canary's p99
    ``revision_app_request_latencies`` over stable's (<= ``latency_factor``). Standard mode has no
    queue-proxy: ``latency-p99-ratio`` of the model server's ``request_predict_seconds``.

    Why relative (``bench/gate_defaults.py``; README "Canary rollouts"): an absolute 1% error
    ceiling can never pass a model whose stable revision already fails 3% of requests, and an
    absolute 500 ms p99 passes a canary twice as slow as a 130 ms stable one; at the same
    sample sizes the relative gates fail healthy canaries no more often.
    """
    if deployment_mode == "Knative":
        def ratio(sel: str) -> str:
            errors = f'{m.request_count}{{{m.namespace_label}="$namespace",{sel},{m.response_code_class_label}="{m.error_class}"}}'
            count = f'{m.request_count}{{{m.namespace_label}="$namespace",{sel}}}'
            return f"((sum(rate({errors}[$window])) or vector(0)) / sum(rate({count}[$window])))"

        def p99(sel: str) -> str:
            return f'histogram_quantile(0.99, sum by (le) (rate({m.request_latencies}_bucket{{{m.namespace_label}="$namespace",{sel}}}[$window])))'

        return [DefaultGate("error-rate-increase", f"{ratio('$canary')} - {ratio('$stable')}", error_margin),
                DefaultGate("latency-p99-ratio", f"{p99('$canary')} / {p99('$stable')}", latency_factor)]

    def predict_p99(sel: str) -> str:
        return f'histogram_quantile(0.99, sum by (le) (rate({m.predict_seconds}_bucket{{{m.target_namespace_label}="$namespace",{sel}}}[$window])))'

    return [DefaultGate("latency-p99-ratio", f"{predict_p99('$canary')} / {predict_p99('$stable')}", latency_factor)]


def _canary(candidate_uri: str, m: MetricNames) -> str:
    return f'{m.version_label}="{version_id(candidate_uri)}"'


def stable_matcher(deployment_mode: str, model: str, candidate_uri: str, m: MetricNames = DEFAULT_METRICS) -> str:
    """``$stable``: the model's series that are not the canary's. The model is selected by what
    its series carry whether or not their pods have servespec's version label (stable pods may
    predate it): queue-proxy's service name in Knative mode, the model server's model name in
    Standard mode; a series without the version label is not the canary's."""
    model_sel = f'{m.service_label}="{model}-predictor"' if deployment_mode == "Knative" else f'{m.model_name_label}="{model}"'
    return f'{model_sel},{m.version_label}!="{version_id(candidate_uri)}"'


@dataclass(frozen=True)
class TrafficQueries:
    """What says whether a canary can be judged: its share of the model's requests (a fraction)
    and the number of requests it served, both over the gate window."""

    share: str
    requests: str


def traffic_queries(deployment_mode: str, namespace: str, model: str, candidate_uri: str, window: str,
                    m: MetricNames = DEFAULT_METRICS) -> TrafficQueries:
    """The canary's share of the model's requests and its request count over ``window``: from
    queue-proxy's request counter in Knative mode, the model server's predict count in Standard
    mode. A canary without series counts 0; a model without requests has no share (no data)."""
    canary = _canary(candidate_uri, m)
    if deployment_mode == "Knative":
        base = f'{m.request_count}{{{m.namespace_label}="{namespace}",'
        model_sel = f'{m.service_label}="{model}-predictor"'
    else:
        base = f'{m.predict_seconds}_count{{{m.target_namespace_label}="{namespace}",'
        model_sel = f'{m.model_name_label}="{model}"'
    return TrafficQueries(share=f"(sum(rate({base}{canary}}}[{window}])) or vector(0)) / sum(rate({base}{model_sel}}}[{window}]))",
                          requests=f"sum(increase({base}{canary}}}[{window}])) or vector(0)")


def fill(query: str, namespace: str, model: str, window: str, candidate_uri: str, metrics: MetricNames = DEFAULT_METRICS,
         deployment_mode: str = "Knative") -> str:
    """A gate's PromQL with its placeholders filled for one candidate."""
    return Template(query).substitute(namespace=namespace, model=model, window=window, version=version_id(candidate_uri),
                                      canary=_canary(candidate_uri, metrics),
                                      stable=stable_matcher(deployment_mode, model, candidate_uri, metrics))


# -- LLMs: vLLM's metrics ----------------------------------------------------------------------
# (kept apart from the models' builders above: LLMs are selected by their pods' service name, not
# by revision or version id)

LLM_PLACEHOLDERS = PLACEHOLDERS
"""Placeholders of an LLM gate query: the models' (``$canary``/``$stable`` select the canary and stable services' series)."""


@dataclass(frozen=True)
class LLMQueries:
    """PromQL for one LLM in one namespace, on vLLM's metrics (:class:`~servespec.metrics.LLMMetricNames`).

    Its pods are those of the LLMInferenceService ``<llm>`` (stable) and, during a canary,
    ``<llm>-canary``: KServe labels them ``app.kubernetes.io/name=<service>`` and the PodMonitor copies
    that label onto every series (``member_label``), so ``by=(member_label,)`` splits canary from stable.
    """

    llm: str
    """The LLM's name (its stable LLMInferenceService)."""
    namespace: str
    members: tuple[str, ...]
    """LLMInferenceService names whose pods count: ``(llm, llm-canary)``."""
    m: LLMMetricNames = DEFAULT_LLM_METRICS

    @property
    def member(self) -> str:
        """The label telling the members' series apart."""
        return self.m.member_label

    def sel(self, *extra: str) -> str:
        """The series of this LLM's pods (plus ``extra`` matchers)."""
        m = self.m
        names = "|".join(self.members)
        return "{" + ",".join([f'{m.target_namespace_label}="{self.namespace}"', f'{m.member_label}=~"{names}"', *extra]) + "}"

    def request_rate(self, window: str, by: tuple[str, ...] = ()) -> str:
        """Finished requests per second."""
        return _agg("sum", by, f"rate({self.m.requests_finished}{self.sel()}[{window}])")

    def error_ratio(self, window: str, by: tuple[str, ...] = ()) -> str:
        """Share of finished requests that ended in an error (none at all counts as 0)."""
        m = self.m
        matcher = f'{m.finished_reason_label}="{m.error_reason}"'
        errors = _agg("sum", by, f"rate({m.requests_finished}{self.sel(matcher)}[{window}])")
        return f"({errors} or {self.request_rate(window, by)} * 0) / {self.request_rate(window, by)}"

    def _quantile(self, metric: str, q: float, window: str, by: tuple[str, ...]) -> str:
        return f"histogram_quantile({num(q)}, {_agg('sum', ('le', *by), f'rate({metric}_bucket{self.sel()}[{window}])')})"

    def ttft_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A quantile of the time to first token, in seconds."""
        return self._quantile(self.m.time_to_first_token, q, window, by)

    def tpot_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A quantile of the time per output token, in seconds."""
        return self._quantile(self.m.time_per_output_token, q, window, by)

    def e2e_quantile(self, q: float, window: str, by: tuple[str, ...] = ()) -> str:
        """A quantile of the end-to-end request latency, in seconds."""
        return self._quantile(self.m.e2e_latency, q, window, by)

    def queue_depth(self, by: tuple[str, ...] = ()) -> str:
        """Requests waiting in the most loaded pod's engine."""
        return _agg("max", by, f"{self.m.requests_waiting}{self.sel()}")

    def kv_cache_usage(self, by: tuple[str, ...] = ()) -> str:
        """KV-cache use of the fullest pod, 0 to 1."""
        return _agg("max", by, f"{self.m.kv_cache_usage}{self.sel()}")

    def running(self, by: tuple[str, ...] = ()) -> str:
        """Requests in the running batches."""
        return _agg("sum", by, f"{self.m.requests_running}{self.sel()}")

    def token_rate(self, window: str, by: tuple[str, ...] = (), prompt: bool = False) -> str:
        """Generated (or prompt) tokens per second."""
        metric = self.m.prompt_tokens if prompt else self.m.generation_tokens
        return _agg("sum", by, f"rate({metric}{self.sel()}[{window}])")

    def canary_ttft_ratio(self, q: float, window: str) -> str:
        """The canary's TTFT quantile over stable's (no series while only one of them serves)."""
        canary = LLMQueries(self.llm, self.namespace, (self.members[-1],), self.m).ttft_quantile(q, window)
        stable = LLMQueries(self.llm, self.namespace, (self.members[0],), self.m).ttft_quantile(q, window)
        return f"{canary} / {stable}"

    def cache_ready(self, cache: str) -> str:
        """1 when every node of a LocalModel cache holds the model, less while it downloads
        (kube-state-metrics custom-resource metrics; docs/serving-llms.md)."""
        m = self.m
        sel = "{" + f'{m.cache_name_label}="{cache}"' + "}"
        return f"min({m.cache_available}{sel} / {m.cache_total}{sel})"


def default_llm_gate_queries(m: LLMMetricNames = DEFAULT_LLM_METRICS) -> list[DefaultGate]:
    """Gates of an LLM canary, on the canary's own series (``$canary``) against stable's (``$stable``):
    error share <= 1%, p99 TTFT at most 1.5 times stable's, p99 time per output token at most 1.5
    times stable's (a ratio, since the absolute values depend on prompt and model size)."""
    sel = f'{m.target_namespace_label}="$namespace",$canary'
    stable = f'{m.target_namespace_label}="$namespace",$stable'
    err = f'{m.finished_reason_label}="{m.error_reason}"'
    total = f"sum(rate({m.requests_finished}{{{sel}}}[$window]))"

    def p99(metric: str, where: str) -> str:
        return f"histogram_quantile(0.99, sum by (le) (rate({metric}_bucket{{{where}}}[$window])))"

    return [
        DefaultGate("error-rate", f"(sum(rate({m.requests_finished}{{{sel},{err}}}[$window])) or vector(0)) / {total}", 0.01),
        DefaultGate("ttft-vs-stable", f"{p99(m.time_to_first_token, sel)} / {p99(m.time_to_first_token, stable)}", 1.5),
        DefaultGate("tpot-vs-stable", f"{p99(m.time_per_output_token, sel)} / {p99(m.time_per_output_token, stable)}", 1.5),
    ]


def cache_gate_query(m: LLMMetricNames = DEFAULT_LLM_METRICS) -> DefaultGate:
    """The cache-then-switch gate: the candidate's cache object (``$version``: its version id, the
    suffix of the cache's name) on every node before any traffic moves; a lower bound, min 1."""
    sel = "{" + f'{m.cache_name_label}=~".*-$version"' + "}"
    return DefaultGate("cache-ready", f"min({m.cache_available}{sel} / {m.cache_total}{sel})", 1.0)


def llm_fill(query: str, namespace: str, llm: str, window: str, candidate_uri: str, metrics: LLMMetricNames = DEFAULT_LLM_METRICS) -> str:
    """An LLM gate's PromQL with its placeholders filled: ``$canary`` selects the canary service's
    pods, ``$stable`` the stable one's."""
    canary = f'{metrics.member_label}="{llm}-canary"'
    stable = f'{metrics.member_label}="{llm}"'
    return Template(query).substitute(namespace=namespace, model=llm, window=window, version=version_id(candidate_uri),
                                      canary=canary, stable=stable)
