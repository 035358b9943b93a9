"""How many pods of what size each rendered object runs: KServe's replica and canary rules.

Pure functions over rendered objects (plain dicts). A :class:`Workload` is the pods of one kind
inside one object: what each pod counts against a ResourceQuota (``requests.cpu``,
``limits.memory``, ``requests.nvidia.com/gpu``, ... in base units: cores, bytes, devices) and how
many run at min and at max replicas. Rules follow KServe v0.20 (tests/test_capacity.py cites the
code for each):

- a component's ``minReplicas`` defaults to 1; Knative mode: 0 scales to zero, ``maxReplicas: 0``
  means no maximum (the cluster's); Standard mode with HPA (the default autoscaler class) clamps
  min to >= 1 and raises max to min, KEDA keeps min 0 and raises max, ``none`` pins min, and
  ``external`` has no maximum known here;
- Knative canary (``canaryTrafficPercent`` < 100): the previous revision keeps running beside the
  new one, so the component counts twice;
- Standard canary (``spec.canary[]``): each canary runs ``minReplicas`` or
  ``ceil(stable min * trafficPercent / 100)`` fixed replicas, and the stable predictor's min drops by
  the canaries' total (never below 1);
- legacy v1alpha2: ``spec.canary`` is a whole second endpoint.

Not sized (and reported so): sidecars KServe, Knative or Istio inject (queue-proxy, agent,
istio-proxy, storage-initializer), ModelMesh, multi-node ``workerSpec``, LLMInferenceService, and
kinds whose pod count depends on the cluster (DaemonSet) or on time (Job, CronJob).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .quantity import QuantityError
from .spec.model import KSERVE_DEFAULT_RESOURCES

__all__ = ["Amounts", "Workload", "base_units", "pod_amounts", "workloads", "NATIVE"]

Amounts = dict[str, Decimal]
"""ResourceQuota key -> amount in base units (cores, bytes, devices, pods)."""

NATIVE = ("cpu", "memory", "ephemeral-storage")
"""Resources ResourceQuota bounds as requests and limits; others (extended, hugepages) by requests only."""
_FRAMEWORKS = ("sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "pmml", "lightgbm", "paddle")
_FIXED = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
_UNSIZED = {"DaemonSet", "Job", "CronJob"}


_QUANTITY = re.compile(r"^\+?(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$")
_SCALE = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def base_units(value: str | int | float) -> Decimal:
    """A non-negative quantity in base units, exactly: ``"250m"`` -> 0.25 (cores), ``"1Gi"`` ->
    1073741824 (bytes), ``"1e3"`` and ``"1k"`` -> 1000, ``"1E"`` -> 10**18 (exa, as Kubernetes reads it).

    Kubernetes' full grammar (binary, decimal SI with n/u/m/k/M/G/T/P/E, decimal exponent; YAML ints
    and floats too). Written here because ``servespec.quantity.parse`` raises ValueError on ``"1E"``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")
    text = (repr(value) if isinstance(value, float) else str(value)).strip()
    if text.startswith("-") and _QUANTITY.match(text[1:]):
        raise QuantityError(f"expected a non-negative quantity, found {value!r}")
    m = _QUANTITY.match(text)
    if m is None:
        raise QuantityError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")
    number, suffix, exponent = Decimal(m.group(1)), m.group(2), m.group(3)
    if exponent is not None:
        return number.scaleb(int(exponent))
    if suffix and suffix.endswith("i"):
        return number * (1 << (10 * "KMGTPE".index(suffix[0]) + 10))
    return number.scaleb(_SCALE.get(suffix or "", 0))


@dataclass(frozen=True)
class Workload:
    """Pods of one kind inside one object: what each pod asks for and how many run."""

    owner: str
    """``Kind namespace/name`` of the rendered object."""
    name: str
    """Name of the object (the model, for an InferenceService)."""
    component: str
    """``predictor``, ``transformer``, ``explainer``, ``canary v3``, ``predictor (previous revision)``, ``pods``."""
    per_pod: Amounts
    min_replicas: int
    max_replicas: int | None
    """None: no maximum (the cluster's)."""

    @property
    def label(self) -> str:
        """``name component``, for messages."""
        return f"{self.name} {self.component}"


# -- pods ---------------------------------------------------------------------------------------------
def _add(into: Amounts, key: str, value: Decimal) -> None:
    into[key] = into.get(key, Decimal(0)) + value


def _container_amounts(container: Mapping[str, Any], kserve_defaults: bool) -> Amounts:
    res = _dict(container.get("resources"))
    requests = dict(_dict(res.get("requests")))
    limits = dict(_dict(res.get("limits")))
    if kserve_defaults:
        for key, default in KSERVE_DEFAULT_RESOURCES.items():
            requests.setdefault(key, default)
            limits.setdefault(key, default)
    out: Amounts = {}
    for name in sorted({*requests, *limits}):
        request = requests.get(name, limits.get(name))  # the API server defaults a missing request to the limit
        if request is not None:
            _add(out, f"requests.{name}", base_units(request))
        if name in NATIVE and name in limits:
            _add(out, f"limits.{name}", base_units(limits[name]))
    return out


