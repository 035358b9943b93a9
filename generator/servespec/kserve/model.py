"""KServe's rules on the model a predictor serves: runtime vs model format/version/protocol, storage
URI schemes, the predictor model ``name``, the collocated transformer's ``STORAGE_URI`` and blocked
environment variables, per minor.

The runtime and storage checks are the controller's (the webhook accepts the object, then every
reconcile fails: ``pkg/controller/v1beta1/inferenceservice/components/predictor.go`` and
``utils/utils.go`` ``ValidateStorageURI``); the others are the validating webhook's."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from .findings import Finding, Minor, SUPPORTED_MINORS, as_list, as_map, as_str, v

__all__ = ["RUNTIMES", "runtimes", "storage_prefixes", "check_model", "check_storage_uri", "check_env"]

Format = tuple[str, str | None, bool]
"""(model format name, version or None, autoSelect) as in ``supportedModelFormats``."""

RUNTIMES: tuple[tuple[str, Minor, Minor, tuple[str, ...], tuple[Format, ...]], ...] = (
    # (ClusterServingRuntime, first minor, last minor, protocolVersions, supportedModelFormats), from
    # kserve/kserve config/runtimes/<name>.yaml at v0.14.1 ... v0.20.0, for the runtimes each tag's
    # config/runtimes/kustomization.yaml installs; multi-node runtimes (workerSpec) left out.
    ("kserve-autogluonserver", (0, 20), (0, 20), ("v1", "v2"), (("autogluon", "1", True),)),
    ("kserve-huggingfaceserver", (0, 14), (0, 20), ("v2", "v1"), (("huggingface", "1", True),)),
    ("kserve-lgbserver", (0, 14), (0, 16), ("v1", "v2"), (("lightgbm", "3", True),)),
    ("kserve-lgbserver", (0, 17), (0, 20), ("v1", "v2"), (("lightgbm", "4", True),)),
    ("kserve-mlserver", (0, 14), (0, 20), ("v2",), (
        ("sklearn", "0", True), ("sklearn", "1", True), ("xgboost", "1", True), ("xgboost", "2", True),
        ("lightgbm", "3", True), ("lightgbm", "4", True), ("mlflow", "1", True), ("mlflow", "2", True))),
    ("kserve-paddleserver", (0, 14), (0, 20), ("v1", "v2"), (("paddle", "2", True),)),
    ("kserve-pmmlserver", (0, 14), (0, 20), ("v1", "v2"), (("pmml", "3", True), ("pmml", "4", True))),
    ("kserve-predictiveserver", (0, 17), (0, 20), ("v1", "v2"), (
        ("sklearn", "1", False), ("xgboost", "2", False), ("lightgbm", "4", False))),
    ("kserve-sklearnserver", (0, 14), (0, 20), ("v1", "v2"), (("sklearn", "1", True),)),
    ("kserve-tensorflow-serving", (0, 14), (0, 20), ("v1", "grpc-v1"), (("tensorflow", "1", True), ("tensorflow", "2", True))),
    ("kserve-torchserve", (0, 14), (0, 20), ("v1", "v2", "grpc-v2"), (("pytorch", "1", True),)),
    ("kserve-tritonserver", (0, 14), (0, 20), ("v2", "grpc-v2"), (
        ("tensorrt", "8", True), ("tensorflow", "1", True), ("tensorflow", "2", True), ("onnx", "1", True),
        ("pytorch", "1", False), ("triton", "2", True))),
    ("kserve-vllmserver", (0, 20), (0, 20), (), (("vLLM", "1", True),)),
    ("kserve-xgbserver", (0, 14), (0, 16), ("v1", "v2"), (("xgboost", "1", True),)),
    ("kserve-xgbserver", (0, 17), (0, 20), ("v1", "v2"), (("xgboost", "2", True),)),
)

VERSION_RE = re.compile(r"^\d+(\.\d+){0,2}$")
"""``ModelFormat.Version``: "major", "major.minor" or "major.minor.patch"
(kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_model.go:36-40)."""

LOCAL_PATH_RE = re.compile(r"\w+?://")
AZURE_BLOB_RE = re.compile(r"https://(.+?).blob.core.windows.net/(.+)")
"""``ValidateStorageURI``: no ``scheme://`` = a local path; Azure blob URLs by regex
(kserve@v0.20.0:pkg/controller/v1beta1/inferenceservice/utils/utils.go:53,427-441)."""


@functools.cache
def runtimes(minor: Minor) -> Mapping[str, tuple[tuple[str, ...], tuple[Format, ...]]]:
    """The ClusterServingRuntimes KServe ``minor`` installs: name -> (protocols, formats) (one
    read-only table per minor: every InferenceService checked asks for it)."""
    return MappingProxyType({name: (protocols, formats) for name, lo, hi, protocols, formats in RUNTIMES if lo <= minor <= hi})


def storage_prefixes(minor: Minor) -> tuple[str, ...]:
    """``SupportedStorageURIPrefixList`` (utils.go: v0.14.1:46, v0.15.2:47, v0.20.0:48)."""
    base = ("gs://", "s3://", "pvc://", "file://", "https://", "http://", "hdfs://", "webhdfs://", "oci://")
    if minor >= (0, 20):
        return (*base, "oci+native://", "hf://")
    return (*base, "hf://") if minor >= (0, 15) else base


def _label(name: str, version: str | None) -> str:
    return name if version is None else f"{name}:{version}"


def _elsewhere(runtime: str, name: str, version: str | None) -> str:
    """Which other minors' built-in ``runtime`` declares ``name:version`` (for the message)."""
    minors = [m for m in SUPPORTED_MINORS if runtime in runtimes(m)
              and any(f[0] == name and f[1] == version for f in runtimes(m)[runtime][1])]
    return "" if not minors else f" (KServe {v(minors[0])}-{v(minors[-1])} declares {_label(name, version)})"


