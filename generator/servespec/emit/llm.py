"""The objects of one LLM: its LLMInferenceService (and the canary's), the Hugging Face token's
Secret source and ServiceAccount, and its node-local cache objects.

The service is rendered in the API version the env's KServe stores it as (``v1alpha1`` on 0.16,
``v1alpha2`` from 0.17: ``Features.llm_storage_api_version``), so the live object never differs
from git by a conversion. It builds on servespec's pinned copies of KServe's presets
(``llm_presets.py``) and always names its served model explicitly (``spec.model.name``): the
members of a route group must serve the same model names, or KServe leaves them out of the split
(``kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/router_group.go:90-96``).

Releases, from the rollout state (``overlays/<env>.rollout.yaml``, ``spec/rollout.py::ModelState``):

- stable: one service ``<llm>`` at the stable URI; where KServe splits traffic between LLM
  services (0.20) and the plan has canary steps, it is already in its route group (``<llm>``) with
  weight 100, so a canary only adds a member and moves weights;
- canary at step N: ``<llm>`` at (100 - traffic) and ``<llm>-canary`` at ``traffic``, same group
  and model name (Gateway API weights are proportional: ``router_group_routing.go:32-44``);
- canary at step 0 (cache-then-switch, an LLM with a cache): only the candidate's cache object is
  added; the traffic step comes in a later commit, once the cache reports ready;
- rolled back: ``<llm>`` alone at the stable URI (the canary service is pruned; KServe's finalizer
  removes it from the other members' routes first: ``router_group.go:207-247``).

With ``cache``, every URI being served (stable, candidate) has a LocalModelNamespaceCache (or a
cluster-scoped LocalModelCache); KServe's defaulting webhook then points the service at the node
copy (0.19+, ``resolve_llm.py`` refuses earlier releases).
"""

from __future__ import annotations

from typing import Any

from ..kserve.llm_presets import pinned_name
from .isvc.common import NOT_SECRET
from ..metrics import version_id
from ..resolve_llm import canary_name, llm_plan, presets_of
from ..spec import LLM
from ..spec.llm import HF_TOKEN_KEY, HFTokenExistingSecret, HFTokenExternalSecret, Parallelism, Prefill
from ..spec.model import Resources
from ..spec.scheduling import Accelerators
from .context import EnvContext, Output, base_labels

__all__ = ["emit_llm", "llm_service", "members", "cache_objects", "token_objects", "token_secret", "token_account",
           "VERSION_LABEL", "LOCAL_MODEL_API"]

VERSION_LABEL = "serving.servespec.io/version"
"""Label of every rendered LLMInferenceService: the version id of the URI it serves."""
LOCAL_MODEL_API = "serving.kserve.io/v1alpha1"


def members(ctx: EnvContext, llm: LLM) -> list[tuple[str, str, int | None]]:
    """``(service name, model URI, route weight or None)`` of every LLMInferenceService to render."""
    state = ctx.rollout.get(llm.name)
    stable = state.stable if state is not None else llm.model_uri
    weighted = ctx.kserve.llm_router_route_weight and llm.router.route and len(llm_plan(llm, ctx.env, ctx.kserve).traffic) > 1
    traffic = state.traffic if state is not None and state.phase == "canary" and state.traffic else 0
    out: list[tuple[str, str, int | None]] = [(llm.name, stable, 100 - traffic if weighted else None)]
    if traffic and state is not None and state.candidate:  # resolve_llm: a canary has a candidate
        out.append((canary_name(llm.name), state.candidate, traffic))
    return out


def _cached_uris(ctx: EnvContext, llm: LLM) -> list[str]:
    state = ctx.rollout.get(llm.name)
    if state is None:
        return [llm.model_uri]
    uris = [state.stable]
    if state.phase == "canary" and state.candidate and state.candidate not in uris:
        uris.append(state.candidate)
    return uris


def _resources(res: Resources, acc: Accelerators | None) -> dict[str, dict[str, str]]:
    requests, limits = dict(res.requests), dict(res.limits)
    if acc is not None:
        requests[acc.resource] = limits[acc.resource] = str(acc.count)
    body = {}
    if requests:
        body["requests"] = dict(sorted(requests.items()))
    if limits:
        body["limits"] = dict(sorted(limits.items()))
    return body