def pod_amounts(containers: Iterable[Mapping[str, Any]], init_containers: Iterable[Mapping[str, Any]] = (),
                kserve_defaults: Iterable[bool] = ()) -> Amounts:
    """What one pod counts against a ResourceQuota: the sum over its containers, or the largest
    init container where that is more (per key, as the scheduler computes it)."""
    defaults = list(kserve_defaults)
    total: Amounts = {}
    for i, c in enumerate(containers):
        for key, value in _container_amounts(c, i < len(defaults) and defaults[i]).items():
            _add(total, key, value)
    for c in init_containers:
        for key, value in _container_amounts(c, False).items():
            total[key] = max(total.get(key, Decimal(0)), value)
    return total


# -- InferenceService ---------------------------------------------------------------------------------
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _component_pod(body: Mapping[str, Any], legacy: bool = False) -> Amounts:
    """One pod of a component: ``model``, a framework key or ``art`` (one server container) plus
    ``containers[]``; KServe's webhook fills missing cpu/memory of the server container
    (``setResourceRequirementDefaults``), not of ``model``, whose runtime supplies them."""
    servers: list[tuple[Mapping[str, Any], bool]] = []
    if isinstance(body.get("model"), dict):
        servers.append((body["model"], False))
    servers += [(body[k], True) for k in (*_FRAMEWORKS, "art", "alibi") if isinstance(body.get(k), dict)]
    custom = _dict(body.get("custom")).get("container") if legacy else None
    containers: list[Mapping[str, Any]] = [c for c in body.get("containers") or [] if isinstance(c, dict)]
    if isinstance(custom, dict):
        containers.insert(0, custom)
    defaults = [d for _, d in servers] + [not servers and i == 0 for i in range(len(containers))]
    return pod_amounts([c for c, _ in servers] + containers, (), defaults)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _replicas(comp: Mapping[str, Any], mode: str, scaler: str) -> tuple[int, int | None]:
    low = _int(comp.get("minReplicas"), 1)
    high = _int(comp.get("maxReplicas"), 0)
    if mode == "Knative":
        return low, (high or None)
    if scaler == "none":
        return low, low
    if scaler == "external":
        return low, None
    if scaler != "keda":  # hpa, the default
        low = max(low, 1)
    return low, max(high, low)


