from servespec.spec import Model, Predictor

IRIS = Model(name="iris", predictor=Predictor(model_format="sklearn", storage_uri="gs://bucket/iris"))
