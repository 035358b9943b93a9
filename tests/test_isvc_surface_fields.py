"""Every new field of a component: rendered where KServe reads it, valid against the schema of the oldest
KServe release that has it and of 0.20 (the shipped CRDs, no ``--crds``), and documented in the reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servespec.reference import reference_markdown
from surface_cases import isvc, make_repo, overlay, render, schema_errors

MODEL = 'MODEL = Model(name="m", deployment_mode="{mode}", predictor=Predictor({predictor}){extra})\n'
BASE = 'model_format="sklearn", storage_uri="gs://b/m"'


def _get(node: Any, path: str) -> Any:
    """``node`` at a dotted path; a key may hold dots itself (``serving.kserve.io/autoscalerClass``)."""
    parts = path.split(".")
    while parts:
        if isinstance(node, list):
            node, parts = node[int(parts[0])], parts[1:]
            continue
        n = next(n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node)
        node, parts = node[".".join(parts[:n])], parts[n:]
    return node


# (id, predictor keywords, model keywords, deployment mode, path in the InferenceService, expected, oldest minor)
CASES: list[tuple[str, str, str, str, str, Any, str]] = [
    ("args", f'{BASE}, args=["--workers=2"]', "", "Knative", "spec.predictor.model.args", ["--workers=2"], "0.14"),
    ("command", f'{BASE}, command=["python", "-m", "server"]', "", "Knative", "spec.predictor.model.command",
     ["python", "-m", "server"], "0.14"),
    ("env-values-and-references",
     f'{BASE}, env={{"LOG": "debug", "API_KEY": SecretKeyRef(name="keys", key="api"), "MODE": ConfigMapKeyRef(name="cfg", '
     f'key="mode", optional=True), "POD": FieldRef(field_path="metadata.name"), "MEM": ResourceFieldRef(resource="limits.memory", '
     f'divisor="1Mi")}}', "", "Knative", "spec.predictor.model.env", [
         {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "api"}}},
         {"name": "LOG", "value": "debug"},
         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
         {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode", "optional": True}}},
         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}], "0.14"),
    ("env-from", f'{BASE}, env_from=[EnvFrom(secret="creds", prefix="DB_"), EnvFrom(config_map="settings")]', "", "Knative",
     "spec.predictor.model.envFrom", [{"secretRef": {"name": "creds"}, "prefix": "DB_"}, {"configMapRef": {"name": "settings"}}], "0.14"),
    ("ports", f'{BASE}, ports=[ContainerPort(container_port=8081, name="h2c", protocol="TCP")]', "", "Knative",
     "spec.predictor.model.ports", [{"containerPort": 8081, "name": "h2c", "protocol": "TCP"}], "0.14"),
    ("volumes-and-mounts",
     f'{BASE}, volumes=[Volume(name="shm", empty_dir=EmptyDirVolume(medium="Memory", size_limit="2Gi")), '
     f'Volume(name="cfg", config_map=ConfigMapVolume(name="settings")), Volume(name="tls", secret=SecretVolume(secret_name="tls", '
     f'items=[KeyToPath(key="ca.crt", path="ca.crt")])), Volume(name="cache", persistent_volume_claim=PersistentVolumeClaimVolume('
     f'claim_name="hf-cache", read_only=True))], volume_mounts=[VolumeMount(name="shm", mount_path="/dev/shm"), '
     f'VolumeMount(name="cache", mount_path="/cache", read_only=True)]', "", "Knative", "spec.predictor.volumes", [
         {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
         {"name": "cfg", "configMap": {"name": "settings"}},
         {"name": "tls", "secret": {"secretName": "tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
         {"name": "cache", "persistentVolumeClaim": {"claimName": "hf-cache", "readOnly": True}}], "0.14"),
    ("probes",
     f'{BASE}, readiness_probe=Probe(http_get=HTTPGetAction(path="/v1/models/m", port=8080)), liveness_probe=Probe('
     f'tcp_socket=TCPSocketAction(port=8080), period_seconds=20), startup_probe=Probe(exec=ExecAction(command=["cat", "/ready"]), '
     f'failure_threshold=60)', "", "Knative", "spec.predictor.model", {
         "readinessProbe": {"httpGet": {"path": "/v1/models/m", "port": 8080}},
         "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 20},
         "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 60}}, "0.14"),
    ("grpc-probe", f'{BASE}, liveness_probe=Probe(grpc=GRPCAction(port=8081))', "", "Knative",
     "spec.predictor.model.livenessProbe", {"grpc": {"port": 8081}}, "0.14"),
    ("security-contexts",
     f'{BASE}, security_context=SecurityContext(run_as_non_root=True, allow_privilege_escalation=False, capabilities=Capabilities('
     f'drop=["ALL"]), seccomp_profile=SeccompProfile(type="RuntimeDefault")), pod_security_context=PodSecurityContext(fs_group=1000, '
     f'run_as_user=1000)', "", "Knative", "spec.predictor", {
         "model.securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                   "seccompProfile": {"type": "RuntimeDefault"}},
         "securityContext": {"fsGroup": 1000, "runAsUser": 1000}}, "0.14"),
    ("scheduling",
     f'{BASE}, node_selector={{"nvidia.com/gpu.product": "NVIDIA-A10G"}}, tolerations=[Toleration(key="nvidia.com/gpu", '
     f'operator="Exists", effect="NoSchedule")], affinity=Affinity(node_affinity=NodeAffinity(required_during_scheduling_ignored_'
     f'during_execution=NodeSelector(node_selector_terms=[NodeSelectorTerm(match_expressions=[NodeSelectorRequirement(key='
     f'"topology.kubernetes.io/zone", operator="In", values=["eu-west-1a"])])])), pod_anti_affinity=PodAffinity(preferred_during_'
     f'scheduling_ignored_during_execution=[WeightedPodAffinityTerm(weight=100, pod_affinity_term=PodAffinityTerm(label_selector='
     f'LabelSelector(match_labels={{"app": "m"}}), topology_key="kubernetes.io/hostname"))])), priority_class_name="inference", '
     f'runtime_class_name="nvidia"', "", "Knative", "spec.predictor", {
         "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A10G"},
         "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
         "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": [
             {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"]}]}],
         "affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution": [
             {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "m"}}, "topologyKey": "kubernetes.io/hostname"}}],
         "priorityClassName": "inference", "runtimeClassName": "nvidia"}, "0.14"),
    ("image-pull-secrets", f'{BASE}, image_pull_secrets=["registry"]', "", "Knative", "spec.predictor.imagePullSecrets",
     [{"name": "registry"}], "0.14"),
    ("component-labels-annotations", f'{BASE}, labels={{"tier": "gpu"}}, annotations={{"cluster-autoscaler.kubernetes.io/safe-to-evict": '
     f'"false"}}', "", "Knative", "spec.predictor", {
         "labels": {"tier": "gpu"}, "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}}, "0.14"),
    ("extended-resources",
     f'{BASE}, resources=Resources(limits={{"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1", "nvidia.com/mig-1g.5gb": 1, '
     f'"amd.com/gpu": "1", "gpu.intel.com/i915": "1", "habana.ai/gaudi": "2", "aws.amazon.com/neuron": "1", "google.com/tpu": "4", '
     f'"hugepages-2Mi": "1Gi"}}, requests={{"nvidia.com/gpu": "1"}})', "", "Knative", "spec.predictor.model.resources", {
         "requests": {"amd.com/gpu": "1", "aws.amazon.com/neuron": "1", "cpu": "1", "google.com/tpu": "4", "gpu.intel.com/i915": "1",
                      "habana.ai/gaudi": "2", "hugepages-2Mi": "1Gi", "memory": "2Gi", "nvidia.com/gpu": "1", "nvidia.com/mig-1g.5gb": "1"},
         "limits": {"amd.com/gpu": "1", "aws.amazon.com/neuron": "1", "cpu": "2", "google.com/tpu": "4", "gpu.intel.com/i915": "1",
                    "habana.ai/gaudi": "2", "hugepages-2Mi": "1Gi", "memory": "8Gi", "nvidia.com/gpu": "1", "nvidia.com/mig-1g.5gb": "1"}},
     "0.14"),
    ("deployment-strategy", f'{BASE}, deployment_strategy=DeploymentStrategy(rolling_update=RollingUpdate(max_surge=0, '
     f'max_unavailable="25%"))', "", "Standard", "spec.predictor.deploymentStrategy",
     {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}, "0.14"),
    ("keda-autoscaling",
     f'{BASE}, autoscaler_class="keda", min_replicas=0, max_replicas=5, auto_scaling=AutoScaling(metrics=[ScalingMetric(type="External", '
     f'external=ExternalMetric(metric=ExternalMetricQuery(server_address="http://prometheus:9090", query="sum(waiting)"), '
     f'target=MetricTarget(type="Value", value="4"))), ScalingMetric(type="Resource", resource=ResourceMetric(name="cpu", '
     f'target=MetricTarget(type="Utilization", average_utilization=70)))])', "", "Standard", "", {
         "metadata.annotations.serving.kserve.io/autoscalerClass": "keda",
         "spec.predictor.autoScaling.metrics": [
             {"type": "External", "external": {"metric": {"backend": "prometheus", "serverAddress": "http://prometheus:9090",
                                                          "query": "sum(waiting)"}, "target": {"type": "Value", "value": "4"}}},
             {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
     "0.15"),
    ("hpa-autoscaling-behavior",
     f'{BASE}, autoscaler_class="hpa", auto_scaling=AutoScaling(metrics=[ScalingMetric(type="Resource", resource=ResourceMetric('
     f'name="memory", target=MetricTarget(type="AverageValue", average_value="2Gi")))], behavior=ScalingBehavior(scale_down='
     f'ScalingRules(stabilization_window_seconds=600, policies=[ScalingPolicy(type="Pods", value=1, period_seconds=300)])))',
     "", "Standard", "spec.predictor.autoScaling.behavior",
     {"scaleDown": {"stabilizationWindowSeconds": 600, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}]}}, "0.16"),
    ("worker-spec",
     'model_format="huggingface", storage_uri="pvc://llm/llama", autoscaler_class="none", worker_spec=WorkerSpec('
     'pipeline_parallel_size=2, tensor_parallel_size=4), resources=Resources(limits={"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "4"})',
     "", "Standard", "spec.predictor.workerSpec", {"pipelineParallelSize": 2, "tensorParallelSize": 4}, "0.15"),
    ("storage-spec", 'model_format="sklearn", storage_spec=StorageSpec(key="localMinIO", path="sklearn", parameters={"bucket": "models"})',
     "", "Knative", "spec.predictor.model.storage", {"key": "localMinIO", "path": "sklearn", "parameters": {"bucket": "models"}}, "0.14"),
    ("custom-predictor",
     'container=Container(image="registry.example.com/m@sha256:' + "a" * 64 + '", args=["--port=8080"], env={"TOKEN": '
     'SecretKeyRef(name="t", key="k")}, image_pull_policy="IfNotPresent"), protocol="v2", storage_uri="s3://b/m", image_pull_secrets=["reg"]',
     ', service_account_name="reader"', "Knative", "spec.predictor", {
         "containers": [{"name": "kserve-container", "image": "registry.example.com/m@sha256:" + "a" * 64, "args": ["--port=8080"],
                         "imagePullPolicy": "IfNotPresent",
                         "env": [{"name": "PROTOCOL", "value": "v2"}, {"name": "STORAGE_URI", "value": "s3://b/m"},
                                 {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}],
                         "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}],
         "imagePullSecrets": [{"name": "reg"}], "serviceAccountName": "reader"}, "0.14"),
    ("transformer-fields",
     BASE, ', transformer=Transformer(container=Container(image="t:1", env={"KEY": SecretKeyRef(name="s", key="k")}, readiness_probe='
     'Probe(http_get=HTTPGetAction(path="/ready"))), node_selector={"pool": "cpu"}, priority_class_name="low")', "Knative",
     "spec.transformer", {"nodeSelector": {"pool": "cpu"}, "priorityClassName": "low",
                          "containers.0.env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                          "containers.0.readinessProbe": {"httpGet": {"path": "/ready"}}}, "0.14"),
    ("explainer-fields", BASE, ', explainer=ContainerExplainer(container=Container(image="e:1", args=["--x"]), tolerations=[Toleration('
     'operator="Exists")])', "Knative", "spec.explainer", {"tolerations": [{"operator": "Exists"}], "containers.0.args": ["--x"]}, "0.14"),
]


def _expect(obj: dict[str, Any], path: str, expected: Any) -> None:
    """A dict is checked key by key (each key a sub-path), anything else as a whole."""
    at = _get(obj, path) if path else obj
    if isinstance(expected, dict):
        for sub, value in expected.items():
            assert _get(at, sub) == value, sub
    else:
        assert at == expected


@pytest.mark.parametrize(("predictor", "extra", "mode", "path", "expected", "oldest"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rendered_and_valid_on_the_oldest_kserve_with_it_and_0_20(tmp_path: Path, predictor: str, extra: str, mode: str, path: str,
                                                                     expected: Any, oldest: str) -> None:
    repo = make_repo(tmp_path, MODEL.format(mode=mode, predictor=predictor, extra=extra),
                     {"old": overlay(oldest), "new": overlay("0.20")})
    for env in ("old", "new"):
        files = render(repo, env)
        obj = isvc(files, "m")
        _expect(obj, path, expected)
        assert schema_errors(repo, env, files) == [], env


def test_every_tested_field_is_in_the_reference() -> None:
    text = reference_markdown()
    for field in ("args", "command", "env", "env_from", "ports", "volumes", "volume_mounts", "liveness_probe", "readiness_probe",
                  "startup_probe", "security_context", "pod_security_context", "node_selector", "tolerations", "affinity",
                  "priority_class_name", "runtime_class_name", "image_pull_secrets", "labels", "annotations", "deployment_strategy",
                  "autoscaler_class", "auto_scaling", "worker_spec", "storage_spec", "container", "image_pull_policy"):
        assert f"| `{field}` |" in text, field
    for cls in ("SecretKeyRef", "ConfigMapKeyRef", "FieldRef", "ResourceFieldRef", "Runtime", "InferenceGraph", "ExtraManifest",
                "GCSStorage", "AzureStorage", "HuggingFaceStorage", "HTTPStorage", "AwsIamRole", "GcpServiceAccount",
                "AzureManagedIdentity", "EnvServiceAccount", "ScalingBehavior", "WorkerSpec"):
        assert f"\n### {cls}\n" in text, cls