def _mode(obj: Mapping[str, Any]) -> tuple[str, str]:
    notes = _dict(_dict(obj.get("metadata")).get("annotations"))
    mode = str(notes.get("serving.kserve.io/deploymentMode", "Knative"))
    mode = {"Serverless": "Knative", "RawDeployment": "Standard"}.get(mode, mode)
    return mode, str(notes.get("serving.kserve.io/autoscalerClass", "hpa"))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """mergo.Merge(WithOverride): maps merged key by key, other values replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _isvc(obj: Mapping[str, Any], owner: str, name: str, rollouts: bool) -> tuple[list[Workload], list[str]]:
    spec = _dict(obj.get("spec"))
    if str(obj.get("apiVersion", "")).startswith("serving.kubeflow.org/"):
        return _kfserving(spec, owner, name, rollouts)
    mode, scaler = _mode(obj)
    if mode not in ("Knative", "Standard"):
        return [], [f"{owner}: deploymentMode {mode} shares its runtime's pods"]
    out: list[Workload] = []
    skipped: list[str] = []
    for comp_name in ("predictor", "transformer", "explainer"):
        comp = spec.get(comp_name)
        if not isinstance(comp, dict):
            continue
        if comp.get("workerSpec"):
            skipped.append(f"{owner}: {comp_name}.workerSpec (multi-node) is not sized")
        if comp_name == "predictor" and mode == "Standard" and rollouts and spec.get("canary") and isinstance(spec["canary"], list):
            out += _standard_canary(owner, name, comp, spec["canary"], scaler)
            continue
        low, high = _replicas(comp, mode, scaler)
        per_pod = _component_pod(comp)
        out.append(Workload(owner, name, comp_name, per_pod, low, high))
        pct = comp.get("canaryTrafficPercent")
        if rollouts and mode == "Knative" and isinstance(pct, int) and pct < 100:
            out.append(Workload(owner, name, f"{comp_name} (previous revision)", per_pod, low, high))
    return out, skipped


def _standard_canary(owner: str, name: str, stable: Mapping[str, Any], canaries: list[Any], scaler: str) -> list[Workload]:
    """KServe v0.20 ``canaryReplicaCount``/``buildCanaryPredictor``: fixed-size canaries merged over
    the stable predictor; the stable min reduced by their total, never below 1."""
    stable_min = _int(stable.get("minReplicas"), 1)
    out: list[Workload] = []
    total = 0
    for entry in canaries:
        over = _dict(_dict(entry).get("predictor"))
        pct = _int(_dict(entry).get("trafficPercent"), 0)
        count = _int(over.get("minReplicas"), -(-stable_min * pct // 100))  # ceil(stable min * percent / 100)
        total += count
        merged = {**_merge(stable, over), "minReplicas": count, "maxReplicas": 0}
        low, high = _replicas(merged, "Standard", scaler)
        out.append(Workload(owner, name, f"canary {over.get('name', '?')} ({pct}%)", _component_pod(merged), low, high))
    body = dict(stable)
    if _int(stable.get("minReplicas"), -1) >= 0:
        body["minReplicas"] = max(stable_min - total, 1)
    low, high = _replicas(body, "Standard", scaler)
    return [Workload(owner, name, "predictor", _component_pod(stable), low, high), *out]


def _kfserving(spec: Mapping[str, Any], owner: str, name: str, rollouts: bool) -> tuple[list[Workload], list[str]]:
    """v1alpha2: ``spec.default`` and, during a canary, ``spec.canary`` (both Knative)."""
    out: list[Workload] = []
    endpoints = [("", spec.get("default"))] + ([("canary ", spec.get("canary"))] if rollouts else [])
    for prefix, endpoint in endpoints:
        for comp_name in ("predictor", "transformer", "explainer"):
            comp = _dict(endpoint).get(comp_name)
            if isinstance(comp, dict):
                low, high = _replicas(comp, "Knative", "kpa")
                out.append(Workload(owner, name, prefix + comp_name, _component_pod(comp, legacy=True), low, high))
    return out, []


def _llm(spec: Mapping[str, Any], owner: str, name: str) -> tuple[list[Workload], list[str]]:
    """An LLMInferenceService: its decode pods (``replicas``, or ``scaling`` min..max) and prefill
    pods, each the ``template``'s containers (servespec's ``main`` container; what the presets add
    in the cluster is not in git). Multi-node ``worker`` pods are not sized."""
    out: list[Workload] = []
    skipped: list[str] = []
    scaling = _dict(spec.get("scaling"))
    replicas = _int(spec.get("replicas"), 1)
    low, high = (_int(scaling.get("minReplicas"), 1), _int(scaling.get("maxReplicas"), 1)) if scaling else (replicas, replicas)
    parts = [("decode", spec, low, high)]
    prefill = _dict(spec.get("prefill"))
    if prefill:
        count = _int(prefill.get("replicas"), 1)
        parts.append(("prefill", prefill, count, count))
    for label, body, lo, hi in parts:
        pod = _dict(body.get("template"))
        out.append(Workload(owner, name, label, pod_amounts([c for c in pod.get("containers") or [] if isinstance(c, dict)]), lo, hi))
        if body.get("worker"):
            skipped.append(f"{owner}: {label} worker pods (multi-node) are not sized")
    return out, skipped


# -- any object ---------------------------------------------------------------------------------------
def _object_workloads(obj: Mapping[str, Any], rollouts: bool) -> tuple[list[Workload], list[str]]:
    kind = str(obj.get("kind"))
    meta = _dict(obj.get("metadata"))
    name = str(meta.get("name"))
    owner = f"{kind} {meta['namespace']}/{name}" if meta.get("namespace") else f"{kind} {name}"
    if kind == "InferenceService":
        return _isvc(obj, owner, name, rollouts)
    if kind == "LLMInferenceService":
        return _llm(_dict(obj.get("spec")), owner, name)
    if kind in _UNSIZED:
        return [], [f"{owner}: a {kind}'s pods are not sized"]
    if kind == "Pod":
        pod = _dict(obj.get("spec"))
        count = 1
    elif kind in _FIXED:
        spec = _dict(obj.get("spec"))
        pod = _dict(_dict(spec.get("template")).get("spec"))
        count = spec["replicas"] if isinstance(spec.get("replicas"), int) else 1
    else:
        return [], []
    per_pod = pod_amounts([c for c in pod.get("containers") or [] if isinstance(c, dict)],
                          [c for c in pod.get("initContainers") or [] if isinstance(c, dict)])
    return [Workload(owner, name, "pods", per_pod, count, count)], []


def workloads(objects: Iterable[Mapping[str, Any]], rollouts: bool = True) -> tuple[list[Workload], list[str]]:
    """Every workload of the objects, and the objects that run pods but cannot be sized (with why).

    ``rollouts=False`` sizes each InferenceService as if no canary ran (the baseline of the
    canary's overhead). A quantity that does not parse makes its object "not counted".
    """
    found: list[Workload] = []
    skipped: list[str] = []
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        try:
            got, why = _object_workloads(obj, rollouts)
        except QuantityError as exc:
            meta = _dict(obj.get("metadata"))
            got, why = [], [f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}: {exc}"]
        found += got
        skipped += why
    return found, skipped
