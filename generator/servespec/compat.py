"""Resolution of the InferenceService surface (called by ``resolve.py``): merging the per-env overrides of
scheduling, env and runtime fields into a model, and every check of those fields against the env and its
KServe version, so emitters never raise.

Sources of KServe's rules are cited where they are encoded (``kserve/kserve@TAG:path:line``) and in
``tests/test_isvc_surface_errors.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import Problem
from .kserve.versions import Features, first_minor_with
from .overlay import Env
from .secretscan import secret_like
from .spec import Model, Predictor, Runtime
from .spec.container import ContainerFields, PodFields
from .spec.model import ArtExplainer, ContainerExplainer
from .spec.overlay import ModelOverride

__all__ = ["SECRET_LIKE", "merge_surface", "surface_problems", "legacy_surface_fields", "legacy_problems", "env_containers",
           "MULTINODE_GPUS", "LEGACY_API", "FRAMEWORKS"]

LEGACY_API = "serving.kubeflow.org/v1alpha2"
FRAMEWORKS = ("tensorflow", "triton", "xgboost", "lightgbm", "sklearn", "onnx", "pytorch", "pmml")
"""Framework keys of a v1alpha2 PredictorSpec."""

SECRET_LIKE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)
"""Environment variable names whose literal values are secrets (``HF_TOKEN``, ``OPENAI_API_KEY`` ...)."""

MULTINODE_GPUS = ("nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu", "habana.ai/gaudi")
"""GPU resources a multi-node predictor may request (``DefaultGPUResourceTypeList``,
kserve/kserve@v0.20.0:pkg/constants/constants.go:309-323; ``nvidia.com/mig-*`` too)."""

_NO_OVERRIDE = ModelOverride()

Found = list[tuple[str, str, tuple[str, ...]]]
"""(field, message, path under ``models.<name>`` in the overlay where it may be set)."""


def merge_surface(model: Model, env: Env, runtimes: Mapping[str, Runtime]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(predictor update, model update) from the env's ``defaults`` and ``models.<name>`` for the
    scheduling, env, runtime and ServiceAccount fields. Env variables and node selectors merge by key
    (the override's win); tolerations, affinity, args and pull secrets are replaced."""
    defaults = env.overlay.defaults
    o = env.overlay.models.get(model.name, _NO_OVERRIDE)
    p = model.predictor
    pred: dict[str, Any] = {}
    node_selector = {**defaults.node_selector, **p.node_selector, **o.node_selector}
    if node_selector != p.node_selector:
        pred["node_selector"] = node_selector
    tolerations = o.tolerations if o.tolerations is not None else (p.tolerations or defaults.tolerations)
    if tolerations != p.tolerations:
        pred["tolerations"] = tolerations
    if o.affinity is not None:
        pred["affinity"] = o.affinity
    priority = o.priority_class_name or p.priority_class_name or defaults.priority_class_name
    if priority != p.priority_class_name:
        pred["priority_class_name"] = priority
    pulls = o.image_pull_secrets if o.image_pull_secrets is not None else list(dict.fromkeys([*p.image_pull_secrets, *defaults.image_pull_secrets]))
    if pulls != p.image_pull_secrets:
        pred["image_pull_secrets"] = pulls
    if o.runtime is not None:
        pred["runtime"] = runtimes.get(o.runtime, o.runtime)
    if o.runtime_version is not None:
        pred["runtime_version"] = o.runtime_version
    _merge_container(p, o, pred)
    update: dict[str, Any] = {}
    if o.service_account_name:
        update["service_account_name"] = o.service_account_name
    elif not model.service_account_name and not (o.storage or model.storage) and defaults.service_account_name \
            and p.storage_uri.startswith("s3://"):
        update["service_account_name"] = defaults.service_account_name
    return pred, update


def _merge_container(p: Predictor, o: ModelOverride, pred: dict[str, Any]) -> None:
    """``env`` and ``args`` overrides go to the serving container: the predictor's, or a custom one's."""
    if not o.env and o.args is None:
        return
    target: ContainerFields = p.container if p.container is not None else p
    changes: dict[str, Any] = {}
    if o.env:
        changes["env"] = {**target.env, **o.env}
    if o.args is not None:
        changes["args"] = list(o.args)
    if p.container is not None:
        pred["container"] = p.container.model_copy(update=changes)
    else:
        pred.update(changes)


