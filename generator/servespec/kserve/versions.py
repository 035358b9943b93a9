"""What each KServe minor accepts and acts on, for emission: one table per minor, 0.14 … 0.20.

Facts that are fields of a CRD are checked against the packaged schemas by
``tests/test_kserve_versions.py`` (so this table cannot drift from them); facts about behaviour
cite the upstream code at the tag (``kserve/kserve@TAG:path:line``) here and in that test.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .schemas import resolve_version

__all__ = ["Features", "features", "first_minor_with", "MINORS"]


@dataclass(frozen=True)
class Features:
    """One KServe minor, as a renderer needs to know it."""

    minor: str
    """``"0.15"``."""
    release: str
    """The shipped patch release whose schemas and code these facts come from, ``"0.15.2"``."""
    knative_mode: str
    """``serving.kserve.io/deploymentMode`` value for Knative (serverless) mode: ``Serverless`` before 0.16, then ``Knative``."""
    standard_mode: str
    """The value for plain Deployments: ``RawDeployment`` before 0.16, then ``Standard``."""
    legacy_mode_names_rewritten: bool
    """The mutating webhook rewrites ``Serverless``/``RawDeployment`` to the new names (0.17+), so
    emitting a legacy name there is a permanent GitOps diff. 0.16 accepts both names as they are."""
    default_deployment_mode: str
    """``deploy.defaultDeploymentMode`` of the release's shipped ``inferenceservice`` configmap (the
    mode an ISVC without the annotation gets on a cluster that kept the default)."""
    knative_canary: bool
    """``canaryTrafficPercent`` splits traffic between Knative revisions (Knative mode only; in
    Standard mode it is accepted and silently ignored in every version)."""
    standard_canary: bool
    """``spec.canary[]`` (Standard-mode canaries with ``trafficPercent``) is in the CRD (0.20)."""
    standard_canary_routes: bool
    """The controller routes ``spec.canary[].trafficPercent`` of the traffic to the canary. False in
    every shipped release: v0.20.0 creates the canary Deployments and Services but no ingress or
    HTTPRoute weights (those came after v0.20.0, kserve#5912)."""
    predictor_name: bool
    """``spec.predictor.name`` exists (0.20; changing it needs a storageUri change)."""
    storage_uris: bool
    """``storageUris[]`` (several model URIs with mount paths) on predictor/transformer/explainer (0.16+)."""
    keda_autoscaling: bool
    """``autoScaling`` (metrics for KEDA/HPA, ``serving.kserve.io/autoscalerClass: keda``) exists (0.15+)."""
    llm_inference_service: bool
    """The ``LLMInferenceService`` kind exists (0.16+)."""
    llm_api_versions: tuple[str, ...]
    """The apiVersions ``LLMInferenceService`` is served as (empty before 0.16)."""
    llm_storage_api_version: str | None
    """The apiVersion it is stored as: ``v1alpha1`` in 0.16, ``v1alpha2`` from 0.17 (None before 0.16)."""
    local_model_namespace_cache: bool
    """The ``LocalModelNamespaceCache`` kind exists (0.18+)."""
    llm_router_route_weight: bool
    """``LLMInferenceService.spec.router.route.group``/``weight`` exist and set HTTPRoute backend weights (0.20)."""
    explicit_knative_mode: bool = True
    """An explicit ``deploymentMode: Knative`` annotation is safe. False on 0.19 only: there any explicit
    mode other than Standard blocks the controller's first finalizer patch on create (kserve#5793, fixed
    in 0.20), so Knative-mode objects leave the annotation out and rely on the cluster default."""
    llm_scaling: bool = False
    """``LLMInferenceService.spec.scaling`` (autoscaling through the workload variant autoscaler, KEDA
    or HPA) and ``spec.labels``/``annotations`` exist (0.17+; 0.16 has fixed ``replicas`` only)."""
    llm_local_model_cache: bool = False
    """An LLMInferenceService whose model URI a LocalModelCache/LocalModelNamespaceCache holds is served
    from the node-local copy (0.19+: the defaulting webhook labels it, the controller mounts the PVC)."""
    worker_parallel_sizes: bool = False
    """``workerSpec.pipelineParallelSize``/``tensorParallelSize`` (multi-node serving) exist (0.15+; 0.14 has ``size``)."""
    autoscaling_behavior: bool = False
    """``autoScaling.behavior`` and ``autoScaling.metrics[].external.authenticationRef`` exist (0.16+)."""
    azure_access_token: bool = False
    """The credential builder reads ``AZURE_ACCESS_TOKEN`` from a storage Secret (0.16+)."""
    multinode_oci: bool = False
    """A multi-node predictor may load from ``oci://`` besides ``pvc://`` (0.16+)."""


_V1ALPHA1 = "serving.kserve.io/v1alpha1"
_V1ALPHA2 = "serving.kserve.io/v1alpha2"

# Each minor is the one before it plus what changed. Upstream sources (kserve/kserve@TAG:path:line):
_V0_14 = Features(
    minor="0.14", release="0.14.1",
    # @v0.14.1:pkg/constants/constants.go:375-376 (Serverless, RawDeployment, ModelMesh)
    knative_mode="Serverless", standard_mode="RawDeployment", legacy_mode_names_rewritten=False,
    default_deployment_mode="Serverless",
    # @v0.14.1:pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:120, its only reader
    knative_canary=True,
    standard_canary=False, standard_canary_routes=False, predictor_name=False, storage_uris=False,
    keda_autoscaling=False, llm_inference_service=False, llm_api_versions=(), llm_storage_api_version=None,
    local_model_namespace_cache=False, llm_router_route_weight=False,
)
# autoScaling read by @v0.15.2:pkg/controller/v1beta1/inferenceservice/reconcilers/keda/keda_reconciler.go:75
# workerSpec sizes: @v0.15.2:pkg/apis/serving/v1beta1/inference_service_validation.go:149-195 (pvc:// only, :175)
_V0_15 = replace(_V0_14, minor="0.15", release="0.15.2", keda_autoscaling=True, worker_parallel_sizes=True)
# @v0.16.0:pkg/constants/constants.go:464-467 (Knative, Standard; old names kept as deprecated aliases,
# not rewritten: no normalisation in @v0.16.0:pkg/apis/serving/v1beta1/inference_service_defaults.go:157)
# AZURE_ACCESS_TOKEN: @v0.16.0:pkg/credentials/service_account_credentials.go:314; oci:// multi-node:
# @v0.16.0:pkg/apis/serving/v1beta1/inference_service_validation.go:218
_V0_16 = replace(_V0_15, minor="0.16", release="0.16.0", knative_mode="Knative", standard_mode="Standard",
                 autoscaling_behavior=True, azure_access_token=True, multinode_oci=True, storage_uris=True,
                 llm_inference_service=True, llm_api_versions=(_V1ALPHA1,), llm_storage_api_version=_V1ALPHA1)
# @v0.17.1:pkg/apis/serving/v1beta1/inference_service_defaults.go:160-169 rewrites RawDeployment/Serverless
_V0_17 = replace(_V0_16, minor="0.17", release="0.17.1", legacy_mode_names_rewritten=True,
                 llm_api_versions=(_V1ALPHA1, _V1ALPHA2), llm_storage_api_version=_V1ALPHA2, llm_scaling=True)
# @v0.18.1:pkg/controller/v1alpha1/localmodel/reconcilers/localmodelnamespacecache_reconciler.go
_V0_18 = replace(_V0_17, minor="0.18", release="0.18.1", local_model_namespace_cache=True)
# kserve#5793: @v0.19.0 validates the mode on the finalizer patch of a new object (docs/kserve-rules.md, rule 4)
# LLM local model cache: @v0.19.0:pkg/webhook/admission/llminferenceservice/defaulter.go:166 labels the service,
# @v0.19.0:pkg/controller/v1alpha2/llmisvc/workload_storage.go:104 serves it from the cache's PVC (no such code at 0.18.1).
_V0_19 = replace(_V0_18, minor="0.19", release="0.19.0", explicit_knative_mode=False, llm_local_model_cache=True)
# spec.canary[]: @v0.20.0:pkg/controller/v1beta1/inferenceservice/components/predictor.go:232 reconciles the
# canary Deployments/Services; reconcilers/ingress/ has no canary code at v0.20.0 (HTTPRoute weights came
# with kserve#5912, commit 85b09080, not an ancestor of v0.20.0), so the split does not route.
# LLM route weights: @v0.20.0:pkg/controller/v1alpha2/llmisvc/router_group_routing.go:42 (HTTPRoute backend weight).
_V0_20 = replace(_V0_19, minor="0.20", release="0.20.0", standard_canary=True, predictor_name=True,
                 llm_router_route_weight=True, explicit_knative_mode=True)

MINORS: dict[str, Features] = {f.minor: f for f in (_V0_14, _V0_15, _V0_16, _V0_17, _V0_18, _V0_19, _V0_20)}
"""Every supported minor's features, oldest first (one per release in ``SUPPORTED``)."""


def features(kserve_version: str) -> Features:
    """The features of the KServe version an env names (``"0.15"``, ``"v0.15"``, ``"0.15.2"``).

    Raises:
        ValueError: the version is not supported (the message lists the supported minors).
    """
    return MINORS[resolve_version(kserve_version).rsplit(".", 1)[0]]


def first_minor_with(feature: str) -> str | None:
    """The oldest supported minor where ``feature`` (a ``Features`` field) is true, or None: for
    messages like ``spec.canary needs KServe 0.20``.

    Raises:
        ValueError: ``feature`` is not a boolean field of ``Features``.
    """
    flags = [f.name for f in fields(Features) if f.type in ("bool", bool)]
    if feature not in flags:
        raise ValueError(f"unknown KServe feature {feature!r}: expected a yes/no field of Features, e.g. 'standard_canary'")
    for minor, known in MINORS.items():
        if getattr(known, feature):
            return minor
    return None
