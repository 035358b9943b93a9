"""Resolution of what an environment renders besides its models (called by ``resolve.py``): the serving
runtimes its models and rollout states pin, its InferenceGraphs, its extra manifests and ServiceAccounts,
and the checks of storage endpoints beyond S3. Every problem is one located line; emitters never raise.

A runtime a rollout state pins but no spec declares any more (its image was bumped, and the model has not
been released since) is carried over verbatim from the committed render, ``rendered/<env>/common/runtimes/``:
servespec wrote it, so re-emitting it is byte-exact. It disappears (is pruned) once no state pins it.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem
from .kserve.schemas import schema_id
from .kserve.versions import Features, first_minor_with
from .overlay import Env
from .spec import InferenceGraph, Model, Runtime
from .spec.graph import ROOT
from .spec.rollout import ModelState
from .spec.storage import ExistingSecret, StorageEndpoint
from .spec.storage_kinds import AZURE_ACCESS_TOKEN, AzureStorage, Storage, uri_matches
from .yamlio import load_all

__all__ = ["RuntimeObject", "RUNTIMES_DIR", "runtime_catalog", "runtime_override_problems", "pins", "needed_runtimes", "env_runtimes", "env_graphs", "extra_problems",
           "storage_surface_problems", "uri_problems", "has_schema", "runtime_file"]

RuntimeObject = Runtime | dict[str, Any]
"""A runtime to render: its spec, or the object carried over from the committed render."""

RUNTIMES_DIR = "runtimes"
"""Folder of the runtimes inside the env's ``common/`` unit."""


def runtime_file(name: str) -> str:
    """Path of a rendered runtime, relative to ``rendered/<env>/``."""
    return f"common/{RUNTIMES_DIR}/{name}.yaml"


def runtime_catalog(models: Iterable[Model]) -> tuple[dict[str, Runtime], dict[str, Runtime]]:
    """The ``Runtime`` specs the models use: by base name (only names used by exactly one spec, for
    overlays' ``runtime:``), and by rendered name."""
    by_rendered: dict[str, Runtime] = {}
    for m in models:
        if isinstance(m.predictor.runtime, Runtime):
            by_rendered.setdefault(m.predictor.runtime.rendered_name, m.predictor.runtime)
    names = [rt.name for rt in by_rendered.values()]
    by_base = {rt.name: rt for rt in by_rendered.values() if names.count(rt.name) == 1}
    return by_base, by_rendered


def runtime_override_problems(env: Env, by_rendered: dict[str, Runtime]) -> list[Problem]:
    """An overlay's ``runtime:`` must not name two ``Runtime`` specs at once."""
    counts = Counter(rt.name for rt in by_rendered.values())
    out = []
    for model, override in env.overlay.models.items():
        if override.runtime is not None and counts.get(override.runtime, 0) > 1:
            file, line = env.where("models", model, "runtime")
            out.append(Problem(file, line, f"models.{model}.runtime", f"expected the name of one Runtime, found {override.runtime!r}, "
                                                                      f"the name of {counts[override.runtime]} (give them different names)"))
    return out


def pins(model: Model, state: ModelState | None) -> list[str]:
    """Rendered runtime names a model needs in the cluster: its state's pins, else its spec's."""
    if state is not None and (state.runtime or state.candidate_runtime):
        return [n for n in (state.runtime, state.candidate_runtime if state.phase == "canary" else None) if n]
    rt = model.predictor.runtime
    return [rt.rendered_name] if isinstance(rt, Runtime) else []


def needed_runtimes(models: dict[str, Model], state: dict[str, ModelState]) -> list[str]:
    """The runtimes an environment renders: what its models' specs use or their rollout states pin, sorted
    (anything else is pruned). The runtime emitter asks this of the context it is given, so a rollout
    transition that moves a pin re-renders the right set."""
    return sorted({name for m, model in models.items() for name in pins(model, state.get(m))})


def env_runtimes(root: Path, env: Env, models: dict[str, Model], state: dict[str, ModelState],
                 lines: dict[str, int | None], declared: dict[str, Runtime]) -> tuple[dict[str, RuntimeObject], list[Problem]]:
    """Every runtime the env may render, by rendered name: the ``Runtime`` specs of its models, and the
    runtimes the rollout states pin that no spec declares any more (carried over from the committed render);
    and a problem per pin that is nowhere."""
    out: dict[str, RuntimeObject] = dict(declared)
    problems: list[Problem] = []
    for name, model in models.items():
        for rt_name in pins(model, state.get(name)):
            if rt_name in out:
                continue
            carried = _carried(root, env.name, rt_name)
            if carried is None:
                problems.append(Problem(f"overlays/{env.name}.rollout.yaml", lines.get(name), f"models.{name}.runtime",
                                        f"{rt_name} is pinned here, but no Runtime in specs/ has that spec and "
                                        f"rendered/{env.name}/{runtime_file(rt_name)} is gone: restore the Runtime it was "
                                        f"made from, or release {name} on the current one"))
            else:
                out[rt_name] = carried
    return dict(sorted(out.items())), problems