def _where(env: Env, origin: str, model: str, *overlay_path: str) -> tuple[str, int | None]:
    """The overlay line when ``models.<model>.<overlay_path>`` is set there, else the spec file."""
    override = env.overlay.models.get(model)
    if override is None or not overlay_path or overlay_path[0] not in override.model_fields_set:
        return origin, None
    value = getattr(override, overlay_path[0])
    if len(overlay_path) > 1 and not (isinstance(value, dict) and overlay_path[1] in value):
        return origin, None
    return env.where("models", model, *overlay_path)


def surface_problems(env: Env, kserve: Features, model: Model, origin: str) -> list[Problem]:
    """Every problem of the model's surface fields in ``env`` (KServe ``kserve``)."""
    found: Found = []
    found += _secret_literals(env, model)
    found += _knative_refusals(model)
    found += _scaling(kserve, model)
    found += _multinode(kserve, model)
    found += _runtime_fit(model)
    problems = []
    for field, message, path in found:
        file, line = _where(env, origin, model.name, *path)
        problems.append(Problem(file, line, f"{model.name}.{field}", message))
    return problems


def env_containers(model: Model) -> list[tuple[str, ContainerFields]]:
    """Every container of the model with its field path (the predictor's, a custom predictor's, the
    transformer's, a container explainer's, its ``Runtime``'s)."""
    p = model.predictor
    out: list[tuple[str, ContainerFields]] = [("predictor.container", p.container) if p.container else ("predictor", p)]
    if model.transformer:
        out.append(("transformer.container", model.transformer.container))
    if isinstance(model.explainer, ContainerExplainer):
        out.append(("explainer.container", model.explainer.container))
    if isinstance(p.runtime, Runtime):
        out.append((f"predictor.runtime({p.runtime.name})", p.runtime))
    return out


def _secret_literals(env: Env, model: Model) -> Found:
    """A literal value for a secret-looking variable is a secret in git."""
    if env.overlay.allow_plaintext_secrets:
        return []
    out: Found = []
    for path, container in env_containers(model):
        for name, value in sorted(container.env.items()):
            # main's secrets policy (resolve._secret_problems) reports values that look like secrets and
            # honours not_secret; this refuses any literal under a secret-looking name besides
            if isinstance(value, str) and value and SECRET_LIKE.search(name) and name not in model.not_secret \
                    and secret_like(name, value) is None:
                out.append((f"{path}.env.{name}",
                            f"a literal value for a secret-looking variable is refused in env {env.name!r}: expected a "
                            f"reference such as SecretKeyRef(name=..., key=...) (YAML: {{source: secret, name: ..., key: ...}}) "
                            f"to a Secret from the secret manager, found a literal (allowPlaintextSecrets: true is for a "
                            f"local demo only)", ("env", name)))
    return out


def _components(model: Model) -> list[tuple[str, PodFields]]:
    out: list[tuple[str, PodFields]] = [("predictor", model.predictor)]
    if model.transformer:
        out.append(("transformer", model.transformer))
    if isinstance(model.explainer, (ArtExplainer, ContainerExplainer)):
        out.append(("explainer", model.explainer))
    return out


def _knative_refusals(model: Model) -> Found:
    """What Knative mode refuses or ignores: deploymentStrategy (KServe's KPA validation,
    kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go ``validateScalingKPACompExtension``),
    more than one container port (Knative's revision validation), autoScaling and workerSpec (read only by the
    Standard-mode reconcilers)."""
    if model.deployment_mode != "Knative":
        return []
    out: Found = []
    for name, comp in _components(model):
        if comp.deployment_strategy is not None:
            out.append((f"{name}.deployment_strategy", "expected no deployment_strategy in Knative mode (customizing "
                        "deploymentStrategy is only supported for raw deployment mode): set deployment_mode='Standard', "
                        "found one", ()))
    for path, container in env_containers(model):
        if len(container.ports) > 1 and not path.startswith("predictor.runtime"):
            out.append((f"{path}.ports", f"expected at most one port in Knative mode (Knative routes to a single container "
                        f"port), found {len(container.ports)}", ()))
    p = model.predictor
    for field in ("auto_scaling", "autoscaler_class", "worker_spec"):
        if getattr(p, field) is not None:
            out.append((f"predictor.{field}", f"expected no {field} in Knative mode (KServe's Standard-mode reconcilers read "
                        f"it; Knative scales with scale_metric/scale_target): set deployment_mode='Standard', found one", ()))
    return out