def _pod(llm: LLM, res: Resources, acc: Accelerators | None) -> dict[str, Any]:
    """A pod template fragment merged over the presets' (container ``main`` by name)."""
    main: dict[str, Any] = {"name": "main"}
    resources = _resources(res, acc)
    if resources:
        main["resources"] = resources
    if llm.env:
        main["env"] = [{"name": k, "value": v} for k, v in sorted(llm.env.items())]
    pod: dict[str, Any] = {"containers": [main]} if len(main) > 1 else {}
    if llm.node_selector:
        pod["nodeSelector"] = dict(sorted(llm.node_selector.items()))
    if llm.tolerations:
        pod["tolerations"] = [t.rendered() for t in llm.tolerations]
    if llm.hf_token is not None:
        pod["serviceAccountName"] = token_account(llm)
    return pod


def _parallelism(p: Parallelism) -> dict[str, Any]:
    body = p.model_dump(by_alias=True, exclude_none=True)
    if not p.expert:
        body.pop("expert")
    return body


def _prefill(llm: LLM, p: Prefill) -> dict[str, Any]:
    body: dict[str, Any] = {"replicas": p.replicas}
    if p.parallelism:
        body["parallelism"] = _parallelism(p.parallelism)
    template = _pod(llm, p.resources, p.accelerators)
    if template:
        body["template"] = template
    if p.multi_node:
        body["worker"] = _pod(llm, p.resources, p.accelerators)
    return body


def _router(llm: LLM, weight: int | None) -> dict[str, Any]:
    r = llm.router
    router: dict[str, Any] = {}
    refs = [{"name": g.name, **({"namespace": g.namespace} if g.namespace else {})} for g in r.gateway]
    router["gateway"] = {"refs": refs} if refs else {}
    if r.route:
        router["route"] = {"group": llm.name, "weight": weight} if weight is not None else {}
    if r.scheduler:
        router["scheduler"] = {}
    return router


def llm_service(ctx: EnvContext, llm: LLM, name: str, uri: str, weight: int | None) -> dict[str, Any]:
    """One LLMInferenceService of ``llm``: the stable one (``name == llm.name``) or the canary."""
    spec: dict[str, Any] = {"model": {"uri": uri, "name": llm.model_name}}
    refs = [pinned_name(p, ctx.kserve.release) for p in presets_of(llm)] if llm.pin_presets else []
    refs += [r for r in llm.base_refs if r not in refs]
    if refs:
        spec["baseRefs"] = [{"name": r} for r in refs]
    if llm.scaling is not None:
        s = llm.scaling
        spec["scaling"] = {"minReplicas": s.min_replicas, "maxReplicas": s.max_replicas, "wva": {s.actuator: {}}}
    else:
        spec["replicas"] = llm.replicas or 1
    if llm.parallelism:
        spec["parallelism"] = _parallelism(llm.parallelism)
    template = _pod(llm, llm.resources, llm.accelerators)
    if template:
        spec["template"] = template
    if llm.multi_node:
        spec["worker"] = _pod(llm, llm.resources, llm.accelerators)
    if llm.prefill:
        spec["prefill"] = _prefill(llm, llm.prefill)
    spec["router"] = _router(llm, weight)
    meta: dict[str, Any] = {"name": name, "namespace": ctx.namespace,
                            "labels": {**base_labels(llm.name), **llm.labels, VERSION_LABEL: version_id(uri)}}
    annotations = {**llm.annotations, **({NOT_SECRET: ",".join(sorted(llm.not_secret))} if llm.not_secret else {})}
    if annotations:
        meta["annotations"] = annotations
    api = ctx.kserve.llm_storage_api_version or "serving.kserve.io/v1alpha2"
    return {"apiVersion": api, "kind": "LLMInferenceService", "metadata": meta, "spec": spec}


