"""Misuse of the InferenceService surface: every mistake is bad input (exit 2 from the CLI), one line per
problem, located at the spec or overlay line, with what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from surface_cases import make_repo, overlay, problems

P = 'model_format="sklearn", storage_uri="gs://b/m"'


def m(pred: str, extra: str = "", mode: str = "Knative") -> str:
    return f'MODEL = Model(name="m", deployment_mode="{mode}", predictor=Predictor({pred}){extra})\n'


def env(kserve: str, extra: str = "") -> dict[str, str]:
    return {"dev": f'namespace: ml\nkserveVersion: "{kserve}"\nmonitoring: {{enabled: false}}\n' + extra}


CASES: dict[str, tuple[str, dict[str, str] | None, list[str]]] = {
    "secret-literal-env": (
        m(f'{P}, env={{"HF_TOKEN": "hf_abc", "LOG_LEVEL": "debug"}}'),
        None,
        [
            "specs/main.py: m.predictor.env.HF_TOKEN: a literal value for a secret-looking variable is refused in env 'dev': expected a reference such as SecretKeyRef(name=..., key=...) (YAML: {source: secret, name: ..., key: ...}) to a Secret from the secret manager, found a literal (allowPlaintextSecrets: true is for a local demo only)",
        ],
    ),
    "secret-literal-overlay": (
        m(P),
        env("0.20", "models:\n  m:\n    env: {OPENAI_API_KEY: sk-123}\n"),
        [
            "overlays/dev.yaml:6: m.predictor.env.OPENAI_API_KEY: a literal value for a secret-looking variable is refused in env 'dev': expected a reference such as SecretKeyRef(name=..., key=...) (YAML: {source: secret, name: ..., key: ...}) to a Secret from the secret manager, found a literal (allowPlaintextSecrets: true is for a local demo only)",
        ],
    ),
    # Kubernetes: extended resources cannot be overcommitted (kubernetes/kubernetes pkg/apis/core/validation ValidateResourceRequirements)
    "gpu-request-without-limit": (
        m(f'{P}, resources=Resources(requests={{"nvidia.com/gpu": "1"}})'),
        None,
        [
            "specs/main.py:2: Resources: nvidia.com/gpu: expected a limit equal to the request '1' (extended resources and hugepages cannot be overcommitted), found none",
        ],
    ),
    "gpu-request-not-limit": (
        m(f'{P}, resources=Resources(requests={{"nvidia.com/gpu": "1"}}, limits={{"nvidia.com/gpu": "2"}})'),
        None,
        [
            "specs/main.py:2: Resources: nvidia.com/gpu: expected the request to equal the limit '2' (extended resources and hugepages cannot be overcommitted), found '1'",
        ],
    ),
    "fractional-gpu": (
        m(f'{P}, resources=Resources(limits={{"nvidia.com/gpu": "500m"}})'),
        None,
        [
            "specs/main.py:2: Resources.limits: expected a whole number of nvidia.com/gpu (extended resources count devices), found '500m'",
        ],
    ),
    "hugepages-overcommit": (
        m(f'{P}, resources=Resources(requests={{"hugepages-2Mi": "512Mi"}}, limits={{"hugepages-2Mi": "1Gi"}})'),
        None,
        [
            "specs/main.py:2: Resources: hugepages-2Mi: expected the request to equal the limit '1Gi' (extended resources and hugepages cannot be overcommitted), found '512Mi'",
        ],
    ),
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go validateScalingKPACompExtension
    "strategy-in-knative": (
        m(f'{P}, deployment_strategy=DeploymentStrategy(type="Recreate")'),
        None,
        [
            "specs/main.py: m.predictor.deployment_strategy: expected no deployment_strategy in Knative mode (customizing deploymentStrategy is only supported for raw deployment mode): set deployment_mode='Standard', found one",
        ],
    ),
    "two-ports-in-knative": (
        m(f'{P}, ports=[ContainerPort(container_port=8080), ContainerPort(container_port=8081)]'),
        None,
        [
            'specs/main.py: m.predictor.ports: expected at most one port in Knative mode (Knative routes to a single container port), found 2',
        ],
    ),
    "autoscaling-in-knative": (
        m(f'{P}, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", target=MetricTarget(type="Utilization", average_utilization=60)))])'),
        None,
        [
            "specs/main.py: m.predictor.auto_scaling: expected no auto_scaling in Knative mode (KServe's Standard-mode reconcilers read it; Knative scales with scale_metric/scale_target): set deployment_mode='Standard', found one",
        ],
    ),
    # autoScaling: not in kserve/kserve@v0.14.1 CRD; read by @v0.15.2:pkg/controller/v1beta1/inferenceservice/reconcilers/keda/keda_reconciler.go:75
    "autoscaling-on-0.14": (
        m(f'{P}, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", target=MetricTarget(type="Utilization", average_utilization=60)))])', mode="Standard"),
        env("0.14"),
        [
            'specs/main.py: m.predictor.auto_scaling: expected no auto_scaling on KServe 0.14 (autoScaling arrives in KServe 0.15), found one',
        ],
    ),
    # AutoscalerAllowedClassList: kserve/kserve@v0.14.1:pkg/constants/constants.go:190-193, @v0.15.2:constants.go:215-220
    "keda-on-0.14": (
        m(f'{P}, autoscaler_class="keda"', mode="Standard"),
        env("0.14"),
        [
            "specs/main.py: m.predictor.autoscaler_class: expected hpa or external on KServe 0.14 (keda arrives in KServe 0.15), found 'keda'",
        ],
    ),
    # autoScaling.behavior: in the CRD from kserve/kserve@v0.16.0 (checked against the shipped schemas in test_kserve_versions.py)
    "behavior-on-0.15": (
        m(f'{P}, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", target=MetricTarget(type="Utilization", average_utilization=60)))], behavior=ScalingBehavior(scale_down=ScalingRules(stabilization_window_seconds=300)))', mode="Standard"),
        env("0.15"),
        [
            'specs/main.py: m.predictor.auto_scaling.behavior: expected no behavior on KServe 0.15 (it arrives in KServe 0.16), found one',
        ],
    ),
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go validateScalingHPACompExtension (Resource only)
    "hpa-external-metric": (
        m(f'{P}, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="External", external=ExternalMetric(metric=ExternalMetricQuery(server_address="http://p:9090", query="q"), target=MetricTarget(type="Value", value="1")))])', mode="Standard"),
        None,
        [
            "specs/main.py: m.predictor.auto_scaling.metrics[0]: expected type Resource with the HPA autoscaler (it scales on cpu and memory only; External metrics need autoscaler_class='keda'), found 'External'",
        ],
    ),
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/inference_service_validation.go validateScalingKedaCompExtension (cpu: Utilization)
    "keda-cpu-average-value": (
        m(f'{P}, autoscaler_class="keda", auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", target=MetricTarget(type="AverageValue", average_value="500m")))])', mode="Standard"),
        None,
        [
            "specs/main.py: m.predictor.auto_scaling.metrics[0].resource.target.type: expected Utilization for cpu with KEDA, found 'AverageValue'",
        ],
    ),
    "metric-without-its-source": (
        m(f'{P}, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="External")])', mode="Standard"),
        None,
        [
            'specs/main.py:2: ScalingMetric: expected only external with type External, found none',
        ],
    ),
    # kserve/kserve@v0.14.1 workerSpec has `size` only; pipeline/tensor sizes from @v0.15.2
    "worker-spec-on-0.14": (
        m('model_format="huggingface", storage_uri="pvc://m/x", autoscaler_class="none", worker_spec=WorkerSpec(pipeline_parallel_size=2)', mode="Standard"),
        env("0.14"),
        [
            "specs/main.py: m.predictor.autoscaler_class: expected hpa or external on KServe 0.14 (none arrives in KServe 0.15), found 'none'",
            'specs/main.py: m.predictor.worker_spec: expected no worker_spec on KServe 0.14 (pipeline/tensor parallel sizes arrive in KServe 0.15), found one',
        ],
    ),
    # kserve/kserve@v0.15.2:pkg/apis/serving/v1beta1/inference_service_validation.go:149-195 (pvc:// only at :175; @v0.16.0:218 adds oci://)
    "worker-spec-misuse": (
        m('model_format="huggingface", storage_uri="s3://m/x", env={"TENSOR_PARALLEL_SIZE": "2"}, worker_spec=WorkerSpec(pipeline_parallel_size=2), resources=Resources(limits={"google.com/tpu": "4"})', extra=', service_account_name="sa"', mode="Standard"),
        env("0.15"),
        [
            "specs/main.py: m.predictor.storage_uri: expected a pvc:// URI with worker_spec on KServe 0.15, found 's3://m/x'",
            "specs/main.py: m.predictor.autoscaler_class: expected 'none' with worker_spec (a multi-node predictor does not autoscale), found none set (KServe's default, hpa)",
            'specs/main.py: m.predictor.env.TENSOR_PARALLEL_SIZE: expected worker_spec to set it (pipeline_parallel_size, tensor_parallel_size), found it in env',
            'specs/main.py: m.predictor.resources: expected GPUs of nvidia.com/gpu, amd.com/gpu, intel.com/gpu, habana.ai/gaudi with worker_spec, found google.com/tpu',
        ],
    ),
    "both-format-and-container": (
        m('model_format="sklearn", container=Container(image="x:1")'),
        None,
        [
            'specs/main.py:2: Predictor: expected exactly one of model_format (a runtime serves it) or container (your own image), found both',
        ],
    ),
    "neither-format-nor-container": (
        m('storage_uri="gs://b/m"'),
        None,
        [
            'specs/main.py:2: Predictor: expected exactly one of model_format (a runtime serves it) or container (your own image), found neither',
        ],
    ),
    "custom-with-runtime-fields": (
        m('container=Container(image="x:1"), runtime="kserve-sklearnserver", args=["--x"]'),
        None,
        [
            'specs/main.py:2: Predictor: expected no runtime with a custom container (they configure a runtime), found them',
        ],
    ),
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_custom.go:51-60 validateCustomProtocol (PROTOCOL v1 or v2)
    "custom-grpc-protocol": (
        m('container=Container(image="x:1"), protocol="grpc-v2"'),
        None,
        [
            "specs/main.py:2: Predictor: expected protocol v1 or v2 for a custom container (KServe's PROTOCOL variable), found 'grpc-v2'",
        ],
    ),
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_custom.go:75-87 GetStorageUri reads STORAGE_URI
    "custom-storage-uri-env": (
        m('container=Container(image="x:1", env={"STORAGE_URI": "gs://b/m"})'),
        None,
        [
            "specs/main.py:2: Predictor: expected no STORAGE_URI in the container's env (servespec sets it from storage_uri/protocol), found it",
        ],
    ),
    "mount-without-volume": (
        m(f'{P}, volume_mounts=[VolumeMount(name="cache", mount_path="/cache")]'),
        None,
        [
            'specs/main.py:2: Predictor: expected volume_mounts to name volumes of the component (none), found cache',
        ],
    ),
    "volume-two-sources": (
        m(f'{P}, volumes=[Volume(name="v", empty_dir=EmptyDirVolume(), config_map=ConfigMapVolume(name="c"))]'),
        None,
        [
            'specs/main.py:2: Volume: expected exactly one of secret, config_map, persistent_volume_claim or empty_dir, found config_map, empty_dir',
        ],
    ),
    "probe-two-handlers": (
        m(f'{P}, readiness_probe=Probe(http_get=HTTPGetAction(path="/"), tcp_socket=TCPSocketAction(port=8080))'),
        None,
        [
            'specs/main.py:2: Probe: expected exactly one of http_get, tcp_socket, exec or grpc, found http_get, tcp_socket',
        ],
    ),
    "env-from-both": (
        m(f'{P}, env_from=[EnvFrom(secret="s", config_map="c")]'),
        None,
        [
            'specs/main.py:2: EnvFrom: expected exactly one of secret or config_map, found both',
        ],
    ),
    "bad-env-name": (
        m(f'{P}, env={{"1BAD": "x"}}'),
        None,
        [
            "specs/main.py:2: Predictor.env: expected an environment variable name (letters, digits, '_', '-', '.', not starting with a digit), found '1BAD'",
        ],
    ),
    "env-ref-unknown-source-yaml": (
        m(P),
        env("0.20", "models:\n  m:\n    env: {TOKEN: {source: vault, name: s, key: k}}\n"),
        [
            "overlays/dev.yaml:6: models.m.env.TOKEN: expected a string, or a reference with source: secret, configMap, field or resource, found a mapping",
        ],
    ),
    "legacy-new-fields": (
        m(f'{P}, node_selector={{"a": "b"}}, args=["--x"]'),
        {"dev": 'namespace: ml\nkserveApi: serving.kubeflow.org/v1alpha2\nmonitoring: {enabled: false}\n'},
        [
            "specs/main.py: m.predictor.args: env 'dev' targets serving.kubeflow.org/v1alpha2: servespec renders it for serving.kserve.io/v1beta1 only, found predictor.args",
            "specs/main.py: m.predictor.node_selector: env 'dev' targets serving.kubeflow.org/v1alpha2: servespec renders it for serving.kserve.io/v1beta1 only, found predictor.node_selector",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_misuse_is_one_located_line_each(tmp_path: Path, case: str) -> None:
    spec, overlays, expected = CASES[case]
    repo = make_repo(tmp_path, spec, overlays or {"dev": overlay("0.20")})
    assert problems(repo) == expected


def test_the_cli_exits_2_and_prints_them(tmp_path: Path) -> None:
    spec, overlays, expected = CASES["secret-literal-env"]
    repo = make_repo(tmp_path, spec, {"dev": overlay("0.20")})
    res = run_cli("render", "--root", repo)
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", "".join(f"servespec: error: {p}\n" for p in expected))
    assert not (repo / "rendered").exists()


def test_a_literal_secret_is_allowed_where_the_env_allows_plaintext(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, CASES["secret-literal-env"][0], {"dev": overlay("0.20", "allowPlaintextSecrets: true\n")})
    assert run_cli("render", "--root", repo).exit_code == 0


# One mistake per field: the spec's own validators (pydantic), each message naming the class and field.
FIELD_MISUSE: dict[str, tuple[str, str]] = {
    "port-out-of-range": (m(f'{P}, ports=[ContainerPort(container_port=70000)]'),
        'specs/main.py:2: ContainerPort.container_port: expected a port number from 1 to 65535, found 70000'),
    "toleration-exists-with-value": (m(f'{P}, tolerations=[Toleration(key="k", operator="Exists", value="v")]'),
        "specs/main.py:2: Toleration: expected no value with operator Exists, found 'v'"),
    "affinity-operator": (m(f'{P}, affinity=Affinity(node_affinity=NodeAffinity(required_during_scheduling_ignored_during_execution=NodeSelector(node_selector_terms=[NodeSelectorTerm(match_expressions=[NodeSelectorRequirement(key="k", operator="Is")])])))'),
        "specs/main.py:2: NodeSelectorRequirement.operator: expected 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt' or 'Lt', found 'Is'"),
    "pull-secret-name": (m(f'{P}, image_pull_secrets=["My_Registry"]'),
        "specs/main.py:2: Predictor.image_pull_secrets[0]: expected a DNS-1123 subdomain name, found 'My_Registry'"),
    "component-label-key": (m(f'{P}, labels={{"bad key": "x"}}'),
        "specs/main.py:2: Predictor.labels: expected a Kubernetes label/annotation key, found 'bad key'"),
    "node-selector-key": (m(f'{P}, node_selector={{"bad key": "x"}}'),
        "specs/main.py:2: Predictor.node_selector: expected a Kubernetes label/annotation key, found 'bad key'"),
    "negative-uid": (m(f'{P}, pod_security_context=PodSecurityContext(run_as_user=-1)'),
        'specs/main.py:2: PodSecurityContext.run_as_user: expected an integer >= 0, found -1'),
    "recreate-with-rolling-update": (m(f'{P}, deployment_strategy=DeploymentStrategy(type="Recreate", rolling_update=RollingUpdate(max_surge=1))', mode="Standard"),
        'specs/main.py:2: DeploymentStrategy: expected no rolling_update with type Recreate, found one'),
    "uri-and-storage-spec": (m(f'{P}, storage_spec=StorageSpec(key="k")'),
        'specs/main.py:2: Predictor: expected storage_uri or storage_spec, found both'),
    "metric-target-mismatch": (m(f'{P}, autoscaler_class="keda", auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", target=MetricTarget(type="Utilization")))])', mode="Standard"),
        'specs/main.py:2: MetricTarget: expected average_utilization with type Utilization, found none'),
    "probe-without-handler": (m(f'{P}, readiness_probe=Probe(period_seconds=5)'),
        'specs/main.py:2: Probe: expected exactly one of http_get, tcp_socket, exec or grpc, found none'),
    "seccomp-type": (m(f'{P}, security_context=SecurityContext(seccomp_profile=SeccompProfile(type="Default"))'),
        "specs/main.py:2: SeccompProfile.type: expected 'RuntimeDefault', 'Localhost' or 'Unconfined', found 'Default'"),
    "duplicate-volume": (m(f'{P}, volumes=[Volume(name="v", empty_dir=EmptyDirVolume()), Volume(name="v", empty_dir=EmptyDirVolume())]'),
        'specs/main.py:2: Predictor: expected unique volume names, found v twice'),
    "runtime-class-type": (m(f'{P}, runtime_class_name=3'),
        'specs/main.py:2: Predictor.runtime_class_name: expected a string, found 3'),
    "priority-class-type": (m(f'{P}, priority_class_name=["high"]'),
        'specs/main.py:2: Predictor.priority_class_name: expected a string, found a list'),
    "worker-spec-zero": (m('model_format="huggingface", storage_uri="pvc://a/b", autoscaler_class="none", worker_spec=WorkerSpec(tensor_parallel_size=0)', mode="Standard"),
        'specs/main.py:2: WorkerSpec.tensor_parallel_size: expected an integer >= 1, found 0'),
    "image-pull-policy": (m('container=Container(image="x:1", image_pull_policy="Sometimes")'),
        "specs/main.py:2: Container.image_pull_policy: expected 'Always', 'IfNotPresent' or 'Never', found 'Sometimes'"),
}


@pytest.mark.parametrize("case", list(FIELD_MISUSE))
def test_field_misuse(tmp_path: Path, case: str) -> None:
    spec, expected = FIELD_MISUSE[case]
    assert problems(make_repo(tmp_path, spec, {"dev": overlay("0.20")})) == [expected]