def _scaling(kserve: Features, model: Model) -> Found:
    """``autoScaling`` and the autoscaler class on the env's KServe (``validateScalingHPACompExtension``,
    ``validateScalingKedaCompExtension``: kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:517-600;
    the HPA reconciler builds metrics from Resource entries only, reconcilers/hpa/hpa_reconciler.go:61-100)."""
    p = model.predictor
    out: Found = []
    if p.autoscaler_class in ("keda", "none") and not kserve.keda_autoscaling:
        out.append(("predictor.autoscaler_class", f"expected hpa or external on KServe {kserve.minor} ({p.autoscaler_class} "
                    f"arrives in KServe {first_minor_with('keda_autoscaling')}), found {p.autoscaler_class!r}", ()))
    a = p.auto_scaling
    if a is None or model.deployment_mode == "Knative":
        return out
    if not kserve.keda_autoscaling:
        return [*out, ("predictor.auto_scaling", f"expected no auto_scaling on KServe {kserve.minor} (autoScaling arrives in "
                       f"KServe {first_minor_with('keda_autoscaling')}), found one", ())]
    if not kserve.autoscaling_behavior:
        if a.behavior is not None:
            out.append(("predictor.auto_scaling.behavior", f"expected no behavior on KServe {kserve.minor} (it arrives in "
                        f"KServe {first_minor_with('autoscaling_behavior')}), found one", ()))
        if any(m.external is not None and m.external.authentication_ref is not None for m in a.metrics):
            out.append(("predictor.auto_scaling.metrics", f"expected no external.authentication_ref on KServe {kserve.minor} "
                        f"(it arrives in KServe {first_minor_with('autoscaling_behavior')}), found one", ()))
    cls = p.autoscaler_class or "hpa"
    for i, m in enumerate(a.metrics):
        where = f"predictor.auto_scaling.metrics[{i}]"
        if cls == "hpa" and m.type != "Resource":
            out.append((where, f"expected type Resource with the HPA autoscaler (it scales on cpu and memory only; "
                        f"{m.type} metrics need autoscaler_class='keda'), found {m.type!r}", ()))
        if cls == "keda" and m.resource is not None:
            want = ("Utilization",) if m.resource.name == "cpu" else ("AverageValue", "Utilization")
            if m.resource.target.type not in want:
                out.append((f"{where}.resource.target.type", f"expected {' or '.join(want)} for {m.resource.name} with "
                            f"KEDA, found {m.resource.target.type!r}", ()))
    if cls not in ("hpa", "keda"):
        out.append(("predictor.auto_scaling", f"expected autoscaler_class hpa or keda with auto_scaling (KServe creates no "
                    f"autoscaler for {cls!r}), found {cls!r}", ()))
    return out


def _multinode(kserve: Features, model: Model) -> Found:
    """``validateMultiNodeVariables`` (kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go:386-441;
    @v0.15.2 the same at :149-195 with pvc:// only)."""
    p = model.predictor
    if p.worker_spec is None or model.deployment_mode == "Knative":
        return []
    if not kserve.worker_parallel_sizes:
        return [("predictor.worker_spec", f"expected no worker_spec on KServe {kserve.minor} (pipeline/tensor parallel sizes "
                 f"arrive in KServe {first_minor_with('worker_parallel_sizes')}), found one", ())]
    out: Found = []
    schemes = ("pvc://", "oci://") if kserve.multinode_oci else ("pvc://",)
    if not p.storage_uri.startswith(schemes):
        out.append(("predictor.storage_uri", f"expected a {' or '.join(schemes)} URI with worker_spec on KServe {kserve.minor}, "
                    f"found {p.storage_uri or 'none'!r}", ()))
    if p.autoscaler_class != "none":
        found = repr(p.autoscaler_class) if p.autoscaler_class else "none set (KServe's default, hpa)"
        out.append(("predictor.autoscaler_class", f"expected 'none' with worker_spec (a multi-node predictor does not "
                    f"autoscale), found {found}", ()))
    for key in ("PIPELINE_PARALLEL_SIZE", "TENSOR_PARALLEL_SIZE"):
        if key in p.env:
            out.append((f"predictor.env.{key}", "expected worker_spec to set it (pipeline_parallel_size, tensor_parallel_size), found it in env", ()))
    gpus = [k for k in p.resources.fixed() if not k.startswith("hugepages-")]
    unknown = [k for k in gpus if k not in MULTINODE_GPUS and not k.startswith("nvidia.com/mig")]
    if unknown:
        out.append(("predictor.resources", f"expected GPUs of {', '.join(MULTINODE_GPUS)} with worker_spec, found "
                    f"{', '.join(unknown)}", ()))
    return out


