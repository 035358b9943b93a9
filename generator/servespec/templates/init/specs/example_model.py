"""An example model: a scikit-learn classifier from a public bucket (no credentials needed).

Declare models and storage endpoints as module-level objects; every module in specs/ is
collected (modules starting with ``_`` are helpers). See ``servespec render --help``.
"""

from servespec.spec import Model, Predictor, Resources

SKLEARN_IRIS = Model(
    name="sklearn-iris",
    predictor=Predictor(
        model_format="sklearn",
        model_format_version="1",
        storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
        min_replicas=1,
        max_replicas=3,
        resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}),
    ),
)
