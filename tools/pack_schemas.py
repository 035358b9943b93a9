#!/usr/bin/env python3
"""Pack the CRD schemas servespec ships into ``generator/servespec/kserve/data/``.

Run by a developer when the reference CRDs change (never at install or test time)::

    python tools/pack_schemas.py                  # reads ../shared, writes the package data
    python tools/pack_schemas.py --check          # exit 1 if the committed data is stale
    python tools/pack_schemas.py --verify-git DIR # also check every source file against a kserve/kserve git mirror

Input: ``kserve-versions/vX.Y.Z/`` (every KServe CRD and the ``inferenceservice`` configmap of
each release) and ``crds/`` (Argo CD, Flux, prometheus-operator, External Secrets, Sealed
Secrets), with the ``SOURCES.md`` of each. ``crds/kserve/`` is not packed: its InferenceService is
byte-identical to v0.20.0's (checked here) and its ServingRuntimes come from an untagged commit
after v0.20.0, which no release runs; the per-release sets are the KServe schemas.

Output, deterministic bytes (sorted keys, no whitespace, gzip mtime 0):

- ``<hash>.json.gz``: the ``openAPIV3Schema`` of one served CRD version, named by the sha256 of
  its canonical JSON, so a schema shared by several releases or kinds is stored once.
- ``subtrees.json.gz``: every sub-object of at least ``SUBTREE_MIN_BYTES`` that occurs more than
  once across all schemas (pod specs, containers, the same field in the next release), stored
  once; a schema holds ``{"$subtree": "<hash>"}`` in its place. Without this the data is ~540 KB,
  with it ~110 KB (gzip's 32 KB window cannot see one release's copy from the next).
- ``index.json``: per KServe release, which (apiVersion, kind) maps to which schema, plus the
  repository, tag, commit and path of every schema, and the configmap defaults servespec reads.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"
DEFAULT_OUT = ROOT / "generator" / "servespec" / "kserve" / "data"
KSERVE_REPO = "kserve/kserve"
MARKER = "$subtree"
SUBTREE_MIN_BYTES = 500
FORMAT = 1
CONFIGMAP_KEYS = (("deploy", "defaultDeploymentMode"), ("ingress", "enableGatewayApi"))
"""Configmap ``data`` JSON documents and keys recorded per release."""

Json = dict[str, object]


@dataclass(frozen=True)
class Source:
    """Where one CRD file came from upstream."""

    repo: str
    tag: str | None
    commit: str
    path: str

    def as_json(self) -> Json:
        """The index's form of a source."""
        return {"repo": self.repo, "tag": self.tag, "commit": self.commit, "path": self.path}


@dataclass(frozen=True)
class Served:
    """One served version of one CRD: its key, whether it is the storage version, its schema."""

    api_version: str
    kind: str
    storage: bool
    schema: Json

    @property
    def key(self) -> str:
        """The index's key for an (apiVersion, kind): ``"serving.kserve.io/v1beta1 InferenceService"``."""
        return f"{self.api_version} {self.kind}"