def _carried(root: Path, env: str, name: str) -> dict[str, Any] | None:
    """The runtime object committed at ``rendered/<env>/common/runtimes/<name>.yaml``, if servespec wrote it."""
    path = root / "rendered" / env / runtime_file(name)
    try:
        docs = load_all(path.read_bytes())
    except (OSError, yaml.YAMLError):
        return None
    doc = docs[0] if len(docs) == 1 else None
    if not isinstance(doc, dict) or doc.get("kind") not in ("ServingRuntime", "ClusterServingRuntime"):
        return None
    meta = doc.get("metadata")
    return doc if isinstance(meta, dict) and meta.get("name") == name else None


def env_graphs(graphs: dict[str, InferenceGraph], declared: dict[str, Model], origin: dict[tuple[str, str], str],
               env: Env, models: dict[str, Model]) -> tuple[dict[str, InferenceGraph], list[Problem]]:
    """The graphs rendered in ``env`` (overrides applied) and what keeps one from rendering."""
    out: dict[str, InferenceGraph] = {}
    problems: list[Problem] = []
    for name, g in sorted(graphs.items()):
        override = env.overlay.graphs.get(name)
        if override is not None and not override.enabled:
            continue
        file = origin[("graph", name)]
        found = _graph_problems(g, declared, env, models)
        problems += [Problem(file, None, f"{name}.{field}" if field else name, msg) for field, msg in found]
        if override is not None:
            update = {k: getattr(override, k) for k in ("min_replicas", "max_replicas") if getattr(override, k) is not None}
            g = g.model_copy(update=update) if update else g
        out[name] = g
    for name in env.overlay.graphs:
        if name not in graphs:
            file, line = env.where("graphs", name)
            problems.append(Problem(file, line, f"graphs.{name}", f"unknown InferenceGraph (declared: {', '.join(sorted(graphs)) or 'none'})"))
    return out, problems


