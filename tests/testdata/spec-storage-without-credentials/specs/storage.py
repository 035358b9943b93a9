from servespec.spec import S3Storage

MINIO = S3Storage(name="minio", endpoint="minio:9000")
