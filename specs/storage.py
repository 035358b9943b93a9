"""Storage endpoints the models are served from.

Credentials default to the secret manager (External Secrets Operator); the dev overlay replaces
them with MinIO's demo defaults, which only dev (a throwaway local cluster) allows.
"""

from servespec.spec import ExternalSecretCredentials, RemoteRef, S3Storage

MINIO = S3Storage(
    name="minio",
    endpoint="minio-service.kubeflow.svc.cluster.local:9000",
    use_https=False,
    secret_name="kubeflow-minio-secret",
    service_account_name="kubeflow-minio-sa",
    credentials=ExternalSecretCredentials(
        store="vault-backend",
        access_key_id=RemoteRef(key="ml/minio", property="accessKeyId"),
        secret_access_key=RemoteRef(key="ml/minio", property="secretAccessKey"),
    ),
)
