"""The census-income model of the seed scenario (docs/SEED-SCENARIO.md): TensorFlow 2.5.1 on
MinIO, requests and responses logged to the message dumper, no Istio sidecar, scraped by
Prometheus."""

from servespec.spec import Logger, Model, Predictor, Resources

CENSUS_INCOME = Model(
    name="census-income",
    storage="minio",
    predictor=Predictor(
        model_format="tensorflow",
        runtime_version="2.5.1",
        storage_uri="s3://census-income/serving_model",
        min_replicas=1,
        resources=Resources(
            requests={"cpu": "0.1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
    ),
    logger=Logger(mode="all"),  # the sink is the environment's message dumper
    annotations={
        "sidecar.istio.io/inject": "false",
        "prometheus.io/scrape": "true",
    },
)