def check_model(model: Mapping[str, object], path: str, minor: Minor) -> list[Finding]:
    """Rules on ``spec.predictor.model`` (``path``): format version shape, runtime vs format,
    version and protocol, storage URI scheme, and no ``name`` from 0.16."""
    out: list[Finding] = []
    fmt = as_map(model.get("modelFormat"))
    name = as_str(fmt.get("name")) or ""
    version = as_str(fmt.get("version"))
    if version is not None and not VERSION_RE.match(version):
        out.append(Finding(f"{path}.modelFormat.version", f"expected \"major\", \"major.minor\" or \"major.minor.patch\", "
                           f"found {version!r}", "model-format-version"))
    out += _runtime(model, path, name, version, minor)
    out += check_storage_uri(as_str(model.get("storageUri")), f"{path}.storageUri", minor)
    model_name = as_str(model.get("name"))
    if minor >= (0, 16) and model_name:
        # validatePredictor (v0.16.0:inference_service_validation.go:158-191)
        out.append(Finding(f"{path}.name", f"expected no name in the predictor's model on KServe {v(minor)} (the 'name' "
                           f"field is not allowed in standard predictor), found {model_name!r}", "predictor-model-name"))
    return out


def _runtime(model: Mapping[str, object], path: str, name: str, version: str | None, minor: Minor) -> list[Finding]:
    """Runtime resolution (v0.20.0:components/predictor.go:349-389; ``RuntimeSupportsModel``,
    predictor_model.go:132-163: exact ``mt:<name>[:<version>]`` labels; protocol via
    ``IsProtocolVersionSupported``, v1alpha1/servingruntime_types.go:304-314)."""
    runtime = as_str(model.get("runtime"))
    protocol = as_str(model.get("protocolVersion"))
    label = _label(name, version)
    known = runtimes(minor)
    if runtime is not None and runtime in known:
        protocols, formats = known[runtime]
        if protocol is not None and protocols and protocol not in protocols:
            return [Finding(f"{path}.protocolVersion", f"expected one of {', '.join(protocols)} for runtime {runtime} on "
                            f"KServe {v(minor)}, found {protocol!r}", "runtime-protocol")]
        labels = {f[0] for f in formats} | {_label(f[0], f[1]) for f in formats if f[1] is not None}
        if label not in labels:
            declared = ", ".join(sorted({_label(f[0], f[1]) for f in formats}))
            return [Finding(f"{path}.modelFormat", f"expected a format runtime {runtime} declares on KServe {v(minor)} "
                            f"({declared}; the version must match exactly), found {label!r}{_elsewhere(runtime, name, version)}",
                            "runtime-model-format")]
        return []
    if runtime is not None:
        shipped = [m for m in SUPPORTED_MINORS if runtime in runtimes(m)]
        if not shipped:
            return []  # a runtime of the user's own
        return [Finding(f"{path}.runtime", f"expected a ClusterServingRuntime KServe {v(minor)} installs, found {runtime!r} "
                        f"(shipped with KServe {v(shipped[0])}-{v(shipped[-1])})", "runtime-missing")]
    return list(_auto_select(path, name, version, protocol, minor))