def token_secret(llm: LLM) -> str:
    """The Secret holding the LLM's Hugging Face token under ``HF_TOKEN``."""
    token = llm.hf_token
    return token.name if isinstance(token, HFTokenExistingSecret) else f"{llm.name}-hf-token"


def token_account(llm: LLM) -> str:
    """The ServiceAccount the LLM's pods (and its namespace cache) run as, listing the token's Secret:
    KServe passes a listed Secret's ``HF_TOKEN`` to the storage initializer
    (``kserve/kserve@v0.20.0:pkg/credentials/service_account_credentials.go:261,331``)."""
    return f"{llm.name}-hf"


def token_objects(ctx: EnvContext, llm: LLM) -> list[dict[str, Any]]:
    """The token's ExternalSecret or SealedSecret (none for an existing Secret) and the ServiceAccount."""
    token = llm.hf_token
    if token is None:
        return []
    name, ns = token_secret(llm), ctx.namespace
    labels = base_labels(llm.name)
    out: list[dict[str, Any]] = []
    if isinstance(token, HFTokenExternalSecret):
        remote = {"key": token.token.key, **({"property": token.token.property} if token.token.property else {})}
        out.append({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "spec": {"refreshInterval": token.refresh_interval,
                             "secretStoreRef": {"kind": token.store_kind, "name": token.store},
                             "target": {"name": name, "creationPolicy": "Owner", "template": {"type": "Opaque"}},
                             "data": [{"secretKey": HF_TOKEN_KEY, "remoteRef": remote}]}})
    elif not isinstance(token, HFTokenExistingSecret):
        meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
        if token.scope != "strict":
            meta["annotations"] = {f"sealedsecrets.bitnami.com/{token.scope}": "true"}
        out.append({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta,
                    "spec": {"encryptedData": {HF_TOKEN_KEY: token.token},
                             "template": {"type": "Opaque", "metadata": {"name": name, "namespace": ns}}}})
    out.append({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": token_account(llm), "namespace": ns, "labels": labels},
                "secrets": [{"name": name}]})
    return out


def cache_objects(ctx: EnvContext, llm: LLM) -> list[dict[str, Any]]:
    """A LocalModelNamespaceCache (or cluster-scoped LocalModelCache) per URI being served: named
    after the URI's version id, since ``sourceModelUri`` is immutable."""
    cache = llm.cache
    if cache is None:
        return []
    out = []
    for uri in _cached_uris(ctx, llm):
        spec: dict[str, Any] = {"sourceModelUri": uri, "modelSize": cache.model_size, "nodeGroups": list(cache.node_groups)}
        labels = {**base_labels(llm.name), VERSION_LABEL: version_id(uri)}
        if cache.scope == "namespace":
            if llm.hf_token is not None:
                spec["serviceAccountName"] = token_account(llm)
            meta = {"name": f"{llm.name}-{version_id(uri)}", "namespace": ctx.namespace, "labels": labels}
            out.append({"apiVersion": LOCAL_MODEL_API, "kind": "LocalModelNamespaceCache", "metadata": meta, "spec": spec})
        else:
            meta = {"name": f"{ctx.namespace}-{llm.name}-{version_id(uri)}", "labels": labels}
            out.append({"apiVersion": LOCAL_MODEL_API, "kind": "LocalModelCache", "metadata": meta, "spec": spec})
    return out


def emit_llm(ctx: EnvContext, llm: LLM) -> list[Output]:
    """Every object of one LLM except monitoring, under ``models/<llm>/``."""
    base = f"models/{llm.name}"
    out = [Output(f"{base}/llminferenceservice-{name}.yaml" if name != llm.name else f"{base}/llminferenceservice.yaml",
                  llm_service(ctx, llm, name, uri, weight), llm.name) for name, uri, weight in members(ctx, llm)]
    for obj in token_objects(ctx, llm):
        out.append(Output(f"{base}/{obj['kind'].lower()}.yaml", obj, llm.name))
    for obj in cache_objects(ctx, llm):
        out.append(Output(f"{base}/{obj['kind'].lower()}-{obj['metadata']['labels'][VERSION_LABEL]}.yaml", obj, llm.name))
    return out