def _graph_problems(g: InferenceGraph, declared: dict[str, Model], env: Env, models: dict[str, Model]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if g.name in declared:
        found.append(("name", f"expected a name no model has (the graph's and the model's hostnames would collide), found {g.name!r}"))
    for node_name, node in g.nodes.items():
        for i, step in enumerate(node.steps):
            m = step.model
            if m is None:
                continue
            where = f"nodes.{node_name}.steps[{i}].model"
            if declared.get(m.name) != m:
                found.append((where, f"expected a Model declared at module level in specs/, found {m.name!r}, which is not"))
            elif m.name not in models:
                found.append((where, f"{m.name} is disabled in env {env.name!r}: expected it enabled, or graphs.{g.name}.enabled: "
                                     f"false in overlays/{env.name}.yaml"))
    if g.deployment_mode == "Standard" and g.monitoring.enabled:
        found.append(("monitoring", "expected monitoring=GraphMonitoring(enabled=False) in Standard mode (KServe's router "
                                    "exports no metrics; Knative mode's queue-proxy does), found it enabled"))
    assert ROOT in g.nodes  # the spec's validator
    return found


# -- extra manifests ------------------------------------------------------------------------------------
def _builtin_schema(k8s_version: str, api_version: str, kind: str) -> bool:
    """Whether kubernetes-validate has a schema for the kind at (or below) the env's Kubernetes
    version. Its schema folders are listed without importing the package (which imports
    jsonschema: 0.1 s that every render and rollout command would pay)."""
    want = _minor(k8s_version)
    versions = sorted((_minor(v), name) for v, name in _builtin_versions() if _minor(v) <= want)
    if not versions:
        return False
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return (_builtin_root() / versions[-1][1] / f"{kind.lower()}-{group_version}.json").is_file()


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.match(r"^v?(\d+)\.(\d+)", version).groups()  # type: ignore[union-attr]  # versions are checked on load
    return int(major), int(minor)


@functools.cache
def _builtin_root() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec is not None and spec.submodule_search_locations, "kubernetes-validate is a dependency"
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@functools.cache
def _builtin_versions() -> list[tuple[str, str]]:
    """(version, folder) of every strict schema set kubernetes-validate ships."""
    return [(p.name[1:].split("-")[0], p.name) for p in _builtin_root().iterdir()
            if p.name.startswith("v") and p.name.endswith("-local-strict")]


def has_schema(k8s_version: str, kserve_version: str, api_version: str, kind: str) -> bool:
    """A schema ``validate`` knows with no flags: Kubernetes' built-in kinds, or the CRDs servespec ships."""
    return schema_id(api_version, kind, kserve_version) is not None or _builtin_schema(k8s_version, api_version, kind)


def extra_problems(env: Env) -> list[Problem]:
    """Extra manifests: a known schema, no plaintext Secret data where the env forbids it, no duplicates."""
    o = env.overlay
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, x in enumerate(o.extra_manifests):
        file, line = env.where("extraManifests", i)
        where = f"extraManifests[{i}]"
        if not has_schema(o.kubernetes_version, o.kserve_version, x.api_version, x.kind):
            problems.append(Problem(file, line, f"{where}.kind", f"expected a kind with a schema servespec knows (Kubernetes "
                                    f"{o.kubernetes_version} built-in kinds, the CRDs shipped for KServe {o.kserve_version}, "
                                    f"Argo CD, Flux, prometheus-operator, External Secrets, Sealed Secrets), found "
                                    f"{x.api_version} {x.kind}"))
        if x.kind == "Secret" and x.api_version == "v1" and ({"data", "stringData"} & set(x.body)) and not o.allow_plaintext_secrets:
            problems.append(Problem(file, line, f"{where}.body", f"plaintext secret data in git is refused in env {env.name!r}: "
                                    f"use an ExternalSecret or SealedSecret (allowPlaintextSecrets: true is for a local demo only)"))
        key = (x.kind, x.metadata.namespace or "", x.metadata.name)
        if key in seen:
            problems.append(Problem(file, line, f"{where}.metadata.name", f"expected one {x.kind} named {x.metadata.name!r}, "
                                    f"found it twice (also extraManifests[{seen[key]}])"))
        seen.setdefault(key, i)
    return problems


# -- storage and ServiceAccounts ------------------------------------------------------------------------
def storage_surface_problems(env: Env, kserve: Features, storage: dict[str, Storage], models: dict[str, Model],
                             origin: dict[tuple[str, str], str]) -> list[Problem]:
    """A model's URI must suit its endpoint's kind; keys the env's KServe does not read; ServiceAccount
    names taken twice."""
    problems = uri_problems(storage, models.values(), origin)
    for s in storage.values():
        creds = s.credentials
        if isinstance(s, AzureStorage) and creds is not None and not isinstance(creds, ExistingSecret) \
                and AZURE_ACCESS_TOKEN in creds.keys() and not kserve.azure_access_token:
            file, line = _storage_where(env, s, origin)
            problems.append(Problem(file, line, f"storage.{s.name}.credentials", f"expected a client secret or storage key on "
                                    f"KServe {kserve.minor} ({AZURE_ACCESS_TOKEN} is read from KServe "
                                    f"{first_minor_with('azure_access_token')}), found {AZURE_ACCESS_TOKEN}"))
    taken = {_sa(s): s.name for s in storage.values()}
    for name in env.overlay.service_accounts:
        if name in taken:
            file, line = env.where("serviceAccounts", name)
            problems.append(Problem(file, line, f"serviceAccounts.{name}", f"expected a name no storage endpoint's "
                                    f"ServiceAccount has, found the one of {taken[name]!r}"))
    return problems


def uri_problems(storage: dict[str, Storage], models: Iterable[Model], origin: dict[tuple[str, str], str]) -> list[Problem]:
    """A model's URI must suit its endpoint's kind (the part of ``storage_surface_problems`` that is per model)."""
    problems: list[Problem] = []
    for m in models:
        s = storage.get(m.storage) if m.storage else None
        if s is not None and not uri_matches(s, m.predictor.storage_uri):
            problems.append(Problem(origin[("model", m.name)], None, f"{m.name}.storage",
                                    f"expected an endpoint that reads {m.predictor.storage_uri.split('://')[0]}:// URIs, found "
                                    f"{type(s).__name__} {s.name!r}"))
    return problems


def _sa(s: StorageEndpoint) -> str:
    return s.effective_service_account_name


def _storage_where(env: Env, s: StorageEndpoint, origin: dict[tuple[str, str], str]) -> tuple[str, int | None]:
    if s.name in env.overlay.storage and "credentials" in env.overlay.storage[s.name].model_fields_set:
        return env.where("storage", s.name, "credentials")
    return origin[("storage", s.name)], None
