"""Controller objects of an environment: ``rendered/<env>/bootstrap/``.

The overlay's ``delivery`` decides the controller. Its objects live in their own kustomization,
``rendered/<env>/bootstrap/``, which ``rendered/<env>/kustomization.yaml`` does not list: they
go to the controller's namespace (``argocd``/``flux-system``), not the environment's, and
``kubectl kustomize rendered/<env>`` stays exactly the environment's objects. A cluster
bootstraps with one step, ``kubectl apply -k rendered/<env>/bootstrap``; from then on the
controller manages the bootstrap folder itself, so changing ``delivery`` is a commit too.

Each unit of the environment (``common``, one per model or shard: ``emit/layout.py``) is
synced by its own controller object, so a commit that touches one model rebuilds one small
kustomization:

- Argo CD: an Application for ``bootstrap`` (app of apps), one for ``common``, and an
  ApplicationSet whose git directory generator makes one Application per model/shard folder,
  each with ``argocd.argoproj.io/manifest-generate-paths: .``.
- Flux: a GitRepository (fetching only this environment's folder) and a Kustomization per unit,
  with ``prune``; model units health-check each predictor's own workload (see :func:`_health_checks`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..spec.delivery import EnvDelivery
from .context import COMMON, EnvContext, Output, base_labels, kustomization

__all__ = ["emit", "BOOTSTRAP", "ISVC_IGNORE_DIFFERENCES", "SYNC_OPTIONS"]

BOOTSTRAP = "bootstrap"

SYNC_OPTIONS = ["ServerSideApply=true", "RespectIgnoreDifferences=true", "PruneLast=true"]
"""Argo CD sync options of every generated Application.

