"""A Llama 3 chat model from the Hugging Face Hub on one NVIDIA A10G, served by a ServingRuntime of our
own (the KServe Hugging Face server, mirrored and pinned by digest), scaled by KEDA on the requests
vLLM has waiting. The gated model needs a Hugging Face token: it comes from the secret manager (an
ExternalSecret of the `huggingface` endpoint), never from git."""

from servespec.spec import (
    AutoScaling,
    Capabilities,
    DeploymentStrategy,
    EmptyDirVolume,
    ExternalMetric,
    ExternalMetricQuery,
    ExternalSecretCredentials,
    HTTPGetAction,
    HuggingFaceStorage,
    MetricTarget,
    Model,
    Predictor,
    Probe,
    RemoteRef,
    Resources,
    Runtime,
    ScalingMetric,
    SecurityContext,
    SupportedModelFormat,
    Toleration,
    Volume,
    VolumeMount,
)

HUGGING_FACE = HuggingFaceStorage(
    name="huggingface",
    credentials=ExternalSecretCredentials(
        store="vault-backend",
        data={"HF_TOKEN": RemoteRef(key="ml/huggingface", property="token")},
    ),
)

# Our mirror of kserve/huggingfaceserver:v0.15.2. Pin the digest your registry reports
# (`crane digest registry.example.com/mirror/kserve/huggingfaceserver:v0.15.2`); changing anything
# here renames the runtime, and each model using it moves to the new one through its own release.
HUGGINGFACE_GPU = Runtime(
    name="huggingface-gpu",
    image="registry.example.com/mirror/kserve/huggingfaceserver"
          "@sha256:3525165d6f4cfd141a158cf9f8cef41b4f34181c32b8c6b049d2e850c45b434a",
    supported_model_formats=[SupportedModelFormat(name="huggingface", version="1")],
    protocol_versions=["v2", "v1"],
    args=["--model_name={{.Name}}"],
    annotations={"prometheus.kserve.io/port": "8080", "prometheus.kserve.io/path": "/metrics"},
    security_context=SecurityContext(allow_privilege_escalation=False, run_as_non_root=True,
                                     capabilities=Capabilities(drop=["ALL"])),
    volume_mounts=[VolumeMount(name="devshm", mount_path="/dev/shm")],
    volumes=[Volume(name="devshm", empty_dir=EmptyDirVolume(medium="Memory", size_limit="2Gi"))],
)

LLAMA3_CHAT = Model(
    name="llama3-chat",
    storage="huggingface",  # its ServiceAccount lists the HF_TOKEN Secret
    deployment_mode="Standard",
    predictor=Predictor(
        model_format="huggingface",
        model_format_version="1",
        runtime=HUGGINGFACE_GPU,
        protocol="v2",
        args=["--model_id=meta-llama/Meta-Llama-3-8B-Instruct", "--max_model_len=8192"],
        env={"HF_TOKEN": HUGGING_FACE.token()},  # the server downloads the gated model itself
        resources=Resources(
            requests={"cpu": "4", "memory": "24Gi"},
            limits={"cpu": "6", "memory": "24Gi", "nvidia.com/gpu": "1"},
        ),
        node_selector={"nvidia.com/gpu.product": "NVIDIA-A10G"},
        tolerations=[Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        startup_probe=Probe(http_get=HTTPGetAction(path="/v2/health/ready", port=8080), period_seconds=10,
                            failure_threshold=90),  # up to 15 minutes to download and load
        deployment_strategy=DeploymentStrategy(type="Recreate"),  # no spare GPU for a surge pod
        min_replicas=1,
        max_replicas=2,
        timeout=120,
        autoscaler_class="keda",
        auto_scaling=AutoScaling(metrics=[ScalingMetric(type="External", external=ExternalMetric(
            metric=ExternalMetricQuery(server_address="http://prometheus-operated.monitoring.svc:9090",
                                       query='sum(vllm:num_requests_waiting{model_name="llama3-chat"})'),
            target=MetricTarget(type="Value", value="4"),
        ))]),
    ),
    labels={"team": "assistants"},
)
