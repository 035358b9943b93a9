"""The CRD schemas servespec ships: every KServe release it supports, plus the other kinds it emits.

The data under ``data/`` is made by ``tools/pack_schemas.py`` from the upstream CRDs (KServe
v0.14.1 … v0.20.0, Argo CD, Flux, prometheus-operator, External Secrets, Sealed Secrets). Each
``openAPIV3Schema`` is stored once, gzip'd JSON named by its content hash; sub-objects shared
between schemas are stored once in ``subtrees.json.gz``. ``index.json`` says which
(apiVersion, kind) of which release is which schema and where it came from.

Loading is lazy: the index is read on first use, a schema is read and decompressed the first time
it is asked for, and both are kept for the life of the process. Schemas are the raw
``openAPIV3Schema`` (convert them for jsonschema as ``validate`` does). They are shared, and parts
of one schema can be the same object as parts of another: treat them as read-only.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["schema_id", 
    "SUPPORTED",
    "Schema",
    "SchemaKey",
    "resolve_version",
    "crd_schemas",
    "source_of",
    "storage_api_version",
    "configmap_default",
]

SUPPORTED: tuple[str, ...] = ("0.14.1", "0.15.2", "0.16.0", "0.17.1", "0.18.1", "0.19.0", "0.20.0")
"""The KServe releases whose schemas are shipped, oldest first (one patch release per minor)."""

Schema = dict[str, object]
"""A CRD's ``openAPIV3Schema``, as parsed JSON."""
SchemaKey = tuple[str, str]
"""``(apiVersion, kind)``, e.g. ``("serving.kserve.io/v1beta1", "InferenceService")``."""

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def _minor(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{minor}"


def resolve_version(requested: str) -> str:
    """The shipped release for a KServe version an env names: ``"0.15"``, ``"v0.15"``, ``"0.15.0"`` -> ``"0.15.2"``.

    Any patch of a supported minor maps to the one shipped patch of that minor.

    Raises:
        ValueError: not a version (``KServe version '…' is not MAJOR.MINOR[.PATCH] …``), or a minor
            servespec has no schemas for (``KServe 0.13 is not supported (supported: 0.14, …, 0.20)``).
    """
    match = _VERSION.fullmatch(requested.strip())
    if match is None:
        raise ValueError(f"KServe version {requested!r} is not MAJOR.MINOR[.PATCH] (e.g. \"0.15\" or \"0.15.2\")")
    minor = f"{int(match.group(1))}.{int(match.group(2))}"
    for release in SUPPORTED:
        if _minor(release) == minor:
            return release
    supported = ", ".join(_minor(release) for release in SUPPORTED)
    raise ValueError(f"KServe {minor} is not supported (supported: {supported})")


# -- the index ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    blob: str
    storage: bool
    source: str


@dataclass(frozen=True)
class _Index:
    releases: dict[str, dict[SchemaKey, _Entry]]
    configmaps: dict[str, dict[str, object]]
    other: dict[SchemaKey, _Entry]
    files: dict[str, str]
    marker: str
    subtrees: str


def _data(name: str) -> bytes:
    return resources.files(__package__ or "servespec.kserve").joinpath("data", name).read_bytes()


def _obj(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"servespec's packaged schema index is damaged: expected an object, found {type(value).__name__}")
    return value


def _key(text: str) -> SchemaKey:
    api_version, kind = text.split(" ")
    return api_version, kind


def _entry(raw: object, repo: str, tag: str | None, commit: str) -> _Entry:
    entry = _obj(raw)
    where = f"{repo}@{tag or str(commit)[:12]}"
    return _Entry(str(entry["blob"]), bool(entry["storage"]), f"{where} {entry['path']}")


@cache
def _index() -> _Index:
    raw = _obj(json.loads(_data("index.json")))
    releases: dict[str, dict[SchemaKey, _Entry]] = {}
    configmaps: dict[str, dict[str, object]] = {}
    for version, rel in _obj(raw["kserve"]).items():
        release = _obj(rel)
        repo, tag, commit = str(release["repo"]), str(release["tag"]), str(release["commit"])
        releases[version] = {_key(k): _entry(v, repo, tag, commit) for k, v in _obj(release["kinds"]).items()}
        configmaps[version] = _obj(release["configmap"])
    other: dict[SchemaKey, _Entry] = {}
    for key, value in _obj(raw["other"]).items():
        entry = _obj(value)
        other_tag = entry.get("tag")
        other[_key(key)] = _entry(entry, str(entry["repo"]), str(other_tag) if other_tag else None, str(entry["commit"]))
    files = {name: str(_obj(blob)["file"]) for name, blob in _obj(raw["blobs"]).items()}
    return _Index(releases, configmaps, other, files, str(raw["marker"]), str(raw["subtrees"]))


# -- schemas -----------------------------------------------------------------------------------


@cache
def _subtrees() -> dict[str, object]:
    return _obj(json.loads(gzip.decompress(_data(_index().subtrees))))


_RESOLVED: dict[str, object] = {}
"""Shared sub-objects already resolved, by hash (each is built once and reused)."""


def _marker(node: object, marker: str) -> str | None:
    if isinstance(node, dict) and len(node) == 1 and marker in node:
        return str(node[marker])
    return None


def _resolve_in_place(node: object, marker: str) -> None:
    if isinstance(node, dict):
        for key, child in node.items():  # replacing values while iterating is allowed (no key is added)
            name = _marker(child, marker)
            if name is None:
                _resolve_in_place(child, marker)
            else:
                node[key] = _subtree(name, marker)
    elif isinstance(node, list):
        for position, child in enumerate(node):
            name = _marker(child, marker)
            if name is None:
                _resolve_in_place(child, marker)
            else:
                node[position] = _subtree(name, marker)


def _subtree(name: str, marker: str) -> object:
    done = _RESOLVED.get(name)
    if done is None:
        done = _subtrees()[name]
        _resolve_in_place(done, marker)
        _RESOLVED[name] = done
    return done


@cache
def _blob(name: str) -> Schema:
    index = _index()
    schema = _obj(json.loads(gzip.decompress(_data(index.files[name]))))
    _resolve_in_place(schema, index.marker)
    return schema


class _Schemas(Mapping[SchemaKey, Schema]):
    """The schemas of one release: keys are known up front, each schema is loaded on first access."""

    def __init__(self, entries: dict[SchemaKey, _Entry]):
        self._entries = entries

    def __getitem__(self, key: SchemaKey) -> Schema:
        return _blob(self._entries[key].blob)

    def __iter__(self) -> Iterator[SchemaKey]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def _entries(kserve_version: str) -> dict[SchemaKey, _Entry]:
    index = _index()
    return {**index.other, **index.releases[resolve_version(kserve_version)]}


def crd_schemas(kserve_version: str) -> Mapping[SchemaKey, Schema]:
    """``(apiVersion, kind) -> openAPIV3Schema`` for one KServe version and every other shipped kind.

    ``kserve_version`` is what an env names (``"0.15"``, ``"v0.15"``, ``"0.15.2"``). Every served
    apiVersion of every KServe CRD of that release is a key, with the Argo CD, Flux,
    prometheus-operator, External Secrets and Sealed Secrets kinds. The mapping is lazy: listing or
    testing keys reads no schema; each schema is read on first access and then cached. Callers
    that let a ``--crds`` folder override kinds should look there first rather than ``dict()`` this.

    Raises:
        ValueError: the version is not supported (see ``resolve_version``).
    """
    return _Schemas(_entries(kserve_version))


def source_of(api_version: str, kind: str, kserve_version: str) -> str:
    """Where a shipped schema came from, e.g. ``kserve/kserve@v0.15.2 config/crd/full/serving.kserve.io_inferenceservices.yaml``.

    Raises:
        ValueError: the version is not supported.
        KeyError: no shipped schema for that apiVersion and kind in that version.
    """
    entry = _entries(kserve_version).get((api_version, kind))
    if entry is None:
        raise KeyError(f"no shipped schema for {api_version} {kind} in KServe {resolve_version(kserve_version)}")
    return entry.source


def storage_api_version(kind: str, kserve_version: str) -> str | None:
    """The apiVersion a KServe release stores ``kind`` as (its CRD's storage version), or None if it has no such kind."""
    for (api_version, entry_kind), entry in _entries(kserve_version).items():
        if entry_kind == kind and entry.storage:
            return api_version
    return None


def configmap_default(key: str, kserve_version: str) -> object:
    """A default from that release's ``inferenceservice`` configmap, e.g. ``"deploy.defaultDeploymentMode"``.

    Keys recorded: ``deploy.defaultDeploymentMode``, ``ingress.enableGatewayApi`` (from 0.15).

    Raises:
        KeyError: the key was not recorded for that release.
    """
    facts = _index().configmaps[resolve_version(kserve_version)]
    if key not in facts:
        raise KeyError(f"configmap default {key!r} is not recorded for KServe {resolve_version(kserve_version)}")
    return facts[key]


def schema_id(api_version: str, kind: str, kserve_version: str) -> str | None:
    """The content hash of the shipped schema (same schema, same id, whatever the release), or
    None when none is shipped: a key for caches of what is derived from the schema."""
    entry = _entries(kserve_version).get((api_version, kind))
    return entry.blob if entry else None