``ServerSideApply``: no ``last-applied-configuration`` annotation (large objects) and field
ownership shared with KServe's controller; ``RespectIgnoreDifferences``: the ignored fields below
are not overwritten at sync either (argoproj/argo-cd#4912); ``PruneLast``: a model removed in the
same commit as others is deleted after the rest is healthy.
"""

ISVC_IGNORE_DIFFERENCES = [{
    "group": "serving.kserve.io",
    "kind": "InferenceService",
    "jqPathExpressions": [
        ".metadata.annotations.modelFormat",
        ".spec.predictor.automountServiceAccountToken",
        ".spec.transformer.automountServiceAccountToken",
        ".spec.explainer.automountServiceAccountToken",
    ],
}]
"""Fields KServe's defaulting webhook adds to an InferenceService that servespec does not render
(KSERVE.md §3: the ``modelFormat`` annotation, ``automountServiceAccountToken`` when the cluster's
``inferenceservice-config`` sets it). Everything else the webhook defaults — the model format, the
deployment mode annotation, requests and limits in canonical form — is rendered explicitly, so it
shows no diff either."""

COMPARE_OPTIONS = "ServerSideDiff=true,IncludeMutationWebhook=true"
"""Argo CD compares through a server-side dry run, webhooks included (stable since v3.1)."""

def _names(ctx: EnvContext) -> tuple[EnvDelivery, str, str]:
    d = ctx.env.overlay.delivery
    name = d.name or f"servespec-{ctx.env.name}"
    ns = d.controller_namespace or ("argocd" if d.controller == "argocd" else "flux-system")
    return d, name, ns


def repo_path(ctx: EnvContext, *parts: str) -> str:
    """A folder of ``rendered/<env>/`` as a path from the git root."""
    prefix = ctx.env.overlay.delivery.path.strip("/")
    return "/".join(p for p in (prefix, "rendered", ctx.env.name, *parts) if p)


def _label_safe(name: str) -> str:
    """Flux puts a Kustomization's name in a label value of every object it applies: at most 63
    characters, so longer names end in a short hash instead."""
    if len(name) <= 63:
        return name
    return f"{name[:54].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _unit_name(unit: str) -> str:
    """``models/x`` -> ``model-x``, ``shards/07`` -> ``shard-07``, ``common`` -> ``common``."""
    if unit == COMMON:
        return COMMON
    kind, _, leaf = unit.partition("/")
    return f"{kind.rstrip('s')}-{leaf}"


def emit(ctx: EnvContext, units: list[str], members: dict[str, list[str]]) -> list[Output]:
    """The controller objects of the env's ``units`` (``members``: the models of each) and their
    kustomization (nothing when ``controller: none``)."""
    d = ctx.env.overlay.delivery
    if d.controller == "none":
        return []
    objs = _argocd(ctx, units) if d.controller == "argocd" else _flux(ctx, units, members)
    outputs = [Output(f"{BOOTSTRAP}/{o['kind'].lower()}-{o['metadata']['name']}.yaml", o) for o in objs]
    outputs.append(kustomization(f"{BOOTSTRAP}/kustomization.yaml", outputs, f"{BOOTSTRAP}/"))
    return outputs


def _meta(name: str, ns: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": base_labels()}
    if annotations:
        meta["annotations"] = annotations
    return meta


# -- Argo CD ------------------------------------------------------------------------------------
def _argo_spec(ctx: EnvContext, path: str, models: bool, namespace: str | None = None) -> dict[str, Any]:
    d, _, _ = _names(ctx)
    sync: dict[str, Any] = {
        "syncOptions": list(SYNC_OPTIONS),
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
    }
    if d.sync.automated:
        sync["automated"] = {"prune": d.sync.prune, "selfHeal": d.sync.self_heal}
    spec: dict[str, Any] = {
        "project": d.project,
        "source": {"repoURL": d.repo_url, "targetRevision": d.revision, "path": path},
        "destination": {"server": d.destination_server, "namespace": namespace or ctx.namespace},
        "syncPolicy": sync,
    }
    if models:
        spec["ignoreDifferences"] = ISVC_IGNORE_DIFFERENCES
    return spec


def _argocd(ctx: EnvContext, units: list[str]) -> list[dict[str, Any]]:
    d, name, ns = _names(ctx)
    app_ann = {"argocd.argoproj.io/manifest-generate-paths": ".", "argocd.argoproj.io/compare-options": COMPARE_OPTIONS}
    objs: list[dict[str, Any]] = [{
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": _meta(name, ns, {"argocd.argoproj.io/manifest-generate-paths": "."}),
        "spec": _argo_spec(ctx, repo_path(ctx, BOOTSTRAP), False, ns),
    }]
    if COMMON in units:
        objs.append({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": _meta(f"{name}-{COMMON}", ns, app_ann),
            "spec": _argo_spec(ctx, repo_path(ctx, COMMON), False),
        })
    folder = "shards" if d.shards else "models"
    template_meta: dict[str, Any] = {
        "name": f"{name}-{folder.rstrip('s')}-{{{{ .path.basename }}}}",
        "labels": base_labels(),
        "annotations": app_ann,
    }
    if d.sync.prune:
        # Deleting the Application (its folder left git) deletes the model's objects too.
        template_meta["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    appset_spec: dict[str, Any] = {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"git": {
            "repoURL": d.repo_url,
            "revision": d.revision,
            "directories": [{"path": repo_path(ctx, folder, "*")}],
        }}],
        "template": {"metadata": template_meta, "spec": _argo_spec(ctx, "{{ .path.path }}", True)},
    }
    if not d.sync.prune:
        appset_spec["syncPolicy"] = {"applicationsSync": "create-update"}
    objs.append({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": _meta(f"{name}-{folder}", ns),
        "spec": appset_spec,
    })
    return objs


# -- Flux ---------------------------------------------------------------------------------------
def _health_checks(ctx: EnvContext, models: list[str]) -> list[dict[str, str]]:
    """What Flux checks for a unit's models: not the InferenceService, whose
    ``status.observedGeneration`` is copied from a child on every KServe <= 0.20 (kserve#6081), so
    kstatus, which compares it with ``metadata.generation`` before any CEL expression, could wait
    until the timeout; but the predictor's own workload, which keeps its own generation: the
    Knative Service (Knative mode) or the Deployment (Standard mode) named ``<model>-predictor``."""
    if ctx.env.overlay.kserve_api != "serving.kserve.io/v1beta1":
        return []
    checks = []
    for name in models:
        if name in ctx.llms:  # an LLM: its main Deployment (kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/
            if not ctx.llms[name].multi_node:  # workload_single_node.go:511-513); multi-node runs a LeaderWorkerSet
                checks.append({"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{name}-kserve", "namespace": ctx.namespace})
            continue
        model = ctx.models[name]
        api, kind = ("serving.knative.dev/v1", "Service") if model.deployment_mode == "Knative" else ("apps/v1", "Deployment")
        checks.append({"apiVersion": api, "kind": kind, "name": f"{name}-predictor", "namespace": ctx.namespace})
    return checks


def _flux(ctx: EnvContext, units: list[str], members: dict[str, list[str]]) -> list[dict[str, Any]]:
    d, name, ns = _names(ctx)
    git_spec: dict[str, Any] = {
        "interval": d.interval,
        "url": d.repo_url,
        "ref": {"branch": d.revision},
        # Fetch only this environment's tree: smaller artifacts, and no reconcile for other envs.
        "ignore": f"/*\n!/{repo_path(ctx)}/\n",
    }
    if d.secret_ref:
        git_spec["secretRef"] = {"name": d.secret_ref}
    objs: list[dict[str, Any]] = [{
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": _meta(name, ns),
        "spec": git_spec,
    }]

    def flux_kustomization(obj_name: str, path: str, depends: list[str], wait: bool,
                           checks: list[dict[str, str]] | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "interval": d.interval,
            "retryInterval": "1m",
            "timeout": d.timeout,
            "path": f"./{path}",
            "prune": d.sync.prune,
            "sourceRef": {"kind": "GitRepository", "name": name},
            "suspend": not d.sync.automated,
        }
        if wait:
            spec["wait"] = True
        if checks:
            spec["healthChecks"] = checks
        if depends:
            spec["dependsOn"] = [{"name": n} for n in depends]
        return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": _meta(obj_name, ns), "spec": spec}

    objs.append(flux_kustomization(name, repo_path(ctx, BOOTSTRAP), [], False))
    depends = [_label_safe(f"{name}-{COMMON}")] if COMMON in units else []
    for unit in units:
        own = _label_safe(f"{name}-{_unit_name(unit)}")
        if unit == COMMON:
            objs.append(flux_kustomization(own, repo_path(ctx, unit), [], True))
        else:
            objs.append(flux_kustomization(own, repo_path(ctx, unit), depends, False, _health_checks(ctx, members.get(unit, []))))
    return objs
