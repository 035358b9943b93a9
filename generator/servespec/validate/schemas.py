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

Every schema is checked by jsonschema-rs (compiled, ~100x faster) and explained by jsonschema,
which is imported only when an object fails (or a schema is one jsonschema-rs cannot take): a
validate whose objects all pass does without its 0.1 s of start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import functools
import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import yaml

from ..cache.fingerprint import cache_dir
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


def _jsonschema() -> tuple[Any, Any]:
    """The ``jsonschema`` and ``referencing`` modules, imported on first use."""
    import jsonschema, referencing  # noqa: E401 - one import inside a function (tests/test_layering.py counts them)

    return jsonschema, referencing


class Checker:
    """One schema, checked by jsonschema-rs (compiled, ~100x faster) and explained by
    jsonschema: the messages always come from the Python validator; the fast one only says
    "valid" sooner. Should the two ever disagree on an object, the fast one's errors are shown.
    The Python validator is built from ``slow`` the first time it is needed."""

    def __init__(self, slow: Callable[[], Any], fast: Any | None):
        self._make_slow, self._slow, self.fast = slow, None, fast

    @property
    def slow(self) -> Any:
        """The jsonschema validator (built on first use)."""
        if self._slow is None:
            self._slow = self._make_slow()
        return self._slow

    def iter_errors(self, instance: Any) -> Iterable[Any]:
        if self.fast is not None and self.fast.is_valid(instance):
            return ()
        errs = list(self.slow.iter_errors(instance))
        if not errs and self.fast is not None:
            errs = [_FastError(e) for e in self.fast.iter_errors(instance)]
        return errs


class _NoFast(Exception):
    pass


def _ecma(schema: dict[str, Any]) -> Any:
    """The schema with regexes jsonschema-rs accepts: ``(?i)`` spelled out as character classes
    (the PrometheusRule CRD's only one); anything else unsupported raises. A schema without
    ``(?i)`` (all others) is taken as it is, not copied: a walk of a CRD costs more than compiling it."""
    try:
        if b"(?i)" not in orjson.dumps(schema):
            return schema
    except TypeError:
        pass
    return _ecma_copy(schema)


def _ecma_copy(node: Any) -> Any:
    if isinstance(node, list):
        return [_ecma_copy(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "pattern" and isinstance(v, str) and "(?i)" in v:
            rest = v.replace("(?i)", "")
            if "[" in rest or "\\" in rest:
                raise _NoFast
            v = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in rest)
        out[k] = v if k in ("enum", "default", "example", "required") else _ecma_copy(v)
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


def _keep(path: Path, text: str) -> None:
    """Write a converted schema to the cache atomically (a failure only means converting again next time)."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


@functools.cache
def _k8s_schemas() -> Path:
    """kubernetes-validate's folder of schemas, found without importing the package (its
    ``__init__`` imports jsonschema)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("kubernetes_validate")
    return Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"


@functools.cache
def _k8s_versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate has schemas of, oldest first (its ``all_versions``)."""
    names = [re.sub(r"^v([^-]*).*", r"\1", p.name) for p in _k8s_schemas().iterdir() if re.match(r"^v([^-]*).*", p.name)]
    return sorted(names, key=lambda v: tuple(int(x) if x.isdigit() else -1 for x in v.split(".")))


def _major_minor(version: str) -> tuple[int, ...]:
    """``1.30.2`` -> (1, 30), as kubernetes-validate's ``major_minor`` reads a version."""
    return tuple(int(p) for p in re.sub(r"^(\d+\.\d+).*", r"\1", version).split("."))


def _draft7(schema: dict[str, Any]) -> Checker:
    return Checker(lambda: _jsonschema()[0].Draft7Validator(schema), _fast(schema, True))


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
        cache = Path(cache_dir()) / f"shipped-{blob}-{_CONVERTER_VERSION}.json"
        if self.use_cache and cache.is_file():
            try:
                cached: dict[str, Any] = orjson.loads(cache.read_bytes())
                return cached
            except (OSError, ValueError):
                pass
        converted: dict[str, Any] = to_jsonschema(crd_schemas(kserve_version)[(api_version, kind)])
        if self.use_cache:
            _keep(cache, json.dumps(converted))
        return converted

    def _crd_file(self, path: Path) -> dict[tuple[str, str], dict[str, Any]]:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw + _CONVERTER_VERSION.encode()).hexdigest()[:20]
        cache = Path(cache_dir()) / f"crd-{digest}.json"
        if self.use_cache and cache.is_file():
            try:
                return {(k.split("|", 1)[0], k.split("|", 1)[1]): v for k, v in orjson.loads(cache.read_bytes()).items()}
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
            _keep(cache, json.dumps({f"{a}|{k}": v for (a, k), v in out.items()}))
        return out

    # -- built-in kinds ---------------------------------------------------------------------
    def _k8s_dir(self, k8s_version: str) -> str | None:
        want = _major_minor(k8s_version)
        candidates = [v for v in _k8s_versions() if _major_minor(v) <= want]
        if not candidates:
            return None
        return f"v{candidates[-1]}-local-strict"

    def _defs_raw(self, schema_dir: str) -> Any:
        key = f"{schema_dir}:raw"
        if key not in self._defs:
            base = _k8s_schemas() / schema_dir
            self._defs[key] = orjson.loads((base / "_definitions.json").read_bytes())
        return self._defs[key]

    def _slow_validator(self, schema_dir: str, schema: dict[str, Any], with_self: bool) -> Any:
        """A jsonschema validator of a kubernetes-validate schema, its definitions resolvable."""
        jsonschema, referencing = _jsonschema()
        if schema_dir not in self._defs:
            self._defs[schema_dir] = referencing.Resource.from_contents(self._defs_raw(schema_dir))
        registry = referencing.Registry()
        if with_self:
            registry = referencing.Resource.from_contents(schema) @ registry
        return jsonschema.Draft202012Validator(schema, registry=self._defs[schema_dir] @ registry)

    def _fast_registry(self, schema_dir: str) -> Any | None:
        key = f"{schema_dir}:rs"
        if key not in self._defs:
            try:
                self._defs[key] = jsonschema_rs.Registry([(_DEFS_ID, self._defs_raw(schema_dir))])
            except Exception:  # noqa: BLE001
                self._defs[key] = None
        return self._defs[key]

    def _builtin(self, k8s_version: str, api_version: str, kind: str) -> Any | None:
        schema_dir = self._k8s_dir(k8s_version)
        if schema_dir is None:
            return None
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        path = _k8s_schemas() / schema_dir / f"{kind.lower()}-{group_version}.json"
        if not path.is_file():
            return None
        schema = orjson.loads(path.read_bytes())
        fast_registry = self._fast_registry(schema_dir)
        fast = _fast(schema, False, registry=fast_registry, base_uri=schema.get("$id")) if fast_registry else None
        return Checker(lambda: self._slow_validator(schema_dir, schema, True), fast)

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
            meta = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": _OBJECT_META}
            fast_registry = self._fast_registry(schema_dir)
            self._validators[key] = Checker(lambda: self._slow_validator(schema_dir, meta, False),
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
                found = ("crd", _draft7(crd))
            elif shipped is not None:
                found = ("shipped", _draft7(shipped))
            elif (api_version, kind) in PACKAGED_SCHEMAS:
                found = ("packaged", _draft7(PACKAGED_SCHEMAS[(api_version, kind)]))
            else:
                builtin = self._builtin(k8s_version, api_version, kind)
                if builtin is not None:
                    found = ("builtin", builtin)
            self._validators[key] = found
        cached: tuple[str, Any] | None = self._validators[key]
        return cached
