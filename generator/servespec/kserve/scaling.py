"""KServe's rules on replicas, autoscalers and scaling metrics, per component and per minor.

Sources (kserve/kserve at the tag named): the validating webhook
``pkg/apis/serving/v1beta1/inference_service_validation.go`` (``validateInferenceServiceAutoscaler``,
``validateAutoScalingCompExtension``, ``validateScalingHPACompExtension``,
``validateScalingKPACompExtension``, ``validateScalingKedaCompExtension``), ``component.go``
(``validateReplicas``, ``validateContainerConcurrency``, ``validateLogger``), and where the webhook
says nothing but the controller silently does something else, the reconcilers under
``pkg/controller/v1beta1/inferenceservice/reconcilers/`` (hpa, keda, deployment).
"""

from __future__ import annotations

from collections.abc import Mapping

from .findings import (MODE_ANNOTATION, Finding, Minor, as_int, as_map, as_str, known_modes,
                       normalized_mode, raw_branch, v)

__all__ = ["COMPONENTS", "check_annotations", "check_component"]

COMPONENTS = ("predictor", "transformer", "explainer")
CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"
KNATIVE_CLASS = "autoscaling.knative.dev/class"
KNATIVE_HPA = "hpa.autoscaling.knative.dev"
METRICS_ANNOTATION = "serving.kserve.io/metrics"
TARGET_ANNOTATION = "serving.kserve.io/targetUtilizationPercentage"
DROPPED_ANNOTATIONS = ("autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale")
"""On ``ServiceAnnotationDisallowedList`` in every supported minor (v0.14.1:pkg/constants/constants.go:348-353,
v0.20.0:constants.go:534-540): removed before the annotations reach Knative."""

KNATIVE_MAX_TIMEOUT = 600
"""Knative's default ``max-revision-timeout-seconds`` (knative/serving@v0.44.0:pkg/apis/config/defaults.go:45),
enforced on the revision (pkg/apis/serving/v1/revision_validation.go:172-180)."""
KNATIVE_MAX_CONCURRENCY = 1000
"""Knative's default ``container-concurrency-max-limit`` (knative/serving@v0.44.0:pkg/apis/config/defaults.go:68)."""


def _classes(minor: Minor) -> tuple[str, ...]:
    """``AutoscalerAllowedClassList`` (v0.14.1:constants.go:190-193; v0.15.2:constants.go:215-220)."""
    return ("hpa", "external") if minor < (0, 15) else ("hpa", "external", "keda", "none")


def _ann_path(key: str) -> str:
    return f"metadata.annotations.{key}"


def check_annotations(annotations: Mapping[str, object], minor: Minor) -> list[Finding]:
    """Autoscaler annotations on the InferenceService: the class must be one the minor knows; the
    0.14 HPA annotations are validated there and ignored from 0.15 on; Knative min/max-scale
    annotations are dropped by KServe."""
    out: list[Finding] = []
    cls = as_str(annotations.get(CLASS_ANNOTATION))
    if cls is not None and cls not in _classes(minor):
        later = " (keda and none arrive in KServe 0.15)" if cls in ("keda", "none") else ""
        out.append(Finding(_ann_path(CLASS_ANNOTATION),
                           f"expected one of {', '.join(_classes(minor))} on KServe {v(minor)}, found {cls!r}{later}",
                           "autoscaler-class"))
    metric = as_str(annotations.get(METRICS_ANNOTATION))
    target = as_str(annotations.get(TARGET_ANNOTATION))
    if minor >= (0, 15):
        # v0.15.2: nothing in pkg/ reads these annotations any more (commit d20d4228, #4349).
        for key, value, field in ((METRICS_ANNOTATION, metric, "scaleMetric"), (TARGET_ANNOTATION, target, "scaleTarget")):
            if value is not None:
                out.append(Finding(_ann_path(key), f"expected {field} on the component (KServe {v(minor)} no longer "
                                   f"reads this annotation; 0.14 did), found {value!r}", "annotation-ignored"))
    else:
        if cls == "hpa" and metric is not None and metric not in ("cpu", "memory"):
            out.append(Finding(_ann_path(METRICS_ANNOTATION), f"expected cpu or memory, found {metric!r}", "hpa-metric"))
        if target is not None and not (target.isdigit() and 1 <= int(target) <= 100):
            out.append(Finding(_ann_path(TARGET_ANNOTATION), f"expected an integer in [1, 100], found {target!r}",
                               "target-utilization"))
    for key in DROPPED_ANNOTATIONS:
        dropped = annotations.get(key)
        if dropped is not None:
            field = "minReplicas" if key.endswith("min-scale") else "maxReplicas"
            out.append(Finding(_ann_path(key), f"expected {field} on the component (KServe drops this annotation "
                               f"before it reaches Knative), found {dropped!r}", "annotation-dropped"))
    return out


def check_component(comp: Mapping[str, object], path: str, annotations: Mapping[str, object],
                    minor: Minor) -> list[Finding]:
    """Replicas, concurrency, logger, scaling metric/target, Standard-mode ``minReplicas: 0`` and
    Knative limits of one component (``path`` = ``spec.predictor`` etc.)."""
    return [*_replicas(comp, path), *_logger(comp, path, minor), *_scaling(comp, path, annotations, minor),
            *_standard_zero(comp, path, annotations, minor), *_knative_limits(comp, path, annotations, minor)]


