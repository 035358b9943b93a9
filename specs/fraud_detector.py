"""An XGBoost model on the V2 (Open Inference) protocol, served by MLServer in Standard
(raw Deployment) mode with request batching; model files on MinIO."""

from servespec.spec import Batcher, Model, Predictor, Resources

FRAUD_DETECTOR = Model(
    name="fraud-detector",
    storage="minio",
    deployment_mode="Standard",
    predictor=Predictor(
        model_format="xgboost",
        model_format_version="2",
        runtime="kserve-mlserver",
        protocol="v2",
        storage_uri="s3://fraud-detector/v3",
        max_replicas=6,
        timeout=30,
        batcher=Batcher(max_batch_size=32, max_latency=50),
        resources=Resources(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "2", "memory": "2Gi"}),
    ),
    labels={"team": "risk"},
)