@functools.lru_cache(maxsize=1024)
def _auto_select(path: str, name: str, version: str | None, protocol: str | None, minor: Minor) -> tuple[Finding, ...]:
    """No runtime named: some installed runtime must auto-select the format (``GetSupportingRuntimes``,
    predictor_model.go:88-130: autoSelect formats only, protocol supported). Remembered per
    arguments: a repo's models use a handful of formats."""
    label = _label(name, version)
    candidates: list[str] = []
    for rt, (protocols, formats) in sorted(runtimes(minor).items()):
        auto = [f for f in formats if f[2]]
        labels = {f[0] for f in auto} | {_label(f[0], f[1]) for f in auto if f[1] is not None}
        if label in labels and (protocol is None or not protocols or protocol in protocols):
            return ()
        candidates += [f"{rt} {_label(f[0], f[1])} ({'/'.join(protocols) or 'any protocol'})" for f in auto if f[0] == name]
    offer = f"; KServe {v(minor)} auto-selects {', '.join(candidates)}" if candidates else \
        f"; no runtime KServe {v(minor)} installs auto-selects {name!r}"
    found = label if protocol is None else f"{label} with protocol {protocol}"
    return (Finding(f"{path}.modelFormat", f"expected a format an installed runtime auto-selects, or a runtime named "
                    f"(no runtime found to support the predictor{offer}), found {found!r}", "runtime-auto-select"),)


def check_storage_uri(uri: str | None, path: str, minor: Minor) -> list[Finding]:
    """``ValidateStorageURI`` at reconcile time, unless a ClusterStorageContainer claims the URI.
    The message shows only the scheme (a URI may carry credentials)."""
    if not uri or not LOCAL_PATH_RE.search(uri):
        return []
    if "blob.core.windows.net" in uri:
        if AZURE_BLOB_RE.search(uri):
            return []
    elif uri.startswith(storage_prefixes(minor)):
        return []
    scheme = uri.split("://", 1)[0] + "://"
    later = [m for m in SUPPORTED_MINORS if scheme in storage_prefixes(m)]
    hint = f" ({scheme} is supported from KServe {v(later[0])})" if later and later[0] > minor else ""
    return [Finding(path, f"expected a URI starting with one of {', '.join(storage_prefixes(minor))}, an Azure blob URL "
                    f"or a local path (KServe {v(minor)} refuses it at every reconcile unless a ClusterStorageContainer "
                    f"supports it), found a {scheme!r} URI{hint}", "storage-uri-scheme")]


def check_env(spec: Mapping[str, object], minor: Minor) -> list[Finding]:
    """``validateCollocationStorageURI`` (all minors: no ``STORAGE_URI`` in the predictor's
    ``transformer-container``, v0.14.1:inference_service_validation.go:278-290) and, from 0.19,
    ``validateBlockedEnvVars`` (``PYTHONPATH``, v0.19.0:pkg/validation/env_policy.go:25-43)."""
    out: list[Finding] = []
    pred = as_map(spec.get("predictor"))
    for i, c in enumerate(as_list(pred.get("containers"))):
        cm = as_map(c)
        if cm.get("name") == "transformer-container":
            for j, e in enumerate(as_list(cm.get("env"))):
                if as_map(e).get("name") == "STORAGE_URI":
                    out.append(Finding(f"spec.predictor.containers[{i}].env[{j}].name", "expected no STORAGE_URI in the "
                                       "collocated transformer-container (storage uri should not be specified in "
                                       "transformer container), found it", "collocation-storage-uri"))
            break
    if minor < (0, 19):
        return out
    for path, container in _containers(spec):
        for j, e in enumerate(as_list(container.get("env"))):
            if as_map(e).get("name") == "PYTHONPATH":
                out.append(Finding(f"{path}.env[{j}].name", f"expected no PYTHONPATH on KServe {v(minor)} (setting it is "
                                   f"not allowed for security reasons), found it", "blocked-env"))
    return out


def _containers(spec: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    """The containers ``validateBlockedEnvVars`` looks at, with their paths."""
    out: list[tuple[str, Mapping[str, object]]] = []
    for comp in ("predictor", "transformer", "explainer"):
        c = as_map(spec.get(comp))
        for key in ("containers", "initContainers"):
            out += [(f"spec.{comp}.{key}[{i}]", as_map(x)) for i, x in enumerate(as_list(c.get(key)))]
    pred = as_map(spec.get("predictor"))
    if "model" in pred:
        out.append(("spec.predictor.model", as_map(pred.get("model"))))
    worker = as_map(pred.get("workerSpec"))
    for key in ("containers", "initContainers"):
        out += [(f"spec.predictor.workerSpec.{key}[{i}]", as_map(x)) for i, x in enumerate(as_list(worker.get(key)))]
    art = as_map(as_map(spec.get("explainer")).get("art"))
    if art:
        out.append(("spec.explainer.art", art))
    return out
