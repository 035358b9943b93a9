"""KServe's rules on canaries and predictor names, per minor: ``canaryTrafficPercent`` outside
Knative mode, ``spec.canary[]`` and ``spec.predictor.name`` (0.20), and the update-time
``predictor.name`` change rule.

Sources: kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go
(``validateCanarySpecs`` 183-266, ``validatePredictorNameChange`` 703-726); the only reader of
``canaryTrafficPercent`` is the Knative reconciler (v0.20.0:reconcilers/knative/ksvc_reconciler.go:134);
the v0.20.0 ingress reconcilers never route to a canary (no canary code under
reconcilers/ingress/; the weighted HTTPRoute backends, ``applyCanaryWeights``, are commit 85b09080,
#5912, after the tag)."""

from __future__ import annotations

from collections.abc import Mapping

from .findings import MODE_ANNOTATION, Finding, Minor, as_int, as_list, as_map, as_str, known_modes, normalized_mode, v

__all__ = ["check_rollout", "predictor_storage_uri"]

_FIXED = ("maxReplicas", "scaleTarget", "scaleMetric", "autoScaling")


def predictor_storage_uri(predictor: Mapping[str, object]) -> str:
    """``getPredictorStorageURI``: the model's storageUri, else a legacy framework's, else ''."""
    for key, value in predictor.items():
        uri = as_str(as_map(value).get("storageUri"))
        if uri and (key == "model" or "model" not in predictor):
            return uri
    return ""


def check_rollout(new: Mapping[str, object], old: Mapping[str, object] | None, minor: Minor) -> list[Finding]:
    """All canary and predictor-name rules for ``new`` (and, on update, ``old``)."""
    spec = as_map(new.get("spec"))
    annotations = as_map(as_map(new.get("metadata")).get("annotations"))
    value = as_str(annotations.get(MODE_ANNOTATION))
    mode = normalized_mode(value) if value is not None and value in known_modes(minor) else None
    out: list[Finding] = []
    for comp in ("predictor", "transformer", "explainer"):
        pct = as_int(as_map(spec.get(comp)).get("canaryTrafficPercent"))
        if pct is not None and mode == "Standard":
            out.append(Finding(f"spec.{comp}.canaryTrafficPercent", f"expected no canaryTrafficPercent in Standard mode "
                               f"(only the Knative reconciler reads it: KServe {v(minor)} ignores it silently), found {pct}",
                               "canary-traffic-percent-ignored"))
    pred = as_map(spec.get("predictor"))
    canaries = as_list(spec.get("canary"))
    if minor < (0, 20):
        if "canary" in spec:
            out.append(Finding("spec.canary", f"expected no spec.canary on KServe {v(minor)} (spec.canary[] arrives in "
                               f"0.20), found {len(canaries)} entries", "canary-unsupported"))
        if as_str(pred.get("name")):
            out.append(Finding("spec.predictor.name", f"expected no predictor.name on KServe {v(minor)} (it arrives in "
                               f"0.20), found {pred.get('name')!r}", "predictor-name-unsupported"))
        return out
    out += _canaries(spec, canaries, value)
    if old is not None:
        out += _name_change(pred, as_map(as_map(old.get("spec")).get("predictor")))
    return out


def _canaries(spec: Mapping[str, object], canaries: object, mode: str | None) -> list[Finding]:
    """``validateCanarySpecs`` (mode compared after the 0.17+ defaulter rewrote legacy names)."""
    items = [as_map(c) for c in as_list(canaries)]
    if not items:
        return []
    if mode is None or normalized_mode(mode) != "Standard":
        return [Finding("spec.canary", f"expected deploymentMode Standard (canary is only supported in Standard "
                        f"deployment mode), found {mode!r}", "canary-mode")]
    pred = as_map(spec.get("predictor"))
    out: list[Finding] = []
    if not predictor_storage_uri(pred) and "model" not in pred:
        out.append(Finding("spec.predictor", "expected a stable predictor with a model (canary requires one; "
                           "multi-model serving is not supported with canary), found none", "canary-stable-model"))
    stable_name = as_str(pred.get("name")) or ""
    stable_min = as_int(pred.get("minReplicas"))
    seen: set[str] = set()
    total = 0
    for i, canary in enumerate(items):
        cp = as_map(canary.get("predictor"))
        path = f"spec.canary[{i}]"
        name = as_str(cp.get("name")) or ""
        out += _canary_name(path, name, stable_name, seen)
        pct = as_int(canary.get("trafficPercent")) or 0
        total += pct
        if not 0 <= pct <= 100:
            out.append(Finding(f"{path}.trafficPercent", f"expected 0 to 100, found {pct}", "canary-traffic"))
        elif pct > 0:
            out.append(Finding(f"{path}.trafficPercent", f"expected 0 on KServe 0.20 (0.20.0 creates the canary's "
                               f"Deployment and Service but routes no traffic to it; weighted HTTPRoute backends come "
                               f"after 0.20.0, kserve#5912), found {pct}", "canary-no-traffic-split"))
        out += _canary_fixed(path, cp, stable_min)
    if total > 100:
        out.append(Finding("spec.canary", f"expected trafficPercent values summing to at most 100, found {total}",
                           "canary-traffic"))
    return out


def _canary_name(path: str, name: str, stable_name: str, seen: set[str]) -> list[Finding]:
    if not name:
        return [Finding(f"{path}.predictor.name", "expected a name (canary predictor.name is required), found none",
                        "canary-name")]
    if name in seen:
        return [Finding(f"{path}.predictor.name", f"expected a name unique among canaries, found {name!r} again",
                        "canary-name")]
    seen.add(name)
    if name == stable_name:
        return [Finding(f"{path}.predictor.name", f"expected a name other than the stable predictor's, found {name!r}",
                        "canary-name")]
    return []


def _canary_fixed(path: str, cp: Mapping[str, object], stable_min: int | None) -> list[Finding]:
    """A canary runs fixed replicas: no workerSpec, maxReplicas, scaleTarget, scaleMetric,
    autoScaling; its minReplicas not above the stable predictor's (default 1)."""
    out: list[Finding] = []
    if cp.get("workerSpec") is not None:
        out.append(Finding(f"{path}.predictor.workerSpec", "expected no workerSpec (multi-node is not yet supported for "
                           "canary), found one", "canary-fixed-replicas"))
    for key in _FIXED:
        value = cp.get(key)
        if value is None or (key == "maxReplicas" and (as_int(value) or 0) <= 0):
            continue
        out.append(Finding(f"{path}.predictor.{key}", f"expected no {key} (canary uses fixed replicas), found {value!r}",
                           "canary-fixed-replicas"))
    canary_min = as_int(cp.get("minReplicas"))
    limit = 1 if stable_min is None else stable_min
    if canary_min is not None and canary_min > limit:
        out.append(Finding(f"{path}.predictor.minReplicas", f"expected at most the stable predictor's minReplicas "
                           f"({limit}), found {canary_min}", "canary-min-replicas"))
    return out


def _name_change(pred: Mapping[str, object], old_pred: Mapping[str, object]) -> list[Finding]:
    """``validatePredictorNameChange``: a new ``predictor.name`` needs a new model URI."""
    old_name = as_str(old_pred.get("name")) or ""
    new_name = as_str(pred.get("name")) or ""
    if old_name == new_name or predictor_storage_uri(old_pred) != predictor_storage_uri(pred):
        return []
    return [Finding("spec.predictor.name", f"expected {old_name!r} or a new storageUri with it (predictor.name change "
                    f"requires a model change), found {new_name!r} with the same storageUri", "predictor-name-change")]
