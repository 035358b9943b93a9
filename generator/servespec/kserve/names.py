"""How long an InferenceService name may be, from the names KServe and Knative derive from it.

Every derived name below must fit 63 characters (a DNS-1035/1123 label, a Service name or a
label value); the longest allowed InferenceService name is 63 minus the longest prefix+suffix:

- all modes: label ``serving.kserve.io/inferenceservice: <name>`` on every child object
  (kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/components/predictor.go:509);
- the component object name ``<name>-predictor`` (``-<predictor.name>-predictor`` from 0.20,
  ``-transformer``, ``-explainer``; kserve@v0.20.0:pkg/constants/constants.go:799-828);
- Knative mode: that name is a Knative Service name, validated as a DNS-1035 label
  (knative/pkg@release-1.17:apis/metadata_validation.go:55, called from
  knative/serving@v0.44.0:pkg/apis/serving/v1/service_validation.go:33); revisions
  (``-00001``) and their Deployments are shortened with a hash by ``kmeta.ChildName``
  (knative/pkg@release-1.17:kmeta/names.go:42), so they add no limit; with
  ``serving.kserve.io/enable-tag-routing: "true"`` the tag hosts ``latest-<ksvc>`` / ``prev-<ksvc>``
  (knative/networking@release-1.17:pkg/config/config.go:60, tags from
  kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:150,161)
  must be DNS labels (knative/serving@v0.44.0:pkg/reconciler/route/domains/domains.go:128);
- Standard mode: pod label ``app: isvc.<name>-predictor``
  (kserve@v0.20.0:pkg/constants/constants.go:755, deployment_reconciler.go:146) and, with KServe's
  default ingress ``domainTemplate`` ``{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}``
  (kserve@v0.20.0:pkg/apis/serving/v1beta1/configmap.go:55), the host label
  ``<name>-predictor-<namespace>``, which must pass ``IsFullyQualifiedDomainName``
  (kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/domain.go:61, built
  for every component by raw/raw_kube_reconciler.go:231) or the reconcile fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .findings import Finding, Minor, check_minor, normalized_mode, v

__all__ = ["LABEL_MAX", "ISVC_NAME_RE", "derived_names", "max_name_length", "check_name"]

LABEL_MAX = 63
"""DNS-1123/1035 label and label-value limit (kubernetes/apimachinery@v0.32.0:
pkg/util/validation/validation.go:159,183,248)."""

ISVC_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""``IsvcNameFmt`` (kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:46)."""

_NAME_FORMAT = ("lower case alphanumeric characters or '-', starting with a letter and ending with an alphanumeric "
                "character (regex '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _component_names(minor: Minor, mode: str, predictor_name: str, transformer: bool,
                     explainer: bool, canary_names: Sequence[str]) -> list[str]:
    """The object names of an InferenceService's components, ``{name}`` standing for its name."""
    pred = f"{{name}}-{predictor_name}-predictor" if predictor_name and minor >= (0, 20) else "{name}-predictor"
    names = [pred]
    if mode == "Standard" and minor >= (0, 20):
        names += [f"{{name}}-{c}-predictor" for c in canary_names if c]
    if transformer:
        names.append("{name}-transformer")
    if explainer:
        names.append("{name}-explainer")
    return names


def derived_names(mode: str, minor: Minor, *, namespace: str | None = None, predictor_name: str = "",
                  transformer: bool = False, explainer: bool = False, tag_routing: bool = False,
                  canary_names: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every name KServe/Knative derive from an InferenceService name that must fit 63 characters,
    as ``(template, what it is)`` with ``{name}`` in the template. ``mode`` may be an old or a new
    mode name; ``namespace`` adds the Standard-mode host labels (which need it)."""
    check_minor(minor)
    mode = normalized_mode(mode)
    if mode not in ("Knative", "Standard", "ModelMesh"):
        raise ValueError(f"unknown deployment mode {mode!r}: expected Knative, Standard or ModelMesh")
    out = [("{name}", "the value of the label serving.kserve.io/inferenceservice")]
    if mode == "ModelMesh":
        return out
    for cn in _component_names(minor, mode, predictor_name, transformer, explainer, canary_names):
        if mode == "Knative":
            out.append((cn, "the Knative Service name (a DNS-1035 label)"))
            if tag_routing:
                out.append((f"latest-{cn}", "the Knative tag host label (enable-tag-routing)"))
                out.append((f"prev-{cn}", "the Knative tag host label (enable-tag-routing)"))
        else:
            out.append((f"isvc.{cn}", "the pod label app"))
            if namespace:
                out.append((f"{cn}-{namespace}", "the host label under KServe's default ingress domainTemplate"))
    if mode == "Standard" and namespace:
        out.append((f"{{name}}-{namespace}", "the top-level host label under KServe's default ingress domainTemplate"))
    return out


def _room(template: str) -> int:
    return LABEL_MAX - (len(template) - len("{name}"))


def max_name_length(mode: str, minor: Minor, *, namespace: str | None = None, predictor_name: str = "",
                    transformer: bool = False, explainer: bool = False, tag_routing: bool = False,
                    canary_names: Sequence[str] = ()) -> int:
    """The longest InferenceService name whose derived names all fit (see the module docstring):
    without options, 53 in Knative mode and 48 in Standard mode, on every supported minor."""
    names = derived_names(mode, minor, namespace=namespace, predictor_name=predictor_name,
                          transformer=transformer, explainer=explainer, tag_routing=tag_routing,
                          canary_names=canary_names)
    return min(_room(t) for t, _ in names)


def check_name(name: str, mode: str, minor: Minor, *, namespace: str | None = None, predictor_name: str = "",
               transformer: bool = False, explainer: bool = False, tag_routing: bool = False,
               canary_names: Sequence[str] = ()) -> list[Finding]:
    """Findings for an InferenceService name: the webhook's name format, and a length whose derived
    names would not fit (the message names the longest allowed length and the name that overflows)."""
    out: list[Finding] = []
    if not ISVC_NAME_RE.match(name):
        out.append(Finding("metadata.name", f"expected {_NAME_FORMAT}, found {name!r}", "isvc-name-format"))
    names = derived_names(mode, minor, namespace=namespace, predictor_name=predictor_name,
                          transformer=transformer, explainer=explainer, tag_routing=tag_routing,
                          canary_names=canary_names)
    limit = min(_room(t) for t, _ in names)
    if len(name) > limit:
        template, what = min(names, key=lambda tw: (_room(tw[0]), tw[0]))
        derived = template.replace("{name}", name)
        out.append(Finding(
            "metadata.name",
            f"expected at most {limit} characters on KServe {v(minor)} in {normalized_mode(mode)} mode "
            f"({what} {template!r} must fit {LABEL_MAX} characters), found {len(name)} "
            f"({derived!r} has {len(derived)})",
            "name-length"))
    return out
