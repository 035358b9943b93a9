from servespec.spec import Model, Predictor, Resources

CENSUS_INCOME = Model(
    name="Census_Income",
    storage="minio",
    predictor=Predictor(
        model_format="tensorflow",
        storage_uri="s3://census-income/model",
        min_replicas=1,
        resources=Resources(
            requests={"cpu": "100m", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
    ),
)
