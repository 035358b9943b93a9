"""KServe's own sample InferenceServices (kserve/kserve@v0.20.0:docs/samples/...), expressed as servespec specs:
each renders what the sample asks for (legacy framework keys become ``model.modelFormat``, the form KServe's
webhook rewrites them to) and is valid against the KServe 0.20 schema and webhook rules. The samples that
cannot be expressed, and why, are listed in docs/isvc-surface.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from surface_cases import isvc, make_repo, obj, overlay, render, schema_errors

M = 'MODEL = Model(name="{name}", predictor=Predictor({predictor}){extra})\n'

# (sample under docs/samples at kserve/kserve@v0.20.0, InferenceService name, predictor keywords, model keywords, facts of the render)
SAMPLES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("v1beta1/sklearn/v2/sklearn.yaml", "sklearn-irisv2", 'model_format="sklearn", protocol="v2", storage_uri="gs://seldon-models/sklearn/iris"',
     "", {"spec.predictor.model.modelFormat.name": "sklearn", "spec.predictor.model.protocolVersion": "v2",
          "spec.predictor.model.storageUri": "gs://seldon-models/sklearn/iris"}),
    ("v1beta1/tensorflow/gpu.yaml", "tensorflow-gpu",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers", '
     'resources=Resources(limits={"nvidia.com/gpu": 1})', "", {"spec.predictor.model.resources.limits.nvidia.com/gpu": "1"}),
    ("v1beta1/tensorflow/versioning.yaml", "tensorflow-versioning",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers", image="tensorflow/serving:v1.14"',
     "", {"spec.predictor.model.image": "tensorflow/serving:v1.14"}),
    ("v1beta1/torchserve/v1/grpc.yaml", "torchserve-grpc",
     'model_format="pytorch", storage_uri="gs://kfserving-examples/models/torchserve/image_classifier/v1", '
     'ports=[ContainerPort(container_port=7070, name="h2c", protocol="TCP")]', "",
     {"spec.predictor.model.ports": [{"containerPort": 7070, "name": "h2c", "protocol": "TCP"}]}),
    ("v1beta1/torchserve/v2/bert/bert_gpu.yaml", "torchserve-bert-v2",
     'model_format="pytorch", protocol="v2", storage_uri="gs://kfserving-examples/models/torchserve/bert/v2", '
     'resources=Resources(limits={"memory": "4Gi", "nvidia.com/gpu": "1"})', "",
     {"spec.predictor.model.resources.limits.memory": "4Gi", "spec.predictor.model.resources.limits.nvidia.com/gpu": "1"}),
    ("v1beta1/triton/torchscript/torch_transformer.yaml", "torch-transformer",
     'model_format="triton", storage_uri="gs://kfserving-examples/models/torchscript", runtime_version="20.10-py3", '
     'env={"OMP_NUM_THREADS": "1"}, args=["--log-verbose=1"]',
     ', transformer=Transformer(container=Container(image="kserve/image-transformer:latest", command=["python", "-m", "model"], '
     'args=["--model_name", "cifar10", "--protocol", "v2"]))',
     {"spec.predictor.model.env": [{"name": "OMP_NUM_THREADS", "value": "1"}], "spec.predictor.model.args": ["--log-verbose=1"],
      "spec.predictor.model.runtimeVersion": "20.10-py3", "spec.transformer.containers.0.command": ["python", "-m", "model"],
      "spec.transformer.containers.0.args": ["--model_name", "cifar10", "--protocol", "v2"]}),
    ("v1beta1/advanced/probes.yaml", "flowers",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers", '
     'readiness_probe=Probe(http_get=HTTPGetAction(path="/v1/models/flowers")), liveness_probe=Probe(http_get=HTTPGetAction(path="/v1/models/flowers"))',
     "", {"spec.predictor.model.readinessProbe": {"httpGet": {"path": "/v1/models/flowers"}},
          "spec.predictor.model.livenessProbe": {"httpGet": {"path": "/v1/models/flowers"}}}),
    ("v1beta1/advanced/timeout.yaml", "flowers",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers", timeout=600, '
     'liveness_probe=Probe(http_get=HTTPGetAction(path="/v1/models/flowers"))', "", {"spec.predictor.timeout": 600}),
    ("v1beta1/advanced/pod-overrides.yaml", "tensorflow-pod-overrides",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers"', ', service_account_name="serving-admin"',
     {"spec.predictor.serviceAccountName": "serving-admin"}),  # the sample's deprecated `serviceAccount` is serviceAccountName
    ("storage/hf/hf_isvc.yaml", "huggingface-llama2",
     'model_format="huggingface", args=["--model_name=llama2", "--model_dir=/mnt/models", "--backend=huggingface"], '
     'storage_uri="hf://meta-llama/Llama-2-7b-chat-hf", resources=Resources(requests={"cpu": "6", "memory": "24Gi", "nvidia.com/gpu": "1"}, '
     'limits={"cpu": "6", "memory": "24Gi", "nvidia.com/gpu": "1"})', ', service_account_name="hfserviceacc"',
     {"spec.predictor.model.storageUri": "hf://meta-llama/Llama-2-7b-chat-hf", "spec.predictor.serviceAccountName": "hfserviceacc",
      "spec.predictor.model.resources.requests.nvidia.com/gpu": "1"}),
    ("storage/storageSpec/sklearn_storagespec.yaml", "example-sklearn-isvc",
     'model_format="sklearn", storage_spec=StorageSpec(key="localMinIO", path="sklearn", parameters={"bucket": "example-models"})', "",
     {"spec.predictor.model.storage": {"key": "localMinIO", "path": "sklearn", "parameters": {"bucket": "example-models"}}}),
    ("storage/oci-image-volume/inference_service.yaml", "sklearn-oci-native",
     'model_format="sklearn", storage_uri="oci+native://ghcr.io/my-org/my-sklearn-model:v1", '
     'resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "500m", "memory": "512Mi"})', "",
     {"spec.predictor.model.storageUri": "oci+native://ghcr.io/my-org/my-sklearn-model:v1"}),
    ("fluid/kserve-isvc.yaml", "llama-31-8b-instruct",
     'model_format="huggingface", args=["--gpu-memory-utilization=0.95", "--max-model-len=1024"], '
     'storage_uri="s3://models/meta-llama--Meta-Llama-3.1-8B-Instruct", min_replicas=0, '
     'annotations={"traffic.sidecar.istio.io/excludeOutboundPorts": "443"}, node_selector={"node.kubernetes.io/instance-type": "g5.8xlarge"}, '
     'resources=Resources(requests={"cpu": "24", "memory": "48Gi", "nvidia.com/gpu": "1"}, limits={"cpu": "24", "memory": "48Gi", "nvidia.com/gpu": "1"})',
     ', service_account_name="s3sa"',
     {"spec.predictor.annotations": {"traffic.sidecar.istio.io/excludeOutboundPorts": "443"}, "spec.predictor.minReplicas": 0,
      "spec.predictor.nodeSelector": {"node.kubernetes.io/instance-type": "g5.8xlarge"}, "spec.predictor.serviceAccountName": "s3sa"}),
    ("autoscaling/autoscale.yaml", "flowers-sample",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers"',
     ', annotations={"autoscaling.knative.dev/target": "1"}', {"metadata.annotations.autoscaling.knative.dev/target": "1"}),
    ("autoscaling/autoscale_custom.yaml", "flowers-sample",
     'model_format="tensorflow", storage_uri="gs://kfserving-examples/models/tensorflow/flowers", container_concurrency=10', "",
     {"spec.predictor.containerConcurrency": 10}),
    ("batcher/basic/batcher_v1beta1.yaml", "pytorch-batcher",
     'model_format="pytorch", storage_uri="gs://kfserving-examples/models/torchserve/image_classifier/v1", '
     'batcher=Batcher(max_batch_size=16, max_latency=300)', "", {"spec.predictor.batcher": {"maxBatchSize": 16, "maxLatency": 300}}),
    ("logger/basic/sklearn-logging.yaml", "sklearn-iris",
     'model_format="sklearn", storage_uri="gs://kfserving-examples/models/sklearn/1.0/model"',
     ', logger=Logger(mode="all", url="http://message-dumper.default/")', {"spec.predictor.logger": {"mode": "all", "url": "http://message-dumper.default/"}}),
    ("explanation/art/mnist/art.yaml", "artserver",
     'model_format="sklearn", storage_uri="gs://kfserving-examples/models/sklearn/mnist/art"',
     ', explainer=ArtExplainer(art_type="SquareAttack", config={"nb_classes": "10"})',
     {"spec.explainer.art.type": "SquareAttack", "spec.explainer.art.config": {"nb_classes": "10"}}),
    ("explanation/aix/mnist/aix-explainer.yaml", "aix-explainer",
     'container=Container(image="aipipeline/rf-predictor:0.4.1", command=["python", "-m", "rfserver", "--model_name", "aix-explainer"], '
     'image_pull_policy="Always")',
     ', explainer=ContainerExplainer(container=Container(image="kserve/aix-explainer:v0.10.1", args=["--model_name", "aix-explainer", '
     '"--explainer_type", "LimeImages"], image_pull_policy="Always", resources=Resources(requests={"cpu": "1", "memory": "2Gi"}, '
     'limits={"cpu": "1", "memory": "2Gi"})))',
     {"spec.predictor.containers.0.command": ["python", "-m", "rfserver", "--model_name", "aix-explainer"],
      "spec.predictor.containers.0.imagePullPolicy": "Always", "spec.explainer.containers.0.image": "kserve/aix-explainer:v0.10.1"}),
    ("v1beta1/custom/custom_model/custom.yaml", "custom-model-grpc",
     'container=Container(image="kserve/custom-model-grpc:latest", ports=[ContainerPort(name="h2c", protocol="TCP", container_port=8081)])', "",
     {"spec.predictor.containers.0.ports": [{"containerPort": 8081, "name": "h2c", "protocol": "TCP"}]}),
    ("rollout-strategy/rollout-strategy-example.yaml", "rollout-strategy-example",
     'model_format="sklearn", storage_uri="s3://my-bucket/model", deployment_strategy=DeploymentStrategy(rolling_update=RollingUpdate('
     'max_unavailable="0", max_surge="50%"))',
     ', deployment_mode="Standard", service_account_name="reader", transformer=Transformer(container=Container(image="my-transformer:latest", '
     'env={"MODEL_NAME": "my-model"}), deployment_strategy=DeploymentStrategy(rolling_update=RollingUpdate(max_surge="0", max_unavailable="25%")))',
     {"spec.predictor.deploymentStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0", "maxSurge": "50%"}},
      "spec.transformer.deploymentStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0", "maxUnavailable": "25%"}}}),
]


def _get(node: Any, path: str) -> Any:
    parts = path.split(".")
    while parts:
        if isinstance(node, list):
            node, parts = node[int(parts[0])], parts[1:]
            continue
        n = next(n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node)
        node, parts = node[".".join(parts[:n])], parts[n:]
    return node


@pytest.mark.parametrize(("name", "predictor", "extra", "facts"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
def test_an_official_sample_is_expressible(tmp_path: Path, name: str, predictor: str, extra: str, facts: dict[str, Any]) -> None:
    repo = make_repo(tmp_path, M.format(name=name, predictor=predictor, extra=extra), {"dev": overlay("0.20")})
    files = render(repo)
    rendered = isvc(files, name)
    for path, value in facts.items():
        assert _get(rendered, path) == value, path
    assert schema_errors(repo, "dev", files) == []


def test_the_graph_samples_are_expressible(tmp_path: Path) -> None:
    """graph/splitter.yaml, graph/switch.yaml (kserve/kserve@v0.20.0:docs/samples): a Splitter over two models by
    spec object, and a Switch over service URLs with GJSON conditions."""
    spec = '''SK = Model(name="sklearn-iris", predictor=Predictor(model_format="sklearn", storage_uri="gs://kfserving-examples/models/sklearn/1.0/model"))
XG = Model(name="xgboost-iris", predictor=Predictor(model_format="xgboost", storage_uri="gs://kfserving-examples/models/xgboost/iris"))
SPLITTER = InferenceGraph(name="splitter-model", nodes={"root": GraphNode(router_type="Splitter", steps=[
    GraphStep(model=SK, weight=20), GraphStep(model=XG, weight=80)])})
SWITCH = InferenceGraph(name="model-switch", nodes={"root": GraphNode(router_type="Switch", steps=[
    GraphStep(service_url="http://single-1.default.example.com/switch", condition="[@this].#(source==client)"),
    GraphStep(service_url="http://single-2.default.example.com/switch", condition="instances.#(intval>10)")])})
'''
    repo = make_repo(tmp_path, spec, {"dev": overlay("0.20")})
    files = render(repo)
    assert obj(files, "common/graphs/splitter-model/inferencegraph.yaml")["spec"]["nodes"] == {"root": {"routerType": "Splitter", "steps": [
        {"serviceName": "sklearn-iris", "weight": 20}, {"serviceName": "xgboost-iris", "weight": 80}]}}
    assert obj(files, "common/graphs/model-switch/inferencegraph.yaml")["spec"]["nodes"]["root"]["steps"][1] == {
        "serviceUrl": "http://single-2.default.example.com/switch", "condition": "instances.#(intval>10)"}
    assert schema_errors(repo, "dev", files) == []
