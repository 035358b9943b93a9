"""Storage beyond S3 and cloud identities: each credential Secret holds the keys KServe's credential builder
looks for (kserve/kserve@v0.20.0:pkg/credentials/service_account_credentials.go:291-335: the first key found
decides the kind), a workload identity is ServiceAccount annotations with no Secret at all, and an s3://
model without a storage endpoint runs as the ServiceAccount its spec or its env names."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from surface_cases import isvc, make_repo, obj, overlay, problems, render, schema_errors

REF = 'ExternalSecretCredentials(store="vault", data={{"{key}": RemoteRef(key="ml/{name}", property="value")}})'


def _storage_repo(tmp_path: Path, storage: str, uri: str, extra_overlay: str = "", kserve: str = "0.20") -> Path:
    spec = f'STORE = {storage}\nMODEL = Model(name="m", storage="store", predictor=Predictor(model_format="sklearn", storage_uri="{uri}"))\n'
    return make_repo(tmp_path, spec, {"dev": overlay(kserve, extra_overlay)})


# (id, storage spec, model URI, Secret key(s) KServe reads, default Secret and ServiceAccount names)
KINDS = [
    # gcs/gcs_secret.go:24 GCSCredentialFileName
    ("gcs", 'GCSStorage(name="store", credentials=' + REF.format(key="gcloud-application-credentials.json", name="gcs") + ")",
     "gs://bucket/model", ["gcloud-application-credentials.json"], "store-gcs"),
    # azure/azure_secret.go AzureClientId, AzureClientSecret, AzureTenantId (service_account_credentials.go:310)
    ("azure-client-secret", 'AzureStorage(name="store", credentials=ExternalSecretCredentials(store="vault", data={'
     '"AZURE_CLIENT_ID": RemoteRef(key="az/id"), "AZURE_CLIENT_SECRET": RemoteRef(key="az/secret"), "AZURE_TENANT_ID": RemoteRef(key="az/tenant")}))',
     "https://acct.blob.core.windows.net/models/m", ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"], "store-azure"),
    # service_account_credentials.go:318 AzureStorageAccessKey
    ("azure-storage-key", 'AzureStorage(name="store", credentials=' + REF.format(key="AZURE_STORAGE_ACCESS_KEY", name="az") + ")",
     "https://acct.blob.core.windows.net/models/m", ["AZURE_STORAGE_ACCESS_KEY"], "store-azure"),
    # hf/hf_secret.go:24 HFTokenKey
    ("hugging-face", 'HuggingFaceStorage(name="store", credentials=' + REF.format(key="HF_TOKEN", name="hf") + ")",
     "hf://meta-llama/Llama-3.2-1B", ["HF_TOKEN"], "store-hf"),
]


@pytest.mark.parametrize(("storage", "uri", "keys", "names"), [k[1:] for k in KINDS], ids=[k[0] for k in KINDS])
def test_each_kind_renders_the_keys_kserve_reads(tmp_path: Path, storage: str, uri: str, keys: list[str], names: str) -> None:
    repo = _storage_repo(tmp_path, storage, uri)
    files = render(repo)
    secret = obj(files, "common/storage/store/externalsecret.yaml")
    assert [d["secretKey"] for d in secret["spec"]["data"]] == keys
    assert secret["metadata"]["name"] == secret["spec"]["target"]["name"] == f"{names}-credentials"
    sa = obj(files, "common/storage/store/serviceaccount.yaml")
    assert sa["metadata"]["name"] == names and sa["secrets"] == [{"name": f"{names}-credentials"}] and "annotations" not in sa["metadata"]
    assert isvc(files, "m")["spec"]["predictor"]["serviceAccountName"] == names
    assert schema_errors(repo, "dev", files) == []


def test_http_headers_with_the_host_beside_them(tmp_path: Path) -> None:
    """https/https_secret.go:25-53: ``https-host`` and ``headers`` become the variable ``<host>-headers``."""
    storage = 'HTTPStorage(name="store", host="models.example.com", credentials=SealedSecretCredentials(data={"headers": "AgBy3i4O=="}))'
    repo = _storage_repo(tmp_path, storage, "https://models.example.com/m.joblib")
    sealed = obj(render(repo), "common/storage/store/sealedsecret.yaml")["spec"]
    assert sealed["encryptedData"] == {"headers": "AgBy3i4O=="}
    assert sealed["template"]["data"] == {"https-host": "models.example.com"}
    plain = _storage_repo(tmp_path / "plain", storage.replace('SealedSecretCredentials(data={"headers": "AgBy3i4O=="})',
                          'PlaintextCredentials(data={"headers": \'{"Authorization": "Bearer x"}\'})'),
                          "https://models.example.com/m.joblib", "allowPlaintextSecrets: true\n")
    files = render(plain)
    data = obj(files, "common/storage/store/secret.yaml")["data"]
    assert {k: base64.b64decode(v).decode() for k, v in data.items()} == {
        "https-host": "models.example.com", "headers": '{"Authorization": "Bearer x"}'}
    external = _storage_repo(tmp_path / "eso", storage.replace('SealedSecretCredentials(data={"headers": "AgBy3i4O=="})',
                             'ExternalSecretCredentials(store="vault", data={"headers": RemoteRef(key="web/headers")})'),
                             "https://models.example.com/m.joblib")
    template = obj(render(external), "common/storage/store/externalsecret.yaml")["spec"]["target"]["template"]
    assert template == {"type": "Opaque", "mergePolicy": "Merge", "data": {"https-host": "models.example.com"}}
    assert schema_errors(plain, "dev", files) == []


def test_irsa_is_serviceaccount_annotations_and_no_secret(tmp_path: Path) -> None:
    """service_account_credentials.go:239-245: a ServiceAccount annotated ``eks.amazonaws.com/role-arn`` gets the
    s3 variables from its own ``serving.kserve.io/s3-*`` annotations (s3/s3_service_account.go:29)."""
    storage = ('S3Storage(name="store", endpoint="s3.eu-west-1.amazonaws.com", region="eu-west-1", '
               'identity=AwsIamRole(role_arn="arn:aws:iam::123456789012:role/reader"))')
    repo = _storage_repo(tmp_path, storage, "s3://bucket/model")
    files = render(repo)
    assert sorted(p for p in files if p.startswith("common/storage/")) == ["common/storage/store/serviceaccount.yaml"]
    sa = obj(files, "common/storage/store/serviceaccount.yaml")
    assert sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reader", "serving.kserve.io/s3-endpoint": "s3.eu-west-1.amazonaws.com",
        "serving.kserve.io/s3-region": "eu-west-1", "serving.kserve.io/s3-usehttps": "1"}
    assert "secrets" not in sa and schema_errors(repo, "dev", files) == []


def test_gke_workload_identity_and_a_per_env_identity(tmp_path: Path) -> None:
    storage = 'GCSStorage(name="store", identity=GcpServiceAccount(service_account="reader@ml-dev.iam.gserviceaccount.com"))'
    prod = "storage:\n  store:\n    identity: {provider: gcp, serviceAccount: reader@ml-prod.iam.gserviceaccount.com}\n"
    spec = f'STORE = {storage}\nMODEL = Model(name="m", storage="store", predictor=Predictor(model_format="sklearn", storage_uri="gs://b/m"))\n'
    repo = make_repo(tmp_path, spec, {"dev": overlay(), "prod": overlay("0.20", prod)})
    for env, gsa in (("dev", "reader@ml-dev.iam.gserviceaccount.com"), ("prod", "reader@ml-prod.iam.gserviceaccount.com")):
        sa = obj(render(repo, env), "common/storage/store/serviceaccount.yaml")
        assert sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": gsa} and "secrets" not in sa


def test_azure_workload_identity_labels_every_component_pod(tmp_path: Path) -> None:
    spec = ('MODEL = Model(name="m", service_account_name="reader", predictor=Predictor(model_format="sklearn", storage_uri='
            '"https://acct.blob.core.windows.net/models/m"), transformer=Transformer(container=Container(image="t:1")))\n')
    accounts = "serviceAccounts:\n  reader: {identity: {provider: azure, clientId: 00000000-0000-0000-0000-000000000001, tenantId: t-1}}\n"
    repo = make_repo(tmp_path, spec, {"dev": overlay("0.20", accounts)})
    files = render(repo)
    sa = obj(files, "common/serviceaccounts/reader.yaml")
    assert sa["metadata"]["annotations"] == {"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001",
                                             "azure.workload.identity/tenant-id": "t-1"}
    spec_ = isvc(files, "m")["spec"]
    for comp in ("predictor", "transformer"):
        assert spec_[comp]["labels"] == {"azure.workload.identity/use": "true"} and spec_[comp]["serviceAccountName"] == "reader"
    assert schema_errors(repo, "dev", files) == []


def test_an_s3_model_without_endpoint_runs_as_the_envs_default_serviceaccount(tmp_path: Path) -> None:
    spec = ('S3M = Model(name="s3m", predictor=Predictor(model_format="sklearn", storage_uri="s3://b/m"))\n'
            'GSM = Model(name="gsm", predictor=Predictor(model_format="sklearn", storage_uri="gs://b/m"))\n')
    identity = ("defaults: {serviceAccountName: reader}\n"
                "serviceAccounts:\n  reader: {identity: {provider: aws, roleArn: 'arn:aws:iam::123456789012:role/reader'}}\n")
    repo = make_repo(tmp_path, spec, {"dev": overlay("0.20", identity), "qa": overlay()})
    files = render(repo)
    assert isvc(files, "s3m")["spec"]["predictor"]["serviceAccountName"] == "reader"
    assert "serviceAccountName" not in isvc(files, "gsm")["spec"]["predictor"]  # a public gs:// model keeps the default
    assert obj(files, "common/serviceaccounts/reader.yaml")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reader"}
    assert problems(repo, "qa") == [
        "specs/main.py: s3m.storage: expected a storage endpoint for 's3://b/m' (env qa), found none: name one (storage=...), or a "
        "ServiceAccount that reads the bucket through node or workload identity (service_account_name=..., or "
        "defaults.serviceAccountName in overlays/qa.yaml)"]


MISUSE = {
    "missing-key": ('GCSStorage(name="store", credentials=' + REF.format(key="key.json", name="gcs") + ")", "gs://b/m", "", "0.20",
                    ["specs/main.py:2: GCSStorage: credentials: expected the keys gcloud-application-credentials.json (what KServe's "
                     "storage initializer reads), found key.json"]),
    "uri-of-another-kind": ('HuggingFaceStorage(name="store", credentials=' + REF.format(key="HF_TOKEN", name="hf") + ")", "s3://b/m", "",
                            "0.20", ["specs/main.py: m.storage: expected an endpoint that reads s3:// URIs, found HuggingFaceStorage 'store'"]),
    # service_account_credentials.go: AZURE_ACCESS_TOKEN is read from @v0.16.0:314, not at @v0.15.2:277-285
    "azure-token-on-0.15": ('AzureStorage(name="store", credentials=' + REF.format(key="AZURE_ACCESS_TOKEN", name="az") + ")",
                            "https://acct.blob.core.windows.net/m/x", "", "0.15",
                            ["specs/main.py: storage.store.credentials: expected a client secret or storage key on KServe 0.15 "
                             "(AZURE_ACCESS_TOKEN is read from KServe 0.16), found AZURE_ACCESS_TOKEN"]),
    "bad-role-arn": ('S3Storage(name="store", endpoint="s3.amazonaws.com", identity=AwsIamRole(role_arn="reader"))', "s3://b/m", "", "0.20",
                     ["specs/main.py:2: S3Storage: identity: expected an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>), found 'reader'"]),
    "bad-google-account": ('GCSStorage(name="store", identity=GcpServiceAccount(service_account="reader"))', "gs://b/m", "", "0.20",
                           ["specs/main.py:2: GCSStorage: identity: expected a Google service account "
                            "(<name>@<project>.iam.gserviceaccount.com), found 'reader'"]),
    "bad-http-host": ('HTTPStorage(name="store", host="https://models.example.com", credentials=' + REF.format(key="headers", name="h") + ")",
                      "https://models.example.com/m", "", "0.20",
                      ["specs/main.py:2: HTTPStorage.host: expected a host name such as models.example.com (no scheme or path), "
                       "found 'https://models.example.com'"]),
    "serviceaccount-taken": ('GCSStorage(name="store", identity=GcpServiceAccount(service_account="reader@p-1.iam.gserviceaccount.com"))',
                             "gs://b/m", "serviceAccounts:\n  store-gcs: {}\n", "0.20",
                             ["overlays/dev.yaml:6: serviceAccounts.store-gcs: expected a name no storage endpoint's ServiceAccount has, "
                              "found the one of 'store'"]),
    "identity-in-overlay": ('GCSStorage(name="store", identity=GcpServiceAccount(service_account="reader@p-1.iam.gserviceaccount.com"))',
                            "gs://b/m", "storage:\n  store: {identity: {provider: aws, roleArn: nope}}\n", "0.20",
                            ["overlays/dev.yaml:6: storage.store: identity: expected an IAM role ARN "
                             "(arn:aws:iam::<12 digits>:role/<name>), found 'nope'"]),
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_storage_misuse_is_one_located_line_each(tmp_path: Path, case: str) -> None:
    storage, uri, extra, kserve, expected = MISUSE[case]
    assert problems(_storage_repo(tmp_path, storage, uri, extra, kserve)) == expected
