"""The CRD schemas servespec ships per KServe release (servespec.kserve.schemas) and the tool that packs them."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from conftest import REPO
from servespec.kserve import schemas
from servespec.kserve.schemas import (
    SUPPORTED,
    configmap_default,
    crd_schemas,
    resolve_version,
    source_of,
    storage_api_version,
)

SHARED = REPO.parent / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared reference material here")

ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
LLMISVC = "LLMInferenceService"
KSERVE_KINDS = [ISVC] + [("serving.kserve.io/v1alpha1", kind) for kind in (
    "ServingRuntime", "ClusterServingRuntime", "InferenceGraph", "TrainedModel", "ClusterStorageContainer",
    "LocalModelCache", "LocalModelNode", "LocalModelNodeGroup")]
OTHER_KINDS = [
    ("argoproj.io/v1alpha1", "Application"), ("argoproj.io/v1alpha1", "ApplicationSet"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"), ("external-secrets.io/v1", "ExternalSecret"),
    ("bitnami.com/v1alpha1", "SealedSecret"),
]


def _minor(release: str) -> tuple[int, int]:
    major, minor, _ = release.split(".")
    return int(major), int(minor)


# -- the index and the kinds of each release ----------------------------------------------------


def test_supported_is_what_the_index_holds() -> None:
    assert list(schemas._index().releases) == list(SUPPORTED)
    assert SUPPORTED == ("0.14.1", "0.15.2", "0.16.0", "0.17.1", "0.18.1", "0.19.0", "0.20.0")


@pytest.mark.parametrize("release", SUPPORTED)
def test_every_release_has_the_kinds_servespec_emits(release: str) -> None:
    shipped = crd_schemas(release)
    missing = [key for key in KSERVE_KINDS + OTHER_KINDS if key not in shipped]
    assert missing == []
    spec: Any = shipped[ISVC]["properties"]["spec"]  # type: ignore[index]
    assert "predictor" in spec["properties"] and spec["required"] == ["predictor"]
    runtime: Any = shipped[("serving.kserve.io/v1alpha1", "ServingRuntime")]
    assert "containers" in runtime["properties"]["spec"]["properties"]


@pytest.mark.parametrize("release", SUPPORTED)
def test_llm_inference_service_only_from_0_16(release: str) -> None:
    kinds = {kind for _, kind in crd_schemas(release)}
    assert (LLMISVC in kinds) == (_minor(release) >= (0, 16))
    assert ("LLMInferenceServiceConfig" in kinds) == (_minor(release) >= (0, 16))


def test_versions_that_are_not_served_are_not_shipped() -> None:
    # external-secrets@cc5bfbc2:config/crds/bases/external-secrets.io_externalsecrets.yaml: v1beta1 has served: false
    shipped = crd_schemas("0.20")
    assert ("external-secrets.io/v1", "ExternalSecret") in shipped
    assert ("external-secrets.io/v1beta1", "ExternalSecret") not in shipped


def test_storage_api_version() -> None:
    assert storage_api_version(LLMISVC, "0.16") == "serving.kserve.io/v1alpha1"
    assert storage_api_version(LLMISVC, "0.17") == "serving.kserve.io/v1alpha2"
    assert storage_api_version(LLMISVC, "0.15") is None
    assert storage_api_version("InferenceService", "0.14") == "serving.kserve.io/v1beta1"
    assert storage_api_version("Application", "0.14") == "argoproj.io/v1alpha1"


def test_configmap_default() -> None:
    # kserve/kserve@v0.14.1:config/configmap/inferenceservice.yaml:571 "defaultDeploymentMode": "Serverless"
    assert configmap_default("deploy.defaultDeploymentMode", "0.14") == "Serverless"
    assert configmap_default("ingress.enableGatewayApi", "0.15") is False
    with pytest.raises(KeyError) as err:
        configmap_default("ingress.enableGatewayApi", "0.14")
    assert err.value.args[0] == "configmap default 'ingress.enableGatewayApi' is not recorded for KServe 0.14.1"


# -- versions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "release"), [
    ("0.15", "0.15.2"), ("v0.15", "0.15.2"), ("0.15.2", "0.15.2"), ("0.15.0", "0.15.2"), ("0.15.9", "0.15.2"),
    (" 0.14 ", "0.14.1"), ("v0.20.0", "0.20.0"), ("0.18", "0.18.1"),
])
def test_resolve_version_picks_the_shipped_patch_of_the_minor(requested: str, release: str) -> None:
    assert resolve_version(requested) == release


@pytest.mark.parametrize("requested", ["0.13", "0.21", "1.0", "0.13.5"])
def test_unknown_minor_names_the_supported_ones(requested: str) -> None:
    minor = ".".join(requested.split(".")[:2])
    expected = f"KServe {minor} is not supported (supported: 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.20)"
    with pytest.raises(ValueError) as err:
        resolve_version(requested)
    assert str(err.value) == expected
    with pytest.raises(ValueError) as err:
        crd_schemas(requested)
    assert str(err.value) == expected


@pytest.mark.parametrize("requested", ["latest", "0", "0.20.0-rc1", "0.x", ""])
def test_malformed_version(requested: str) -> None:
    with pytest.raises(ValueError) as err:
        resolve_version(requested)
    assert str(err.value) == f"KServe version {requested!r} is not MAJOR.MINOR[.PATCH] (e.g. \"0.15\" or \"0.15.2\")"


# -- sources ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api_version", "kind", "version", "source"), [
    (*ISVC, "0.15", "kserve/kserve@v0.15.2 config/crd/full/serving.kserve.io_inferenceservices.yaml"),
    ("serving.kserve.io/v1alpha2", LLMISVC, "0.17",
     "kserve/kserve@v0.17.1 config/crd/full/llmisvc/serving.kserve.io_llminferenceservices.yaml"),
    ("serving.kserve.io/v1alpha1", "LocalModelCache", "0.16",
     "kserve/kserve@v0.16.0 config/crd/full/serving.kserve.io_localmodelcaches.yaml"),
    ("serving.kserve.io/v1alpha1", "LocalModelCache", "0.18",
     "kserve/kserve@v0.18.1 config/crd/full/localmodel/serving.kserve.io_localmodelcaches.yaml"),
    ("argoproj.io/v1alpha1", "Application", "0.14", "argoproj/argo-cd@37ee0097cf85 manifests/crds/application-crd.yaml"),
])
def test_source_of(api_version: str, kind: str, version: str, source: str) -> None:
    assert source_of(api_version, kind, version) == source


def test_source_of_an_unknown_kind() -> None:
    with pytest.raises(KeyError) as err:
        source_of("serving.kserve.io/v1alpha1", LLMISVC, "0.15")
    assert err.value.args[0] == "no shipped schema for serving.kserve.io/v1alpha1 LLMInferenceService in KServe 0.15.2"


def test_every_blob_records_its_sources() -> None:
    index = json.loads(resources.files("servespec.kserve").joinpath("data", "index.json").read_bytes())
    for name, blob in index["blobs"].items():
        assert blob["sources"], name
        for source in blob["sources"]:
            assert set(source) == {"repo", "tag", "commit", "path"} and len(source["commit"]) == 40, name


# -- the packaged data -------------------------------------------------------------------------------


def test_loading_is_lazy_and_cached() -> None:
    schemas._blob.cache_clear()
    shipped = crd_schemas("0.19")
    assert len(shipped) == len(list(shipped)) and ISVC in shipped
    assert schemas._blob.cache_info().currsize == 0
    first = shipped[ISVC]
    assert schemas._blob.cache_info().currsize == 1
    assert crd_schemas("0.19.0")[ISVC] is first


def test_every_schema_resolves_to_its_content_hash() -> None:
    """Each blob is named by the sha256 of the schema it came from: the shared-subtree store round-trips."""
    for name in schemas._index().files:
        data = json.dumps(schemas._blob(name), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(data).hexdigest()[:16] == name


def test_data_folder_holds_exactly_the_indexed_files() -> None:
    folder = resources.files("servespec.kserve").joinpath("data")
    on_disk = {entry.name for entry in folder.iterdir()}
    assert on_disk == set(schemas._index().files.values()) | {"index.json", "subtrees.json.gz"}
    for name in sorted(on_disk - {"index.json"}):
        assert folder.joinpath(name).read_bytes()[4:8] == b"\0\0\0\0", f"{name}: gzip mtime is not 0"


@needs_shared
def test_v0_20_inferenceservice_is_the_shared_crds_copy() -> None:
    with (SHARED / "crds" / "kserve" / "serving.kserve.io_inferenceservices.yaml").open("rb") as fh:
        crd = yaml.load(fh, Loader=yaml.CSafeLoader)
    [version] = crd["spec"]["versions"]
    assert crd_schemas("0.20")[ISVC] == version["schema"]["openAPIV3Schema"]
    assert crd_schemas("0.19")[ISVC] != version["schema"]["openAPIV3Schema"]


# -- tools/pack_schemas.py on a miniature shared/ folder -------------------------------------------------


def _pack_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pack_schemas", REPO / "tools" / "pack_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pack_schemas", module)
    spec.loader.exec_module(module)
    return module


def _crd(group: str, kind: str, versions: list[tuple[str, bool, dict[str, object]]]) -> str:
    return yaml.safe_dump({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                           "spec": {"group": group, "names": {"kind": kind}, "versions": [
                               {"name": name, "served": served, "storage": served,
                                "schema": {"openAPIV3Schema": schema}} for name, served, schema in versions]}})


def _mini_shared(root: Path, predictor_doc: str = "the predictor") -> Path:
    """Two releases whose InferenceServices share a > 500-byte container schema, plus one other CRD."""
    container: dict[str, object] = {"type": "object", "properties": {f"field{i}": {"type": "string", "description": "x" * 20}
                                                  for i in range(20)}}
    releases: tuple[tuple[str, str, dict[str, object]], ...] = (
        ("v0.14.1", "a" * 40, {}), ("v0.15.2", "b" * 40, {"autoScaling": {"type": "object"}}))
    for tag, _, extra in releases:
        folder = root / "kserve-versions" / tag
        folder.mkdir(parents=True)
        predictor: dict[str, object] = {"type": "object", "description": predictor_doc, "properties": {"container": container, **extra}}
        isvc: dict[str, object] = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "predictor": predictor,
            "transformer": {"type": "object", "properties": {"container": container, "image": {"type": "string"}}}}}}}
        (folder / "serving.kserve.io_inferenceservices.yaml").write_text(
            _crd("serving.kserve.io", "InferenceService", [("v1beta1", True, isvc)]))
        (folder / "configmap-inferenceservice.yaml").write_text(yaml.safe_dump(
            {"data": {"deploy": json.dumps({"defaultDeploymentMode": "Serverless"})}}))
    (root / "kserve-versions" / "SOURCES.md").write_text(
        "| folder | tag commit |\n| --- | --- |\n" + "".join(f"| {tag} | {commit} |\n" for tag, commit, _ in releases))
    (root / "crds" / "sealed-secrets").mkdir(parents=True)
    (root / "crds" / "sealed-secrets" / "bitnami.com_sealedsecrets.yaml").write_text(_crd(
        "bitnami.com", "SealedSecret", [("v1alpha1", True, {"type": "object"}), ("v1beta1", False, {"type": "integer"})]))
    (root / "crds" / "SOURCES.md").write_text(
        "| file here | repository | commit | source path | git blob SHA | bytes |\n| --- | --- | --- | --- | --- | --- |\n"
        f"| `sealed-secrets/bitnami.com_sealedsecrets.yaml` | bitnami-labs/sealed-secrets | `{'c' * 40}` "
        "| `helm/crds/bitnami.com_sealedsecrets.yaml` | `x` | 1 |\n")
    return root


def test_pack_is_deterministic_dedups_and_round_trips(tmp_path: Path) -> None:
    pack = _pack_tool()
    shared = _mini_shared(tmp_path / "shared")
    first = pack.pack(shared)
    assert pack.pack(shared) == first
    index = json.loads(first["index.json"])
    assert list(index["kserve"]) == ["0.14.1", "0.15.2"]
    assert list(index["other"]) == ["bitnami.com/v1alpha1 SealedSecret"]  # v1beta1 is not served
    assert index["other"]["bitnami.com/v1alpha1 SealedSecret"]["repo"] == "bitnami-labs/sealed-secrets"
    assert index["kserve"]["0.14.1"]["configmap"] == {"deploy.defaultDeploymentMode": "Serverless"}
    assert index["kserve"]["0.15.2"]["commit"] == "b" * 40
    assert index["kserve"]["0.15.2"]["kinds"]["serving.kserve.io/v1beta1 InferenceService"]["path"] == \
        "config/crd/full/serving.kserve.io_inferenceservices.yaml"
    store = json.loads(gzip.decompress(first["subtrees.json.gz"]))
    # the container (in both predictors and in the transformer) and the transformer (the same in both releases),
    # each once; the transformer's own parts are not stored apart
    assert len(store) == 2
    stored = sorted(sorted(entry["properties"])[:2] for entry in store.values())
    assert stored == [["container", "image"], ["field0", "field1"]]
    for name, blob in index["blobs"].items():
        packed = json.loads(gzip.decompress(first[blob["file"]]))
        assert hashlib.sha256(pack.canonical(pack.resolve(packed, store))).hexdigest()[:16] == name


def test_pack_check_reports_stale_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = _pack_tool()
    shared, out = _mini_shared(tmp_path / "shared"), tmp_path / "data"
    assert pack.main(["--shared", str(shared), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "stale.json.gz").write_bytes(b"")
    assert pack.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # same bytes, stale blob removed
    assert pack.main(["--shared", str(shared), "--out", str(out), "--check"]) == 0
    capsys.readouterr()
    changed = _mini_shared(tmp_path / "changed", predictor_doc="the predictor, reworded")
    assert pack.main(["--shared", str(changed), "--out", str(out), "--check"]) == 1
    stale = capsys.readouterr().err.splitlines()
    assert len(stale) == 5  # two old InferenceService blobs, two new ones, the index
    assert all(line.endswith(": stale (run tools/pack_schemas.py)") for line in stale)
