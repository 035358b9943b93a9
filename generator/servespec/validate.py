"""Validate rendered objects: built-in kinds, CRD kinds, and servespec's policies.

- Built-in kinds: kubernetes-validate's packaged strict schemas at the environment's Kubernetes
  version, one compiled validator per (version, kind) instead of a re-read per call
  (TOOLCHAIN.md §3: 17 s -> 0.2 s for 3,000 objects).
- Custom kinds: the ``openAPIV3Schema`` of the matching CRD in ``--crds DIR``, converted to JSON
  Schema with ``additionalProperties: false`` on every closed object so that typos such as
  ``canaryTrafficPercnt`` are caught (TOOLCHAIN.md §4); ``metadata`` against ObjectMeta. The
  converted schemas are cached on disk keyed by the CRD file's hash. A kind no CRD defines but
  servespec renders (legacy ``serving.kubeflow.org/v1alpha2``) is checked against the schema in
  ``legacy_schema.py``, with a note saying so.
- Policies: DNS names, no plaintext Secret data outside an environment that allows it, resource
  limits where the overlay requires them, and kustomizations that list exactly their folder
  (``kustomization.yaml`` and the controller's ``bootstrap/kustomization.yaml``, nested ones followed).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import orjson
import yaml

from .caching import cache_dir
from .capacity import budget_problems, tree_objects
from .errors import Problem
from .legacy_schema import PACKAGED_SCHEMAS
from .overlay import Env
from .yamlio import load_all

__all__ = ["SchemaRegistry", "validate_objects", "validate_tree", "to_jsonschema", "ValidationReport"]

_CONVERTER_VERSION = "1"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def to_jsonschema(node: Any, strict: bool = True) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema (draft 7), closed where the CRD is structural."""
    if isinstance(node, list):
        return [to_jsonschema(x, strict) for x in node]
    if not isinstance(node, dict):
        return node
    n = {k: (v if k in ("enum", "default", "example", "required") else to_jsonschema(v, strict)) for k, v in node.items()}
    pattern = n.get("pattern")
    if isinstance(pattern, str) and "(?i)" in pattern and not pattern.startswith("(?i)"):
        n["pattern"] = "(?i)" + pattern.replace("(?i)", "")  # Go RE2 allows inline flags anywhere
    if n.pop("nullable", False):
        if isinstance(n.get("type"), str):
            n["type"] = [n["type"], "null"]
        if "enum" in n:
            n["enum"] = [*n["enum"], None]
    if n.get("x-kubernetes-int-or-string") and "anyOf" not in n and "type" not in n:
        n["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if n.get("x-kubernetes-embedded-resource"):
        props = n.setdefault("properties", {})
        for k in ("apiVersion", "kind"):
            props.setdefault(k, {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (strict and n.get("type") == "object" and "properties" in n and "additionalProperties" not in n
            and not n.get("x-kubernetes-preserve-unknown-fields")):
        n["additionalProperties"] = False
    return n


class _FastError:
    """A jsonschema-rs error in the shape ``_errors`` reads."""

    def __init__(self, err: Any):
        self.absolute_path = list(getattr(err, "instance_path", []) or [])
        self.message = str(getattr(err, "message", err))


class _Checker:
    """One schema, checked by jsonschema-rs (compiled, ~100x faster) and explained by
    jsonschema: the messages always come from the Python validator; the fast one only says
    "valid" sooner. Should the two ever disagree on an object, the fast one's errors are shown."""

    def __init__(self, slow: Any, fast: Any | None):
        self.slow, self.fast = slow, fast

    def iter_errors(self, instance: Any) -> Iterable[Any]:
        if self.fast is not None and self.fast.is_valid(instance):
            return ()
        errs = list(self.slow.iter_errors(instance))
        if not errs and self.fast is not None:
            errs = [_FastError(e) for e in self.fast.iter_errors(instance)]
        return errs


class _NoFast(Exception):
    pass


def _ecma(node: Any) -> Any:
    """A copy of a schema whose regexes jsonschema-rs accepts: ``(?i)`` spelled out as
    character classes (the PrometheusRule CRD's only one); anything else unsupported raises."""
    if isinstance(node, list):
        return [_ecma(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "pattern" and isinstance(v, str) and "(?i)" in v:
            rest = v.replace("(?i)", "")
            if "[" in rest or "\\" in rest:
                raise _NoFast
            v = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in rest)
        out[k] = v if k in ("enum", "default", "example", "required") else _ecma(v)
    return out


def _fast(schema: dict[str, Any], draft7: bool, **kw: Any) -> Any | None:
    """A jsonschema-rs validator for ``schema``, or None where it is not installed or cannot
    take the schema (then jsonschema alone checks it)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a dependency; the Python validator still works
        return None
    try:
        if draft7:
            return jsonschema_rs.Draft7Validator(_ecma(schema), validate_formats=False, **kw)
        return jsonschema_rs.validator_for(_ecma(schema), validate_formats=False, **kw)
    except Exception:  # noqa: BLE001 - any refusal just means "no fast path"
        return None


@dataclass
class SchemaRegistry:
    """Compiled validators, each built once: built-in kinds by k8s version, CRD kinds from a folder."""

    crd_dir: Path | None = None
    use_cache: bool = True
    _crd_schemas: dict[tuple[str, str], dict[str, Any]] | None = None
    _validators: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _defs: dict[str, Any] = field(default_factory=dict)

    # -- CRDs -------------------------------------------------------------------------------
    def _load_crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        if self._crd_schemas is not None:
            return self._crd_schemas
        schemas: dict[tuple[str, str], dict[str, Any]] = {}
        if self.crd_dir is not None:
            for path in sorted(self.crd_dir.rglob("*.yaml")):
                for (api_version, kind), schema in self._crd_file(path).items():
                    schemas[(api_version, kind)] = schema
        self._crd_schemas = schemas
        return schemas

    def _crd_file(self, path: Path) -> dict[tuple[str, str], dict[str, Any]]:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw + _CONVERTER_VERSION.encode()).hexdigest()[:20]
        cache = cache_dir() / f"crd-{digest}.json"
        if self.use_cache and cache.is_file():
            try:
                return {tuple(k.split("|", 1)): v for k, v in json.loads(cache.read_text()).items()}  # type: ignore[misc]
            except (OSError, ValueError):
                pass
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for doc in yaml.load_all(raw, Loader=_Loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions", []):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema and version.get("served", True):
                    out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = to_jsonschema(schema)
        if self.use_cache:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps({f"{a}|{k}": v for (a, k), v in out.items()}))
                os.replace(tmp, cache)
            except OSError:
                pass
        return out

    # -- built-in kinds ---------------------------------------------------------------------
    def _k8s_dir(self, k8s_version: str) -> str | None:
        from kubernetes_validate import utils as kv

        want = tuple(int(p) for p in kv.major_minor(k8s_version).split("."))
        candidates = [v for v in kv.all_versions() if tuple(int(p) for p in kv.major_minor(v).split(".")) <= want]
        if not candidates:
            return None
        return f"v{candidates[-1]}-local-strict"

    def _defs_resource(self, schema_dir: str) -> Any:
        if schema_dir not in self._defs:
            from importlib import resources

            from referencing import Resource

            base = resources.files("kubernetes_validate") / "kubernetes-json-schema" / schema_dir
            raw = json.loads((base / "_definitions.json").read_text())
            self._defs[schema_dir] = Resource.from_contents(raw)
            self._defs[f"{schema_dir}:raw"] = raw
        return self._defs[schema_dir]

    def _fast_registry(self, schema_dir: str) -> Any | None:
        key = f"{schema_dir}:rs"
        if key not in self._defs:
            self._defs_resource(schema_dir)
            try:
                import jsonschema_rs

                self._defs[key] = jsonschema_rs.Registry([(_DEFS_ID, self._defs[f"{schema_dir}:raw"])])
            except Exception:  # noqa: BLE001
                self._defs[key] = None
        return self._defs[key]

    def _builtin(self, k8s_version: str, api_version: str, kind: str) -> Any | None:
        from importlib import resources

        from referencing import Registry, Resource

        schema_dir = self._k8s_dir(k8s_version)
        if schema_dir is None:
            return None
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / schema_dir / f"{kind.lower()}-{group_version}.json"
        if not path.is_file():
            return None
        schema = json.loads(path.read_text())
        registry = self._defs_resource(schema_dir) @ (Resource.from_contents(schema) @ Registry())
        fast_registry = self._fast_registry(schema_dir)
        fast = _fast(schema, False, registry=fast_registry, base_uri=schema.get("$id")) if fast_registry else None
        return _Checker(jsonschema.Draft202012Validator(schema, registry=registry), fast)

    def fingerprint(self) -> str:
        """Changes when the schemas could have: the CRD files and kubernetes-validate's version."""
        from importlib import metadata

        h = hashlib.sha256(metadata.version("kubernetes-validate").encode())
        if self.crd_dir is not None:
            for path in sorted(self.crd_dir.rglob("*.yaml")):
                st = path.stat()
                h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def warm(self, k8s_versions: Iterable[str]) -> None:
        """Load every CRD schema and ObjectMeta now (before forking workers that share them)."""
        self._load_crds()
        for version in k8s_versions:
            self.object_meta(version)

    def object_meta(self, k8s_version: str) -> Any:
        """A validator for ObjectMeta (used for the metadata of custom kinds)."""
        key = (k8s_version, "", "ObjectMeta")
        if key not in self._validators:
            from referencing import Registry

            schema_dir = self._k8s_dir(k8s_version) or "v1.30.0-local-strict"
            registry = self._defs_resource(schema_dir) @ Registry()
            meta = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": _OBJECT_META}
            fast_registry = self._fast_registry(schema_dir)
            self._validators[key] = _Checker(jsonschema.Draft202012Validator(meta, registry=registry),
                                             _fast(meta, False, registry=fast_registry) if fast_registry else None)
        return self._validators[key]

    def validator(self, k8s_version: str, api_version: str, kind: str) -> tuple[str, Any] | None:
        """``("builtin"|"crd"|"packaged", validator)`` for a kind (packaged: legacy_schema.py), or None when no schema is known."""
        key = (k8s_version, api_version, kind)
        if key not in self._validators:
            found: tuple[str, Any] | None = None
            crd = self._load_crds().get((api_version, kind))
            if crd is not None:
                found = ("crd", _Checker(jsonschema.Draft7Validator(crd), _fast(crd, True)))
            elif (api_version, kind) in PACKAGED_SCHEMAS:
                found = ("packaged", jsonschema.Draft7Validator(PACKAGED_SCHEMAS[(api_version, kind)]))
            else:
                builtin = self._builtin(k8s_version, api_version, kind)
                if builtin is not None:
                    found = ("builtin", builtin)
            self._validators[key] = found
        return self._validators[key]


@dataclass
class ValidationReport:
    """Problems found and how much was checked."""

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)
    """Caveats worth printing, e.g. objects checked against a packaged (not upstream) schema."""


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _errors(validator: Any, instance: Any, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        where = _path(err.absolute_path)
        if prefix:
            where = f"{prefix}.{where}" if where else prefix
        found.append((where or "(top level)", err.message))
    return found


def validate_objects(
    objs: Iterable[tuple[str, dict[str, Any]]], env: Env, registry: SchemaRegistry
) -> ValidationReport:
    """Validate ``(file, object)`` pairs of one environment."""
    report = ValidationReport()
    overlay = env.overlay
    for file, obj in objs:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            report.problems.append(Problem(file, None, "", "expected a Kubernetes object with apiVersion and kind"))
            continue
        kind, api_version = obj["kind"], obj["apiVersion"]
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        label = f"{kind} {meta.get('name', '?')}"
        if kind == "Kustomization" and api_version.startswith("kustomize.config.k8s.io/"):
            continue  # kustomize's own file, not an object (its listing is checked by validate_tree)
        report.objects += 1
        found = registry.validator(overlay.kubernetes_version, api_version, kind)
        if found is None:
            report.problems.append(Problem(file, None, label, f"no schema for {api_version} {kind} (Kubernetes {overlay.kubernetes_version}, or a CRD in --crds)"))
        else:
            source, validator = found
            errs = _errors(validator, obj)
            if source == "packaged":
                report.notes.append(f"{file}: {label}: checked against servespec's hand-written {api_version} schema (no upstream CRD)")
            if source in ("crd", "packaged"):
                if "metadata" not in obj:
                    errs.append(("metadata", "required field is missing"))
                else:
                    errs.extend(_errors(registry.object_meta(overlay.kubernetes_version), obj["metadata"], "metadata"))
            report.problems.extend(Problem(file, None, f"{label}: {where}", msg) for where, msg in errs)
        report.problems.extend(Problem(file, None, label, msg) for msg in policy_problems(obj, env))
    return report


def policy_problems(obj: dict[str, Any], env: Env) -> list[str]:
    """servespec's own rules for one rendered object."""
    out = []
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        out.append(f"metadata.name: expected a DNS-1123 subdomain name, found {name!r}")
    elif kind == "InferenceService" and (len(name) > 63 or not _DNS_LABEL.match(name)):
        out.append(f"metadata.name: expected a DNS-1035 label (InferenceService names become hostnames), found {name!r}")
    if kind == "Secret" and (obj.get("data") or obj.get("stringData")) and not env.overlay.allow_plaintext_secrets:
        out.append(f"plaintext secret data in git is refused in env {env.name!r} (allowPlaintextSecrets is false)")
    if kind == "InferenceService" and env.overlay.require_resource_limits:
        for where, container in _isvc_containers(obj):
            limits = ((container.get("resources") or {}).get("limits") or {})
            missing = [k for k in ("cpu", "memory") if k not in limits]
            if missing:
                out.append(f"{where}.resources.limits: env {env.name!r} requires limits, missing {', '.join(missing)}")
    return out


def _isvc_containers(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = obj.get("spec") or {}
    found = []
    for comp in ("predictor", "transformer", "explainer"):
        body = spec.get(comp) or {}
        if isinstance(body.get("model"), dict):
            found.append((f"spec.{comp}.model", body["model"]))
        if isinstance(body.get("art"), dict):
            found.append((f"spec.{comp}.art", body["art"]))
        for i, c in enumerate(body.get("containers") or []):
            found.append((f"spec.{comp}.containers[{i}]", c))
    return found


def _kustomize_listing(display: str, kustomizations: dict[str, list[str]], on_disk: set[str]) -> list[Problem]:
    """Every object file must be reachable from the env's kustomization (or the controller's own,
    ``bootstrap/``), and every listed resource must exist; nested kustomizations are followed."""
    problems: list[Problem] = []
    reached: set[str] = set()

    def walk(kfile: str) -> None:
        base = kfile.rpartition("/")[0]
        for entry in kustomizations.get(kfile, []):
            rel = posixpath.normpath(posixpath.join(base, entry))
            if rel in on_disk:
                reached.add(rel)
            elif f"{rel}/kustomization.yaml" in kustomizations:
                if f"{rel}/kustomization.yaml" not in reached:
                    reached.add(f"{rel}/kustomization.yaml")
                    walk(f"{rel}/kustomization.yaml")
            else:
                problems.append(Problem(f"{display}/{kfile}", None, "resources", f"lists {entry!r}, which does not exist"))

    roots = ["kustomization.yaml", *(k for k in kustomizations if k == "bootstrap/kustomization.yaml")]
    reached.update(roots)
    for kfile in roots:
        walk(kfile)
    unlisted = [Problem(f"{display}/{rel}", None, "", "not listed in any kustomization.yaml: the controller would never apply it")
                for rel in sorted(on_disk - reached) if rel.endswith(".yaml")]
    return unlisted + problems


_FileResult = tuple[list[Problem], list[Problem], list[str], int, "list[str] | None"]
"""(problems reading the file, problems of its objects, notes, objects, kustomization resources)."""


def _check_file(folder: Path, rel: str, data: bytes, env: Env, registry: SchemaRegistry,
                parsed: dict[bytes, bytes] | None = None) -> _FileResult:
    """Validate one rendered file: (problems reading it, problems of its objects, notes, objects,
    its kustomization's resources).

    ``parsed`` maps file bytes servespec itself wrote to the object as JSON (the render cache):
    such a file is read with orjson instead of parsed as YAML.
    """
    shown = f"rendered/{env.name}/{rel}"
    if not rel.endswith(".yaml"):
        return [Problem(shown, None, "", "unexpected non-YAML file in rendered output")], [], [], 0, None
    known = parsed.get(data) if parsed else None
    try:
        docs = [orjson.loads(known)] if known is not None else load_all(data)
    except yaml.YAMLError as exc:
        return [Problem(shown, None, "", f"invalid YAML: {exc}")], [], [], 0, None
    resources = None
    if rel == "kustomization.yaml" or rel.endswith("/kustomization.yaml"):
        resources = list((docs[0] if docs and isinstance(docs[0], dict) else {}).get("resources") or [])
    report = validate_objects([(shown, d) for d in docs], env, registry)
    return [], report.problems, report.notes, report.objects, resources


_POOL_STATE: tuple[Path, Env, SchemaRegistry, dict[bytes, bytes] | None] | None = None


def _check_chunk(chunk: list[tuple[str, bytes]]) -> list[_FileResult]:
    """Worker side of a parallel validation (state inherited through fork)."""
    assert _POOL_STATE is not None
    folder, env, registry, parsed = _POOL_STATE
    return [_check_file(folder, rel, data, env, registry, parsed) for rel, data in chunk]


PARALLEL_FROM = 1500
"""Validate in worker processes (one per core) when at least this many files changed."""


def validate_tree(root: Path, env: Env, registry: SchemaRegistry, cache: "ValidationCache | None" = None,
                  parsed: dict[bytes, bytes] | None = None) -> ValidationReport:
    """Validate every file of ``rendered/<env>/`` and its kustomizations' resource lists.

    With a ``cache``, a file whose bytes, environment settings, schemas and code are unchanged
    since it was last validated is not parsed again: its earlier result is reused. Large
    batches are validated in worker processes, one per core.
    """
    global _POOL_STATE
    folder = root / "rendered" / env.name
    display = f"rendered/{env.name}"
    if not folder.is_dir():
        return ValidationReport([Problem(display, None, "", "not rendered: run `servespec render`")])
    rels = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    base = cache.env_key(env, registry) if cache else b""
    results: dict[str, _FileResult] = {}
    pending: list[tuple[str, bytes]] = []
    keys: dict[str, bytes] = {}
    for rel in rels:
        data = (folder / rel).read_bytes()
        if cache:
            keys[rel] = key = hashlib.blake2b(base + data, digest_size=16).digest()
            hit = cache.get(env.name, rel, key)
            if hit is not None:
                results[rel] = hit
                continue
        pending.append((rel, data))
    workers = os.cpu_count() or 1
    if len(pending) >= PARALLEL_FROM and workers > 1:
        import multiprocessing

        registry.warm([env.overlay.kubernetes_version])  # compile once, before forking
        _POOL_STATE = (folder, env, registry, parsed)
        try:
            chunks = [pending[i::workers] for i in range(workers)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for chunk, out in zip(chunks, pool.map(_check_chunk, chunks)):
                    results.update((rel, res) for (rel, _), res in zip(chunk, out))
        finally:
            _POOL_STATE = None
    else:
        for rel, data in pending:
            results[rel] = _check_file(folder, rel, data, env, registry, parsed)
    if cache:
        cache.put(env.name, {rel: (keys[rel], results[rel]) for rel in rels})
    report = ValidationReport()
    kustomizations: dict[str, list[str]] = {}
    unreadable: list[Problem] = []
    for rel in rels:
        file_problems, problems, notes, objects, resources = results[rel]
        unreadable.extend(file_problems)
        report.problems.extend(problems)
        report.notes.extend(notes)
        report.objects += objects
        if resources is not None:
            kustomizations[rel] = resources
    listing: list[Problem] = []
    if "kustomization.yaml" not in kustomizations:
        listing.append(Problem(f"{display}/kustomization.yaml", None, "", "missing: kustomize cannot build this environment"))
    else:
        listing.extend(_kustomize_listing(display, kustomizations, set(rels)))
    report.problems = [*unreadable, *listing, *report.problems]
    report.problems.extend(budget_problems(env.name, env.overlay, tree_objects(folder, parsed), env.where))  # reads only with a budget
    report.files = len(rels)
    return report


class ValidationCache:
    """Earlier results per rendered file, keyed by its bytes and everything else that decides
    the result (environment settings, the schemas, servespec's code)."""

    def __init__(self, root: Path, enabled: bool = True):
        from .caching import load_pickle, repo_cache_path

        self.enabled = enabled
        self.path = repo_cache_path("validate", root)
        self._dirty = False
        data = load_pickle(self.path) if enabled else None
        self.table: dict[str, dict[str, tuple[bytes, Any]]] = data if isinstance(data, dict) else {}

    def env_key(self, env: Env, registry: SchemaRegistry) -> bytes:
        from .caching import code_fingerprint

        h = hashlib.sha256(code_fingerprint().encode())
        h.update(env.name.encode())
        h.update(env.overlay.model_dump_json().encode())
        h.update(registry.fingerprint().encode())
        return h.digest()

    def get(self, env: str, rel: str, key: bytes) -> Any:
        hit = self.table.get(env, {}).get(rel) if self.enabled else None
        return hit[1] if hit is not None and hit[0] == key else None

    def put(self, env: str, entries: dict[str, tuple[bytes, Any]]) -> None:
        if self.enabled and self.table.get(env) != entries:
            self.table[env] = entries
            self._dirty = True

    def save(self) -> None:
        from .caching import save_pickle

        if self.enabled and self._dirty:
            self._dirty = not save_pickle(self.path, self.table)
