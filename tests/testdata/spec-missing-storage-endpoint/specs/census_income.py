from servespec.spec import Model, Predictor

CENSUS_INCOME = Model(
    name="census-income",
    storage="nope",
    predictor=Predictor(model_format="tensorflow", storage_uri="s3://census-income/model"),
)
