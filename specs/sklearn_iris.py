"""A scikit-learn classifier behind a pre-processing transformer, scaled to zero when idle,
with an ART explainer; the model is in a public bucket, so no credentials are needed."""

from servespec.spec import ArtExplainer, Container, Model, Predictor, Resources, Transformer

SKLEARN_IRIS = Model(
    name="sklearn-iris",
    predictor=Predictor(
        model_format="sklearn",
        model_format_version="1",
        storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
        min_replicas=0,
        max_replicas=4,
        scale_metric="concurrency",
        scale_target=10,
        resources=Resources(requests={"cpu": "250m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"}),
    ),
    transformer=Transformer(
        container=Container(
            image="ghcr.io/example-ml/iris-transformer:1.4.2",
            args=["--model_name", "sklearn-iris"],
            resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "500m", "memory": "512Mi"}),
        ),
    ),
    explainer=ArtExplainer(art_type="SquareAttack", config={"nb_classes": "3"}),
)
