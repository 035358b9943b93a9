from servespec.spec import ExistingSecret, S3Storage

MINIO = S3Storage(name="minio", endpoint="minio:9000", credentials=ExistingSecret(name="minio-keys"))