def _replicas(comp: Mapping[str, object], path: str) -> list[Finding]:
    """``validateReplicas`` and ``validateContainerConcurrency`` (v0.20.0:component.go:374-398)."""
    out: list[Finding] = []
    min_r = as_int(comp.get("minReplicas"))
    max_r = as_int(comp.get("maxReplicas"))
    lo = 1 if min_r is None else min_r
    if min_r is not None and min_r < 0:
        out.append(Finding(f"{path}.minReplicas", f"expected at least 0, found {min_r}", "replicas"))
    if max_r is not None and max_r < 0:
        out.append(Finding(f"{path}.maxReplicas", f"expected at least 0, found {max_r}", "replicas"))
    if max_r is not None and max_r > 0 and lo > max_r:
        out.append(Finding(f"{path}.minReplicas", f"expected at most maxReplicas ({max_r}), found {lo}", "replicas"))
    cc = as_int(comp.get("containerConcurrency"))
    if cc is not None and cc < 0:
        out.append(Finding(f"{path}.containerConcurrency", f"expected at least 0, found {cc}", "container-concurrency"))
    return out


def _logger(comp: Mapping[str, object], path: str, minor: Minor) -> list[Finding]:
    """``validateLogger`` (v0.14.1:component.go; storage from v0.15.2:component.go)."""
    if "logger" not in comp:
        return []
    logger = as_map(comp.get("logger"))
    out: list[Finding] = []
    mode = logger.get("mode")
    if mode not in ("all", "request", "response"):
        found = "no mode" if mode is None else repr(mode)
        out.append(Finding(f"{path}.logger.mode", f"expected all, request or response, found {found}", "logger-mode"))
    if minor >= (0, 15) and "storage" in logger:
        storage = as_map(logger.get("storage"))
        missing = [k for k in ("path", "parameters", "key") if storage.get(k) is None]
        if missing:
            out.append(Finding(f"{path}.logger.storage", f"expected path, parameters and key, found no {', '.join(missing)}",
                               "logger-storage"))
    return out


def _scaling(comp: Mapping[str, object], path: str, annotations: Mapping[str, object], minor: Minor) -> list[Finding]:
    """Which scaler's rules the webhook of ``minor`` applies (``validateAutoScalingCompExtension``:
    v0.14.1:inference_service_validation.go:145-153, v0.15.2:210-231, v0.20.0 same shape), plus the
    Standard-mode default HPA the webhook does not check but whose reconciler ignores KPA metrics."""
    mode = as_str(annotations.get(MODE_ANNOTATION))
    kn_class = as_str(annotations.get(KNATIVE_CLASS))
    cls = as_str(annotations.get(CLASS_ANNOTATION))
    if minor < (0, 15):
        return _hpa(comp, path) if raw_branch(mode, minor) or kn_class == KNATIVE_HPA else _kpa(comp, path)
    if raw_branch(mode, minor):
        if cls == "hpa":
            return _hpa(comp, path)
        if cls == "keda":
            return _keda(comp, path)
        return _default_hpa(comp, path, minor) if cls is None else []
    return _hpa(comp, path) if kn_class == KNATIVE_HPA else _kpa(comp, path)


def _hpa(comp: Mapping[str, object], path: str) -> list[Finding]:
    """``validateScalingHPACompExtension`` (v0.20.0:inference_service_validation.go, cpu default)."""
    metric = as_str(comp.get("scaleMetric")) or "cpu"
    if metric not in ("cpu", "memory"):
        return [Finding(f"{path}.scaleMetric", f"expected cpu or memory with the HPA autoscaler (concurrency and rps "
                        f"are Knative KPA metrics), found {metric!r}", "hpa-metric")]
    target = as_int(comp.get("scaleTarget"))
    if target is None:
        return []
    # Upstream: `metric == MetricCPU && target < 1 || target > 100` - so > 100 fails for memory too.
    if (metric == "cpu" and target < 1) or target > 100:
        return [Finding(f"{path}.scaleTarget", f"expected a utilization percentage in [1, 100], found {target}", "scale-target")]
    if metric == "memory" and target < 1:
        return [Finding(f"{path}.scaleTarget", f"expected at least 1 for memory, found {target}", "scale-target")]
    return []


def _kpa(comp: Mapping[str, object], path: str) -> list[Finding]:
    """``validateScalingKPACompExtension`` (concurrency default; deploymentStrategy refused)."""
    out: list[Finding] = []
    if comp.get("deploymentStrategy") is not None:
        out.append(Finding(f"{path}.deploymentStrategy", "expected no deploymentStrategy with the Knative autoscaler "
                           "(customizing deploymentStrategy is only supported for raw deployment mode), found one",
                           "deployment-strategy"))
    metric = as_str(comp.get("scaleMetric")) or "concurrency"
    if metric not in ("concurrency", "rps"):
        out.append(Finding(f"{path}.scaleMetric", f"expected concurrency or rps with Knative's KPA autoscaler (cpu and "
                           f"memory need {KNATIVE_CLASS}: {KNATIVE_HPA} or Standard mode), found {metric!r}", "kpa-metric"))
        return out
    target = as_int(comp.get("scaleTarget"))
    if metric == "rps" and target is not None and target < 1:
        out.append(Finding(f"{path}.scaleTarget", f"expected at least 1 request per second, found {target}", "scale-target"))
    return out