def canonical(obj: object) -> bytes:
    """The bytes every hash and blob is made of: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: bytes) -> str:
    """A blob's or subtree's name: the first 16 hex digits of the sha256 of its canonical bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def gzip_bytes(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name in the header, so the same input gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


_PARSED: dict[bytes, list[Served]] = {}
"""Files already read, by content: most CRD files repeat unchanged from one release to the next."""


def served_versions(path: Path) -> list[Served]:
    """The ``openAPIV3Schema`` of every served version of every CRD in a YAML file."""
    raw = path.read_bytes()
    key = hashlib.sha256(raw).digest()
    if key in _PARSED:
        return _PARSED[key]
    out: list[Served] = []
    docs = list(yaml.load_all(raw, Loader=yaml.CSafeLoader))
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None or not version.get("served", True):
                continue
            api_version = f"{spec['group']}/{version['name']}"
            out.append(Served(api_version, spec["names"]["kind"], bool(version.get("storage")), schema))
    _PARSED[key] = out
    return out


def table_rows(sources_md: Path) -> list[list[str]]:
    """The cells of every Markdown table row in a SOURCES.md, backticks stripped."""
    rows = []
    for line in sources_md.read_text().splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


def kserve_releases(shared: Path) -> dict[str, str]:
    """``{"v0.14.1": commit}`` from ``kserve-versions/SOURCES.md``."""
    releases = {}
    for cells in table_rows(shared / "kserve-versions" / "SOURCES.md"):
        if len(cells) == 2 and re.fullmatch(r"v\d+\.\d+\.\d+", cells[0]) and re.fullmatch(r"[0-9a-f]{40}", cells[1]):
            releases[cells[0]] = cells[1]
    return dict(sorted(releases.items(), key=lambda item: version_key(item[0])))


def other_sources(shared: Path) -> dict[str, Source]:
    """``{"argo-cd/application-crd.yaml": Source}`` from the non-KServe table of ``crds/SOURCES.md``."""
    out = {}
    for cells in table_rows(shared / "crds" / "SOURCES.md"):
        if len(cells) == 6 and re.fullmatch(r"[\w.-]+/[\w.-]+", cells[1]) and re.fullmatch(r"[0-9a-f]{40}", cells[2]):
            out[cells[0]] = Source(cells[1], None, cells[2], cells[3])
    return out


def version_key(tag: str) -> tuple[int, ...]:
    """``"v0.15.2"`` -> ``(0, 15, 2)``, for sorting releases."""
    return tuple(int(part) for part in tag.lstrip("v").split("."))


def kserve_path(tag: str, filename: str) -> str:
    """The upstream path of a CRD file at a tag (checked with ``--verify-git`` against the mirror).

    LLMInferenceService CRDs live in ``llmisvc/`` (from v0.16.0); from v0.17.0 the LocalModel and
    ClusterStorageContainer CRDs moved into ``localmodel/`` and ``clusterstoragecontainer/``.
    """
    base = "config/crd/full/"
    if filename.startswith("serving.kserve.io_llminferenceservice"):
        return base + "llmisvc/" + filename
    if version_key(tag) >= (0, 17, 0):
        if filename.startswith("serving.kserve.io_localmodel"):
            return base + "localmodel/" + filename
        if filename == "serving.kserve.io_clusterstoragecontainers.yaml":
            return base + "clusterstoragecontainer/" + filename
    return base + filename


def configmap_facts(path: Path) -> Json:
    """The configmap defaults servespec reads (``deploy.defaultDeploymentMode``, …), present keys only."""
    with path.open("rb") as fh:
        data = yaml.load(fh, Loader=yaml.CSafeLoader)["data"]
    facts: Json = {}
    for document, key in CONFIGMAP_KEYS:
        parsed = json.loads(data[document]) if document in data else {}
        if key in parsed:
            facts[f"{document}.{key}"] = parsed[key]
    return facts


class Collector:
    """Gathers schemas (by content hash), their sources, and the per-release index."""

    def __init__(self) -> None:
        self.schemas: dict[str, Json] = {}
        self.sources: dict[str, list[Source]] = {}

    def add(self, served: Served, source: Source) -> str:
        data = canonical(served.schema)
        name = digest(data)
        known = self.schemas.setdefault(name, served.schema)
        if canonical(known) != data:
            raise SystemExit(f"hash collision on {name}: widen the digest")
        if source not in self.sources.setdefault(name, []):
            self.sources[name].append(source)
        return name

    def release(self, folder: Path, tag: str, commit: str) -> Json:
        kinds: Json = {}
        for path in sorted(folder.glob("serving.kserve.io_*.yaml")):
            source = Source(KSERVE_REPO, tag, commit, kserve_path(tag, path.name))
            for served in served_versions(path):
                blob = self.add(served, source)
                kinds[served.key] = {"blob": blob, "path": source.path, "storage": served.storage}
        facts = configmap_facts(folder / "configmap-inferenceservice.yaml")
        return {"tag": tag, "repo": KSERVE_REPO, "commit": commit, "configmap": facts, "kinds": kinds}

    def others(self, shared: Path) -> Json:
        out: Json = {}
        for rel, source in sorted(other_sources(shared).items()):
            for served in served_versions(shared / "crds" / rel):
                blob = self.add(served, source)
                out[served.key] = {"blob": blob, "repo": source.repo, "tag": source.tag, "commit": source.commit,
                                   "path": source.path, "storage": served.storage}
        return out


class _Splitter:
    """The three passes of ``split_subtrees``: measure every object, count references, replace."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}  # id(dict) -> digest, for the dicts big enough to share
        self.counts: Counter[str] = Counter()
        self.found: dict[str, Json] = {}
        self.refs: Counter[str] = Counter()
        self.pending: list[str] = []
        self.candidates: set[str] = set()
        self.shared: set[str] = set()

    def text(self, node: object) -> str:
        """``canonical(node)`` built bottom-up, so each object is serialised once; records big objects."""
        if isinstance(node, dict):
            if MARKER in node:
                raise SystemExit(f"a schema already uses the key {MARKER!r}: pick another marker")
            out = "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{self.text(node[k])}" for k in sorted(node)) + "}"
            data = out.encode()
            if len(data) >= SUBTREE_MIN_BYTES:
                self.names[id(node)] = name = digest(data)
                self.counts[name] += 1
                self.found.setdefault(name, node)
            return out
        if isinstance(node, list):
            return "[" + ",".join(self.text(value) for value in node) + "]"
        return json.dumps(node, ensure_ascii=False)

    def reference(self, node: object, top: bool) -> None:
        """Count references to candidates from outside any candidate, then from each candidate's body once."""
        if isinstance(node, dict):
            name = self.names.get(id(node))
            if not top and name in self.candidates:
                self.refs[name] += 1
                if self.refs[name] == 1:
                    self.pending.append(name)
                return
            for value in node.values():
                self.reference(value, False)
        elif isinstance(node, list):
            for value in node:
                self.reference(value, False)

    def replace(self, node: object, top: bool) -> object:
        """A copy of ``node`` with every shared sub-object (not ``node`` itself) replaced by its marker."""
        if isinstance(node, dict):
            name = self.names.get(id(node))
            if not top and name in self.shared:
                return {MARKER: name}
            return {key: self.replace(value, False) for key, value in node.items()}
        if isinstance(node, list):
            return [self.replace(value, False) for value in node]
        return node


def split_subtrees(schemas: dict[str, Json]) -> tuple[dict[str, object], dict[str, object]]:
    """Replace every sub-object of >= SUBTREE_MIN_BYTES that is referenced more than once by a marker.

    Returns the schemas with markers and the store of shared sub-objects (which hold markers for
    their own shared children). A sub-object met only inside one shared sub-object stays inline
    there. ``resolve`` of each schema against the store gives it back.
    """
    split = _Splitter()
    for schema in schemas.values():
        if split.text(schema).encode() != canonical(schema):
            raise SystemExit("bottom-up serialisation differs from canonical(): fix _Splitter.text")
    split.candidates = {name for name, n in split.counts.items() if n > 1}
    for schema in schemas.values():
        split.reference(schema, True)
    while split.pending:
        split.reference(split.found[split.pending.pop()], True)
    split.shared = {name for name, n in split.refs.items() if n > 1}
    blobs = {name: split.replace(schema, True) for name, schema in schemas.items()}
    store = {name: split.replace(split.found[name], True) for name in sorted(split.shared)}
    return blobs, store


def resolve(node: object, store: dict[str, object]) -> object:
    """Undo ``split_subtrees`` for one schema (used to check the packed data round-trips)."""
    if isinstance(node, dict):
        if len(node) == 1 and MARKER in node:
            return resolve(store[str(node[MARKER])], store)
        return {key: resolve(value, store) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, store) for value in node]
    return node


