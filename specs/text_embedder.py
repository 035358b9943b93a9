"""A text-embedding server of our own: a custom container (no model format, no ServingRuntime) from
the team's private registry, pulled with an image-pull Secret. Its files are in S3 with no storage
endpoint named: it runs as the ServiceAccount `model-reader`, which each environment declares (prod:
bound to an IAM role, no key anywhere; dev: listing the MinIO Secret; staging: the MinIO endpoint's own)."""

from servespec.spec import (
    Container,
    ContainerPort,
    FieldRef,
    HTTPGetAction,
    Model,
    PodSecurityContext,
    Predictor,
    Probe,
    Resources,
    SeccompProfile,
)

TEXT_EMBEDDER = Model(
    name="text-embedder",
    service_account_name="model-reader",
    predictor=Predictor(
        container=Container(
            image="registry.example.com/ml/text-embedder"
                  "@sha256:a866e5f359d0cbfc891658d4ebd4fc51f32e3a4af0713cc9f3b257c419022346",
            args=["--model_name=text-embedder", "--model_dir=/mnt/models"],
            env={"EMBEDDING_DIM": "768", "POD_NAME": FieldRef(field_path="metadata.name")},
            ports=[ContainerPort(container_port=8080, name="http1", protocol="TCP")],
            readiness_probe=Probe(http_get=HTTPGetAction(path="/v2/health/ready")),
            resources=Resources(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "2Gi"}),
        ),
        protocol="v2",
        storage_uri="s3://ml-embeddings/text-embedder/v1",
        image_pull_secrets=["registry-example-com"],
        pod_security_context=PodSecurityContext(run_as_non_root=True, seccomp_profile=SeccompProfile(type="RuntimeDefault")),
        min_replicas=1,
        max_replicas=4,
    ),
)
