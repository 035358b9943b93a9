"""The create- and update-time rules KServe's webhooks and controller apply to an InferenceService,
ported per KServe minor as pure functions over rendered objects (plain dicts, as written to YAML).

``check_inferenceservice(new, old, minor)`` runs every rule; ``old`` is the previously committed
render of the same object (``None`` on create): update-time rules compare it with ``new`` the way
the API server hands the webhook the old and the new object. What KServe records in ``status`` is
not in git; where a rule depends on it, the message says which clusters it bites.

Rule families and their modules: deployment-mode annotation (here), names (``names``), replicas,
autoscalers and Knative limits (``scaling``), runtime/format/storage/env (``model``), canaries and
predictor names (``rollout``). Each message says what was expected and what was found, and which
KServe version would accept it when one would. ``docs/kserve-rules.md`` lists the rules with sources.
"""

from __future__ import annotations

from collections.abc import Mapping

from .findings import (MODE_ANNOTATION, SUPPORTED_MINORS, Finding, Minor, as_list, as_map, as_str, check_minor,
                       known_modes, normalized_mode, v)
from .model import check_env, check_model, check_storage_uri
from .names import check_name, max_name_length
from .rollout import check_rollout
from .scaling import COMPONENTS, check_annotations, check_component

__all__ = ["Finding", "SUPPORTED_MINORS", "check_inferenceservice", "check_deployment_mode", "check_name",
           "max_name_length"]

_MODE_PATH = f"metadata.annotations.{MODE_ANNOTATION}"
TAG_ROUTING = "serving.kserve.io/enable-tag-routing"


def check_inferenceservice(new: Mapping[str, object], old: Mapping[str, object] | None, minor: Minor) -> list[Finding]:
    """Every ported rule for the rendered InferenceService ``new`` on KServe ``minor`` (``old``: the
    previous render, ``None`` on create), sorted by field path. Raises ``ValueError`` for a minor
    the rules were not read from."""
    check_minor(minor)
    meta = as_map(new.get("metadata"))
    annotations = as_map(meta.get("annotations"))
    spec = as_map(new.get("spec"))
    out = check_deployment_mode(new, old, minor)
    out += _names(meta, annotations, spec, minor)
    out += check_annotations(annotations, minor)
    for comp in COMPONENTS:
        body = as_map(spec.get(comp))
        if body:
            out += check_component(body, f"spec.{comp}", annotations, minor)
    pred = as_map(spec.get("predictor"))
    if "model" in pred:
        out += check_model(as_map(pred.get("model")), "spec.predictor.model", minor)
    art_uri = as_str(as_map(as_map(spec.get("explainer")).get("art")).get("storageUri"))
    out += check_storage_uri(art_uri, "spec.explainer.art.storageUri", minor)
    for i, canary in enumerate(as_list(spec.get("canary"))):
        model = as_map(as_map(as_map(canary).get("predictor")).get("model"))
        out += check_storage_uri(as_str(model.get("storageUri")), f"spec.canary[{i}].predictor.model.storageUri", minor)
    out += check_env(spec, minor)
    out += check_rollout(new, old, minor)
    return sorted(set(out))


def _names(meta: Mapping[str, object], annotations: Mapping[str, object], spec: Mapping[str, object],
           minor: Minor) -> list[Finding]:
    """``check_name`` with what the object says: its mode (the shipped default, Knative, when the
    annotation is absent or unknown), namespace, components, predictor/canary names, tag routing."""
    value = as_str(annotations.get(MODE_ANNOTATION))
    mode = normalized_mode(value) if value is not None and value in known_modes(minor) else "Knative"
    canaries = [as_str(as_map(as_map(c).get("predictor")).get("name")) or "" for c in as_list(spec.get("canary"))]
    return check_name(as_str(meta.get("name")) or "", mode, minor, namespace=as_str(meta.get("namespace")),
                      predictor_name=as_str(as_map(spec.get("predictor")).get("name")) or "",
                      transformer="transformer" in spec, explainer="explainer" in spec,
                      tag_routing=annotations.get(TAG_ROUTING) == "true", canary_names=canaries)