def pack(shared: Path) -> dict[str, bytes]:
    """Every file of the package data, by name, from a shared/ folder."""
    collector = Collector()
    releases: Json = {}
    for tag, commit in kserve_releases(shared).items():
        releases[tag.lstrip("v")] = collector.release(shared / "kserve-versions" / tag, tag, commit)
    others = collector.others(shared)
    blobs, store = split_subtrees(collector.schemas)
    for name, schema in collector.schemas.items():
        if canonical(resolve(blobs[name], store)) != canonical(schema):
            raise SystemExit(f"{name}: the packed schema does not resolve back to its source")
    files = {f"{name}.json.gz": gzip_bytes(canonical(blob)) for name, blob in sorted(blobs.items())}
    files["subtrees.json.gz"] = gzip_bytes(canonical(store))
    blob_index = {name: {"file": f"{name}.json.gz", "json_bytes": len(canonical(collector.schemas[name])),
                         "sources": [source.as_json() for source in collector.sources[name]]}
                  for name in sorted(blobs)}
    index = {"format": FORMAT, "marker": MARKER, "subtrees": "subtrees.json.gz",
             "kserve": releases, "other": others, "blobs": blob_index}
    files["index.json"] = json.dumps(index, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
    return files


def check_v020_copy(shared: Path, files: dict[str, bytes]) -> None:
    """``crds/kserve``'s InferenceService must be the v0.20.0 one (why crds/kserve is not packed)."""
    index = json.loads(files["index.json"])
    copy = shared / "crds" / "kserve" / "serving.kserve.io_inferenceservices.yaml"
    if "0.20.0" not in index["kserve"] or not copy.is_file():
        return
    blob = index["kserve"]["0.20.0"]["kinds"]["serving.kserve.io/v1beta1 InferenceService"]["blob"]
    for served in served_versions(copy):
        if digest(canonical(served.schema)) != blob:
            raise SystemExit("crds/kserve InferenceService differs from v0.20.0's: decide which one to ship")


def git_blob_sha(data: bytes) -> str:
    """What ``git hash-object`` prints for these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify_git(shared: Path, git_dir: Path) -> int:
    """Check that every KServe source file is byte-identical to ``tag:path`` in a git mirror."""
    bad = 0
    for tag in kserve_releases(shared):
        for path in sorted((shared / "kserve-versions" / tag).glob("*.yaml")):
            upstream = ("config/configmap/inferenceservice.yaml" if path.name == "configmap-inferenceservice.yaml"
                        else kserve_path(tag, path.name))
            run = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", f"{tag}:{upstream}"],
                                 capture_output=True, text=True, check=False)
            if run.stdout.strip() != git_blob_sha(path.read_bytes()):
                print(f"{path}: not the blob at {tag}:{upstream}", file=sys.stderr)
                bad += 1
    return bad


def write(out: Path, files: dict[str, bytes]) -> None:
    """Write the data folder: the new files, and no stale blob left behind."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.name not in files and (old.name.endswith(".json.gz") or old.name == "index.json"):
            old.unlink()
    for name, data in files.items():
        target = out / name
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)


