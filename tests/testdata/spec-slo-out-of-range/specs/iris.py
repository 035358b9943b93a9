from servespec.spec import ErrorRateObjective, Model, Monitoring, Predictor

IRIS = Model(
    name="iris",
    predictor=Predictor(model_format="sklearn", storage_uri="gs://bucket/iris"),
    monitoring=Monitoring(error_rate=ErrorRateObjective(objective=1.5, window="5 minutes")),
)