def check_deployment_mode(new: Mapping[str, object], old: Mapping[str, object] | None, minor: Minor) -> list[Finding]:
    """The deployment-mode annotation: a value the minor knows and does not rewrite, no change on
    update, and the 0.19.0 first-reconcile trap. Sources (kserve/kserve): ``GetDeploymentMode``
    (v0.15.2:pkg/controller/v1beta1/inferenceservice/utils/utils.go:176-193, v0.16.0:221-245),
    ``DefaultInferenceService`` (v0.17.1:pkg/apis/serving/v1beta1/inference_service_defaults.go:157-170),
    ``validateDeploymentMode`` (v0.15.2:inference_service_validation.go:447-456, v0.19.0:586-597,
    v0.20.0:691-701)."""
    check_minor(minor)
    value = as_str(as_map(as_map(new.get("metadata")).get("annotations")).get(MODE_ANNOTATION))
    if value is None:
        return []
    out = _mode_value(value, minor)
    old_value = None if old is None else as_str(as_map(as_map(old.get("metadata")).get("annotations")).get(MODE_ANNOTATION))
    if old_value is not None:
        out += _mode_change(old_value, value, minor)
    elif old is None and minor == (0, 19) and value in known_modes(minor) and normalized_mode(value) != "Standard":
        # v0.19.0:inference_service_validation.go:587: ParseDeploymentMode("") = "Standard" (kserve#5793, fixed by #5799).
        out.append(Finding(_MODE_PATH, f"expected no explicit mode other than Standard on KServe 0.19 (its webhook reads the "
                           f"empty status of a new object as 'Standard' and rejects the controller's first finalizer "
                           f"patch, kserve#5793: omit the annotation where the cluster default is {normalized_mode(value)}, "
                           f"or use KServe 0.20), found {value!r}", "deployment-mode-first-reconcile"))
    return out


def _mode_value(value: str, minor: Minor) -> list[Finding]:
    if minor < (0, 16):
        expected = "Serverless, RawDeployment or ModelMesh"
    else:
        expected = "Knative, Standard or ModelMesh"
    if value not in known_modes(minor):
        newer = [m for m in SUPPORTED_MINORS if value in known_modes(m)]
        if newer:
            why = (f"a name KServe knows from {v(newer[0])}; {v(minor)} runs the cluster default instead and then rejects "
                   f"every update whose annotation differs from status.deploymentMode")
        else:
            why = "an unknown value: the controller silently runs the cluster default"
        return [Finding(_MODE_PATH, f"expected {expected} on KServe {v(minor)}, found {value!r} ({why})", "deployment-mode-value")]
    if minor < (0, 16) or value not in ("Serverless", "RawDeployment"):
        return []
    new_name = normalized_mode(value)
    if minor == (0, 16):
        why = (f"0.16 records {new_name!r} in status.deploymentMode and rejects every later update that still says "
               f"{value!r}, kserve#4798")
    else:
        why = f"the {v(minor)} mutating webhook rewrites it to {new_name!r}: a permanent diff for Argo CD and Flux"
    return [Finding(_MODE_PATH, f"expected {expected} on KServe {v(minor)}, found {value!r} ({why})", "deployment-mode-legacy")]


def _mode_change(old_value: str, value: str, minor: Minor) -> list[Finding]:
    """The mode is fixed once KServe records it. Up to 0.16 the webhook compares the annotation as
    written; from 0.17 the defaulter has rewritten legacy names first, and from 0.19 the status is
    normalised too, so a legacy-to-new rename of the same mode passes there. A committed value the
    minor does not know ran as the cluster default (``GetDeploymentMode``), which is then what
    status holds: the configmap default of every shipped release, ``Serverless``."""
    if old_value not in known_modes(minor):
        running = "Serverless" if minor < (0, 16) else "Knative"
        if normalized_mode(value) == normalized_mode(running) and (minor >= (0, 17) or value == running):
            return []
        return [Finding(_MODE_PATH, f"expected {running!r}: the committed render's {old_value!r} is unknown to KServe {v(minor)}, "
                        f"so the object runs as the cluster default ({running!r}, recorded in status.deploymentMode) and "
                        f"an update to {value!r} is rejected; delete and recreate the InferenceService to change mode, "
                        f"found {value!r}", "deployment-mode-immutable")]
    if minor >= (0, 17):
        if normalized_mode(old_value) == normalized_mode(value):
            return []
    elif old_value == value:
        return []
    reason = (f"update rejected: deploymentMode cannot be changed from {old_value!r} to {value!r}; delete and recreate "
              "the InferenceService to change mode")
    if minor < (0, 15):
        reason = "KServe 0.14 does not check it (0.15 added the check) but the mode is meant to be fixed: delete and " \
                 "recreate the InferenceService to change mode"
    elif normalized_mode(old_value) == normalized_mode(value):
        reason = (f"KServe {v(minor)} compares the annotation with status.deploymentMode as written; the rename is "
                  "accepted from KServe 0.19 (kserve#5427)")
    return [Finding(_MODE_PATH, f"expected {old_value!r} as in the committed render ({reason}), found {value!r}",
                    "deployment-mode-immutable")]