def differences(out: Path, files: dict[str, bytes]) -> list[str]:
    """Names that differ between the data folder and freshly packed files."""
    on_disk = {p.name for p in out.glob("*") if p.name.endswith(".json.gz") or p.name == "index.json"} if out.is_dir() else set()
    return sorted(name for name in on_disk | set(files)
                  if name not in files or name not in on_disk or (out / name).read_bytes() != files[name])


def main(argv: list[str] | None = None) -> int:
    """Pack (or ``--check``) the package data; 0 when done or up to date, 1 when stale or a source is off."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ folder (default: ../shared)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the package data folder")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if --out is not what packing gives")
    parser.add_argument("--verify-git", type=Path, metavar="GIT_DIR", help="a kserve/kserve git mirror to check sources against")
    args = parser.parse_args(argv)
    if args.verify_git is not None and verify_git(args.shared, args.verify_git):
        return 1
    files = pack(args.shared)
    check_v020_copy(args.shared, files)
    if args.check:
        stale = differences(args.out, files)
        for name in stale:
            print(f"{args.out / name}: stale (run tools/pack_schemas.py)", file=sys.stderr)
        return 1 if stale else 0
    write(args.out, files)
    total = sum(len(data) for name, data in files.items() if name.endswith(".gz"))
    print(f"{len(files) - 2} schemas + subtrees: {total} bytes gzip'd, index {len(files['index.json'])} bytes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
