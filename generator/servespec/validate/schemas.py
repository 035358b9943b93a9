"""Schemas of the kinds servespec renders, compiled once each.

- Built-in kinds: kubernetes-validate's packaged strict schemas at the environment's Kubernetes
  version, one compiled validator per (version, kind) instead of a re-read per call
  (TOOLCHAIN.md §3: 17 s -> 0.2 s for 3,000 objects).
- Custom kinds: the ``openAPIV3Schema`` of the matching CRD in ``--crds DIR``, converted to JSON
  Schema with ``additionalProperties: false`` on every closed object so that typos such as
  ``canaryTrafficPercnt`` are caught (TOOLCHAIN.md §4); ``metadata`` against ObjectMeta. The
  converted schemas are cached on disk keyed by the CRD file's hash. A kind no CRD defines but
  servespec renders (legacy ``serving.kubeflow.org/v1alpha2``) is checked against the schema in
  ``legacy.py``, with a note saying so.

Every schema is checked by jsonschema-rs (compiled, ~100x faster) and explained by jsonschema.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from ..cache.store import cache_dir
from ..fsutil import atomic_write
from ..kserve.schemas import crd_schemas, schema_id
from .legacy import PACKAGED_SCHEMAS

__all__ = ["SchemaRegistry", "Checker", "to_jsonschema"]

_CONVERTER_VERSION = "2"
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
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
    bounds = _INT_BOUNDS.get(n.get("format", "")) if n.get("type") == "integer" else None
    if bounds:  # the API server refuses what does not fit; JSON Schema formats do not check it
        n.setdefault("minimum", bounds[0])
        n.setdefault("maximum", bounds[1])
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


class Checker:
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
    """A jsonschema-rs validator for ``schema``, or None where it cannot take the schema (then
    jsonschema alone checks it)."""
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
    _validators: dict[tuple[str, ...], Any] = field(default_factory=dict)
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

    def _shipped(self, kserve_version: str, api_version: str, kind: str) -> dict[str, Any] | None:
        """The shipped schema of a kind for a KServe version, converted (and cached on disk by its content hash)."""
        blob = schema_id(api_version, kind, kserve_version)
        if blob is None:
            return None
        cache = cache_dir() / f"shipped-{blob}-{_CONVERTER_VERSION}.json"
        if self.use_cache and cache.is_file():
            try:
                cached: dict[str, Any] = json.loads(cache.read_text())
                return cached
            except (OSError, ValueError):
                pass
        converted: dict[str, Any] = to_jsonschema(crd_schemas(kserve_version)[(api_version, kind)])
        if self.use_cache:
            try:
                atomic_write(cache, json.dumps(converted).encode(), mkdir=True)
            except OSError:
                pass
        return converted

    def _crd_file(self, path: Path) -> dict[tuple[str, str], dict[str, Any]]:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw + _CONVERTER_VERSION.encode()).hexdigest()[:20]
        cache = cache_dir() / f"crd-{digest}.json"
        if self.use_cache and cache.is_file():
            try:
                return {(k.split("|", 1)[0], k.split("|", 1)[1]): v for k, v in json.loads(cache.read_text()).items()}
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
        want = tuple(int(p) for p in kv.major_minor(k8s_version).split("."))
        candidates = [v for v in kv.all_versions() if tuple(int(p) for p in kv.major_minor(v).split(".")) <= want]
        if not candidates:
            return None
        return f"v{candidates[-1]}-local-strict"

    def _defs_resource(self, schema_dir: str) -> Any:
        if schema_dir not in self._defs:
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
                self._defs[key] = jsonschema_rs.Registry([(_DEFS_ID, self._defs[f"{schema_dir}:raw"])])
            except Exception:  # noqa: BLE001
                self._defs[key] = None
        return self._defs[key]

    def _builtin(self, k8s_version: str, api_version: str, kind: str) -> Any | None:
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
        return Checker(jsonschema.Draft202012Validator(schema, registry=registry), fast)

    def fingerprint(self) -> str:
        """Changes when the schemas could have: the CRD files and kubernetes-validate's version."""
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
            schema_dir = self._k8s_dir(k8s_version) or "v1.30.0-local-strict"
            registry = self._defs_resource(schema_dir) @ Registry()
            meta = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": _OBJECT_META}
            fast_registry = self._fast_registry(schema_dir)
            self._validators[key] = Checker(jsonschema.Draft202012Validator(meta, registry=registry),
                                             _fast(meta, False, registry=fast_registry) if fast_registry else None)
        return self._validators[key]

    def validator(self, k8s_version: str, api_version: str, kind: str, kserve_version: str | None = None) -> tuple[str, Any] | None:
        """``(source, validator)`` for a kind, or None when no schema is known. Sources, first
        found wins: ``crd`` (a ``--crds`` folder), ``shipped`` (the CRDs servespec ships for the
        env's KServe version and the other controllers, ``kserve/schemas.py``), ``packaged``
        (the hand-written legacy v1alpha2 schema, ``legacy.py``), ``builtin`` (kubernetes-validate)."""
        key = (k8s_version, api_version, kind, kserve_version or "")
        if key not in self._validators:
            found: tuple[str, Any] | None = None
            crd = self._load_crds().get((api_version, kind))
            shipped = self._shipped(kserve_version, api_version, kind) if crd is None and kserve_version else None
            if crd is not None:
                found = ("crd", Checker(jsonschema.Draft7Validator(crd), _fast(crd, True)))
            elif shipped is not None:
                found = ("shipped", Checker(jsonschema.Draft7Validator(shipped), _fast(shipped, True)))
            elif (api_version, kind) in PACKAGED_SCHEMAS:
                found = ("packaged", jsonschema.Draft7Validator(PACKAGED_SCHEMAS[(api_version, kind)]))
            else:
                builtin = self._builtin(k8s_version, api_version, kind)
                if builtin is not None:
                    found = ("builtin", builtin)
            self._validators[key] = found
        cached: tuple[str, Any] | None = self._validators[key]
        return cached