def _keda(comp: Mapping[str, object], path: str) -> list[Finding]:
    """``validateScalingKedaCompExtension`` (v0.15.2:inference_service_validation.go:331-334)."""
    metric = as_str(comp.get("scaleMetric"))
    if metric is None:
        return []
    return [Finding(f"{path}.scaleMetric", f"expected no scaleMetric with the KEDA autoscaler (KEDA scales on "
                    f"autoScaling.metrics), found {metric!r}", "keda-metric")]


def _default_hpa(comp: Mapping[str, object], path: str, minor: Minor) -> list[Finding]:
    """No explicit class in Standard mode: the webhook checks nothing, the controller uses HPA
    (``DefaultAutoscalerClass``) and ``getHPAMetrics`` builds metrics only for cpu and memory
    (v0.20.0:reconcilers/hpa/hpa_reconciler.go:105-145), so a KPA metric is silently dropped."""
    metric = as_str(comp.get("scaleMetric"))
    if metric is None or metric in ("cpu", "memory"):
        return []
    return [Finding(f"{path}.scaleMetric", f"expected cpu or memory (Standard mode scales with HPA by default; KServe "
                    f"{v(minor)} does not check this without {CLASS_ANNOTATION} and its HPA ignores it), found {metric!r}",
                    "hpa-metric-ignored")]


def _controller_mode(annotations: Mapping[str, object], minor: Minor) -> str | None:
    """The mode the controller runs, when the annotation names one the minor knows."""
    value = as_str(annotations.get(MODE_ANNOTATION))
    if value is None or value not in known_modes(minor):
        return None
    return normalized_mode(value)


def _standard_zero(comp: Mapping[str, object], path: str, annotations: Mapping[str, object], minor: Minor) -> list[Finding]:
    """Standard mode with ``minReplicas: 0``: HPA raises it to 1 (v0.14.1:hpa_reconciler.go:96-100,
    v0.20.0:hpa_reconciler.go:153-158), ``external`` creates no HPA, ``none`` sets the Deployment to
    exactly 0 replicas (v0.15.2:deployment_reconciler.go:162-163); only KEDA (0.15+) scales to zero
    (v0.20.0:keda_reconciler.go:229-254)."""
    if as_int(comp.get("minReplicas")) != 0 or _controller_mode(annotations, minor) != "Standard":
        return []
    cls = as_str(annotations.get(CLASS_ANNOTATION)) or "hpa"
    if cls == "keda" or cls not in _classes(minor):
        return []  # KEDA scales to zero; an unknown class is its own finding
    if cls == "none":
        why = "KServe sets the Deployment to exactly minReplicas, so 0 runs no pods"
    else:
        why = f"with autoscalerClass {cls} KServe keeps at least 1 replica: no scale to zero"
    keda = "serving.kserve.io/autoscalerClass: keda" + (" (KServe >= 0.15)" if minor < (0, 15) else "")
    return [Finding(f"{path}.minReplicas", f"expected at least 1 in Standard mode ({why}; scale to zero needs {keda} "
                    f"or Knative mode), found 0", "standard-min-replicas-zero")]


def _knative_limits(comp: Mapping[str, object], path: str, annotations: Mapping[str, object], minor: Minor) -> list[Finding]:
    """Knative's own webhook limits on what KServe copies into the Knative Service: timeout,
    containerConcurrency (revision_validation.go:112-117) and traffic percent
    (knative/serving@v0.44.0:pkg/apis/serving/v1/route_validation.go:151-155)."""
    if _controller_mode(annotations, minor) != "Knative":
        return []
    out: list[Finding] = []
    timeout = as_int(comp.get("timeout"))
    if timeout is not None and timeout > KNATIVE_MAX_TIMEOUT:
        out.append(Finding(f"{path}.timeout", f"expected at most {KNATIVE_MAX_TIMEOUT} seconds in Knative mode (Knative's "
                           f"default max-revision-timeout-seconds, unless config-defaults raises it), found {timeout}",
                           "knative-timeout"))
    cc = as_int(comp.get("containerConcurrency"))
    if cc is not None and cc > KNATIVE_MAX_CONCURRENCY:
        out.append(Finding(f"{path}.containerConcurrency", f"expected at most {KNATIVE_MAX_CONCURRENCY} in Knative mode "
                           f"(Knative's default container-concurrency-max-limit), found {cc}", "knative-concurrency"))
    pct = as_int(comp.get("canaryTrafficPercent"))
    if pct is not None and not 0 <= pct <= 100:
        out.append(Finding(f"{path}.canaryTrafficPercent", f"expected 0 to 100 (Knative rejects a traffic percent "
                           f"outside it), found {pct}", "canary-traffic-percent"))
    return out