def _runtime_fit(model: Model) -> Found:
    """A ``Runtime`` must declare the model's format (and version) and protocol, as KServe's
    ``RuntimeSupportsModel``/``IsProtocolVersionSupported`` require (kserve/kserve@v0.20.0:
    pkg/apis/serving/v1beta1/predictor_model.go:132-163, v1alpha1/servingruntime_types.go:304-314)."""
    p = model.predictor
    rt = p.runtime
    if not isinstance(rt, Runtime) or p.model_format is None:
        return []
    labels = {f.name for f in rt.supported_model_formats} | {f"{f.name}:{f.version}" for f in rt.supported_model_formats if f.version}
    label = p.model_format if p.model_format_version is None else f"{p.model_format}:{p.model_format_version}"
    out: Found = []
    if label not in labels:
        out.append(("predictor.model_format", f"expected a format runtime {rt.name} declares ({', '.join(sorted(labels))}), "
                    f"found {label!r}", ("runtime",)))
    if rt.protocol_versions and p.effective_protocol not in rt.protocol_versions:
        out.append(("predictor.protocol", f"expected one of {', '.join(rt.protocol_versions)} (runtime {rt.name}), found "
                    f"{p.effective_protocol!r}", ("runtime",)))
    return out


_LEGACY_CONTAINER = ("image", "args", "command", "env_from", "ports", "volume_mounts", "liveness_probe", "readiness_probe",
                     "startup_probe", "security_context")
_LEGACY_POD = ("node_selector", "tolerations", "affinity", "priority_class_name", "runtime_class_name", "image_pull_secrets",
               "pod_security_context", "volumes", "labels", "annotations", "deployment_strategy")
_LEGACY_PREDICTOR = ("container", "storage_spec", "autoscaler_class", "auto_scaling", "worker_spec")


def legacy_surface_fields(model: Model) -> list[str]:
    """Fields of the model that KFServing's v1alpha2 API cannot express (``resolve.py`` refuses them)."""
    p = model.predictor
    found = [f"predictor.{f}" for f in (*_LEGACY_CONTAINER, *_LEGACY_POD, *_LEGACY_PREDICTOR) if getattr(p, f)]
    if not p.storage_uri and p.container is None:
        found.append("predictor.storage_uri (v1alpha2 needs one)")
    if any(not isinstance(v, str) for v in p.env.values()):
        found.append("predictor.env (references)")
    if model.transformer is not None:
        found += [f"transformer.{f}" for f in _LEGACY_POD if getattr(model.transformer, f)]
    return found


def legacy_problems(env_name: str, origin: str, model: Model) -> list[Problem]:
    """What KFServing's v1alpha2 cannot express is refused, never dropped silently."""
    p = model.predictor
    found: list[Problem] = []

    def no(field: str, msg: str) -> None:
        found.append(Problem(origin, None, f"{model.name}.{field}", f"env {env_name!r} targets {LEGACY_API}: {msg}"))

    for surface in legacy_surface_fields(model):
        no(surface.split(" ")[0], f"servespec renders it for serving.kserve.io/v1beta1 only, found {surface}")
    fmt = (p.model_format or "").lower()
    if fmt not in FRAMEWORKS:
        no("predictor.model_format", f"expected one of {', '.join(FRAMEWORKS)}, found {p.model_format!r}")
    if p.runtime:
        no("predictor.runtime", f"ServingRuntimes do not exist there, found {p.runtime!r}")
    if p.effective_protocol != "v1" and fmt != "triton":
        no("predictor.protocol", f"only v1 (and v2 for triton), found {p.effective_protocol!r}")
    if model.deployment_mode != "Knative":
        no("deployment_mode", f"KFServing serves through Knative only, found {model.deployment_mode!r}")
    if model.explainer is not None:
        no("explainer", "no ART explainer in v1alpha2" if model.explainer.type == "art" else "custom explainers are not rendered for v1alpha2")
    return found
