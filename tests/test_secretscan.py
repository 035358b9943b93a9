"""Secret and control-character detection: a true positive for every documented pattern, and the
false positives it must not raise (ordinary URLs, model names, buckets, short words, UUIDs)."""

from __future__ import annotations

import base64
import json
import random

import pytest

from servespec.secretscan import (
    control_characters, format_trailers, looks_sealed, redact_url, redact_urls, secret_like, uri_credentials, uri_userinfo,
)

# AWS's own documented example keys (not live credentials)
AWS_ID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# A real kubeseal ciphertext (4096-bit key): bitnami-labs/sealed-secrets@v0.36.6:
# vendor_jsonnet/kube-libsonnet/tests/test-sealedsecrets-datalines.txt:1
SEALED = "AgCz+HLrnNCZoDCOcCbMgKp//+Tfz5ecNcVGZOnLT/M/RP5E7u6ifHtm3GfG8qJKcRK9v6ZBYOIeDqenlSNMpRmigXH0p2ThMfmBcPIYfLvqOcwfwssfOS4jp02qsAjSfaAXuL2Mze15OnXImiPHsoi9BIrJnyhRObBeRMnJ4xMUAFPih1CfqY3nl7FQhH6+4t3Wh52JY3VmDWYYGH5Kc5JyS40PodCUEgId1kJKtChUPQ0JsTgj6W8ymyJ0bC8jyzrZHD0gLo26T+7mNiJyUEU9qj7p8YhZj3v6VcEv4DKQVVvkGk94svTAdnSQrh5cNOaZrp6eTJqIs+PcrelTVitoZzZsnIc+ze6aPjGhft752xa9CDmuCkQ9XkWfWpGcGrEv1jmIPkJYIjPIKgP6CS5eU+eBZNIkNpIof2jiYdqqP59BhoBwVkC/Rm1GfgOdLxO55sicTwSmRA+/pkE6hopK327uwxWmtGZ5/kUuW6nZ4shTNTsr1n1skZJvw6UfwkAgIYuDctHqw+y7eSdDM2gggLM72TgBEf5111LnIj2rroQu5bR6XVVpMy6QFhE9LLAC3kcs/BqPh5A7qq/ffZrFhWpSIS7voavtdqn6XhdJ8TsJ7Wbkhjxf1S/l/YqS6B1ZlJFlrdcNA6BHqzyjncmrD030YfwNqYUl2Itxok7S6DaImzBkxV5Uqd18EiuVcbVL3Ic1I3B4pviBAo0eG5nn4/uZCjuBKu6muLtR5GFMblbqV23MiB8Q3jtODvVw6SbFfNQx836RsJAFSmE+axSGvZPq4zDXGUYekOHZ+ov6Gd2Czv99Cf67r3ogJIzDR1uVRZH78bYrjEAkRGpKETUfLFfRyRZzWW/K5cKEAoDttzHI5grlgm44k5RQeaoargmyVjuEgjEZ2yZnl5Z7BX3YSazcLfK2t/wwGNHMMgedf3SeGETIx552CehRw7+A1+0q4iKQ9z13dPpjAYNzmLd1bGY4ORQeEf4Duk6NTXXHfpyRSq/CNK5BPhKnTn1OEnUQ+ttD/ZjNkx2OMFsX7zfMfk0RRRnKlWpanYOtTinx5WbpIYOKZ4Labb7+CnuHMgTZoNTXZe2DnNFqWIgm47U="


def _jwt() -> str:
    part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': 'ci', 'iat': 1700000000})}.c2lnbmF0dXJlLWJ5dGVz"


def _sealed_shape(rsa_len: int, rsa_block: bytes | None = None, tail: int = 40) -> str:
    rng = random.Random(rsa_len)
    block = rsa_block if rsa_block is not None else rng.randbytes(rsa_len)
    return base64.b64encode(rsa_len.to_bytes(2, "big") + block + rng.randbytes(tail)).decode()


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        (f"s3://{AWS_ID}:{AWS_SECRET}@bucket/model", "the URI carries credentials before '@' (userinfo)"),  # '/' inside the secret
        ("s3://KEY:SECRET@bucket/model", "the URI carries credentials before '@' (userinfo)"),
        ("https://user:token@huggingface.co/org/model", "the URI carries credentials before '@' (userinfo)"),
        ("https://ghp_tokenonly@github.com/org/repo.git", "the URI carries credentials before '@' (userinfo)"),
        ("ssh://git:pw@github.com/org/repo.git", "the URI carries credentials before '@' (userinfo)"),
        ("https://b.s3.amazonaws.com/m?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc", "the URI carries a credential in its query (X-Amz-Credential=…)"),
        ("https://acct.blob.core.windows.net/c/m?sv=2022-11-02&sig=abc%3D", "the URI carries a credential in its query (sig=…)"),
        ("http://prometheus:9090/api?access_token=abc", "the URI carries a credential in its query (access_token=…)"),
    ],
)
def test_uris_with_credentials(uri: str, reason: str) -> None:
    assert uri_credentials(uri) == reason
    assert AWS_SECRET not in reason and "SECRET" not in reason and "abc" not in reason  # the reason never repeats the secret


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket/path/model", "s3://census-income/serving_model", "gs://kfserving-examples/models/sklearn/1.0/model",
     "gs://bucket/model@v2", "https://huggingface.co/org/model?revision=main", "http://minio.storage.svc:9000/bucket",
     "https://host/a:b@c", "ssh://git@github.com/org/repo.git", "pvc://models/model", "oci://ghcr.io/org/model:1.0",
     "hf://meta-llama/Llama-3-8B", "http://prometheus:9090/api/v1/query?query=up&time=1", "not a uri"],
)
def test_uris_without_credentials(uri: str) -> None:
    assert uri_credentials(uri) is None
    assert not uri_userinfo(uri)
    assert redact_url(uri) == uri


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pa55@prom.example.com:9090/api?x=1", "https://***@prom.example.com:9090/api?x=1"),
        (f"s3://{AWS_ID}:{AWS_SECRET}@bucket/m", "s3://***@bucket/m"),
        ("https://h/p?a=1&password=hunter2&token=t&b=2#frag", "https://h/p?a=1&password=***&token=***&b=2#frag"),
        ("https://b.s3.amazonaws.com/m?X-Amz-Signature=abc&X-Amz-Security-Token=xyz", "https://b.s3.amazonaws.com/m?X-Amz-Signature=***&X-Amz-Security-Token=***"),
        ("https://h/p?key=&q=up", "https://h/p?key=&q=up"),  # empty: nothing to hide
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_urls_in_text() -> None:
    text = "error: cannot reach https://u:p@prom:9090/api/v1 (and 'http://x:y@z/q?token=1')"
    assert redact_urls(text) == "error: cannot reach https://***@prom:9090/api/v1 (and 'http://***@z/q?token=***')"


PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
SA_JSON = json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "k", "private_key": "x", "client_email": "e"})


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("TLS_KEY", PEM, "looks like a PEM private key"),
        ("SSH", "-----BEGIN OPENSSH PRIVATE KEY-----", "looks like a PEM private key"),
        ("KEY", "-----BEGIN PRIVATE KEY-----", "looks like a PEM private key"),
        ("AWS_ACCESS_KEY_ID", AWS_ID, "looks like an AWS access key id (AKIA…/ASIA…)"),
        ("X", "ASIAY34FZKBOKMUTVV7A", "looks like an AWS access key id (AKIA…/ASIA…)"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET, "looks like an AWS secret access key (40 characters under 'AWS_SECRET_ACCESS_KEY')"),
        ("MAPS", "AIzaSyA" + "b1C2d3E4f5G6h7I8j9K0l1M2n3O4p5Qr", "looks like a Google API key (AIza…)"),
        ("GOOGLE_CREDENTIALS", SA_JSON, "looks like a GCP service-account key (JSON with a private_key)"),
        ("AZURE", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc123==;EndpointSuffix=core.windows.net",
         "looks like an Azure connection string with a key"),
        ("SB", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc=",
         "looks like an Azure connection string with a key"),
        ("SAS", "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01&sig=abcDEF%3D", "looks like an Azure SAS token (sv=…&sig=…)"),
        ("AZURE_STORAGE_KEY", "A" * 40 + "b/c+" * 10 + "123456==", "looks like an Azure storage account key (88 base64 characters under 'AZURE_STORAGE_KEY')"),
        ("HF", "hf_" + "aBcD1234" * 4 + "xy", "looks like a Hugging Face token (hf_…)"),
        ("GH", "ghp_" + "a1B2c3D4e5" * 3 + "F6g7H8", "looks like a GitHub token (ghp_/gho_/ghu_/ghs_/ghr_…)"),
        ("GH", "gho_" + "Z9y8X7w6V5" * 4, "looks like a GitHub token (ghp_/gho_/ghu_/ghs_/ghr_…)"),
        ("GH", "github_pat_11ABCDEFG0" + "aB3dE6gH9j" * 6, "looks like a GitHub fine-grained token (github_pat_…)"),
        ("GL", "glpat-" + "x1Y2z3W4v5U6t7S8r9Q0", "looks like a GitLab token (glpat-…)"),
        ("GL", "glrt-" + "A1b2C3d4E5f6G7h8I9j0", "looks like a GitLab token (glpat-…)"),
        ("RUNNER", "GR1348941" + "a1B2c3D4e5F6g7H8i9J0", "looks like a GitLab runner registration token (GR1348941…)"),
        ("SLACK", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "looks like a Slack token (xoxb-/xoxp-…)"),
        ("HOOK", "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "looks like a Slack webhook URL"),
        ("ID", _jwt(), "looks like a JSON Web Token (eyJ….eyJ….…)"),
        ("DATABASE_URL", "postgres://svc:s3cr3t@db:5432/app", "the URI carries credentials before '@' (userinfo)"),
        ("API_TOKEN", "Zt3kQ9vXb2LmN8pR", "a high-entropy value under 'API_TOKEN', a name for secrets"),
        ("db-password", "Passw0rd!2024xyz", "a high-entropy value under 'db-password', a name for secrets"),
        ("DBPASSWORD", "Passw0rd!2024xyz", "a high-entropy value under 'DBPASSWORD', a name for secrets"),
        ("OAUTH_CLIENT_SECRETS", "Zt3kQ9vXb2LmN8pR", "a high-entropy value under 'OAUTH_CLIENT_SECRETS', a name for secrets"),
        ("WANDB_API_KEY", "0123456789abcdef0123456789abcdef01234567", "a high-entropy value under 'WANDB_API_KEY', a name for secrets"),
        ("CLIENT_SECRET", "550e8400-e29b-41d4-a716-446655440000", "a high-entropy value under 'CLIENT_SECRET', a name for secrets"),
    ],
)
def test_secret_like_true_positives(name: str, value: str, reason: str) -> None:
    assert secret_like(name, value) == reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODEL_NAME", "sklearn-iris"), ("STORAGE_URI", "s3://bucket/path"), ("STORAGE_URI", "gs://kfserving-examples/models/sklearn/1.0/model"),
        ("REQUEST_ID", "550e8400-e29b-41d4-a716-446655440000"),  # a UUID under a non-secret name
        ("LOG_LEVEL", "debug"), ("PASSWORD", "changeme"), ("TOKEN", "short"), ("AUTH_MODE", "none"),
        ("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID_FILE", "/var/run/secrets/aws/id"),
        ("TOKEN_AUDIENCE", "sts.amazonaws.com"), ("HF_TOKEN_PATH", "/var/run/secrets/hf/token"),
        ("API_TOKEN", "$(HF_TOKEN)"), ("API_TOKEN", "${HF_TOKEN}"), ("SECRET_NAME", "minio-s3-credentials-prod"),
        ("OAUTH_TOKEN_URL", "https://login.example.com/oauth2/token"), ("PROMETHEUS_URL", "http://prometheus:9090/api?query=up"),
        ("DESCRIPTION", "a password manager integration for the inference service"),
        ("IMAGE", "ghcr.io/example/transformer:1.0"), ("CHECKSUM", "sha256:" + "ab" * 32),
        ("AUTHOR", "ghost_writer"), ("TOKENIZER", "bert-base-uncased"), ("TAG", "hf_model_v2"), ("NOTE", "akia is not a key"),
    ],
)
def test_secret_like_false_positives(name: str, value: str) -> None:
    assert secret_like(name, value) is None


def test_real_kubeseal_output_looks_sealed() -> None:
    assert looks_sealed(SEALED)
    assert looks_sealed(_sealed_shape(256))  # a 2048-bit key, the smallest accepted
    assert looks_sealed(_sealed_shape(512, tail=16))  # an empty secret: only the GCM tag after the RSA block


@pytest.mark.parametrize(
    "value",
    [
        "hunter2", "", base64.b64encode(b"my-database-password").decode(),  # plaintext, base64 or not
        base64.b64encode(b"plain text, long enough to pass the length check. " * 20).decode(),  # length prefix 'pl'
        _sealed_shape(128),  # RSA block too small for a real key
        _sealed_shape(4096),  # larger than any RSA key kubeseal uses
        _sealed_shape(512, rsa_block=b"A" * 512),  # an RSA block of printable text
        _sealed_shape(512, tail=10),  # shorter than the 16-byte GCM tag
        SEALED[:400],  # cut before the end of the RSA block
        SEALED.rstrip("=") if SEALED.endswith("=") else SEALED[:-1],  # not padded
        SEALED[:100] + "!" + SEALED[101:],  # not base64
        SEALED[:200] + "\n" + SEALED[200:],  # wrapped lines are not what kubeseal writes
    ],
    ids=["word", "empty", "base64-word", "base64-text", "rsa-128", "rsa-4096", "printable-rsa", "no-gcm-tag", "truncated",
         "unpadded", "not-base64", "wrapped"],
)
def test_not_sealed(value: str) -> None:
    assert not looks_sealed(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("s3://bucket/v2\nServespec-Action: rollback", "contains U+000A (line feed) at position 14"),
        ("a\rb", "contains U+000D (carriage return) at position 1"),
        ("tab\there", "contains U+0009 (tab) at position 3"),
        ("nul\x00", "contains U+0000 (NUL) at position 3"),
        ("\x1b[31mred", "contains U+001B (escape) at position 0"),
        ("del\x7f", "contains U+007F (delete) at position 3"),
        ("nel\x85", "contains U+0085 (next line) at position 3"),
        ("c1\x9b", "contains U+009B (control character) at position 2"),
        ("ls\u2028x", "contains U+2028 (line separator) at position 2"),
        ("ps\u2029x", "contains U+2029 (paragraph separator) at position 2"),
        ("admin\u202e\u2066 ", "contains U+202E (bidirectional override) at position 5"),
    ],
)
def test_control_characters(value: str, reason: str) -> None:
    assert control_characters(value) == reason


@pytest.mark.parametrize("value", ["s3://bucket/model/v2", "census-income", "ünïcödé ✓ 模型", "a b: c", ""])
def test_no_control_characters(value: str) -> None:
    assert control_characters(value) is None


def test_format_trailers() -> None:
    pairs = [("Servespec-Action", "release"), ("Servespec-Model", "census-income"), ("Servespec-Uri", "s3://b/m: v2")]
    assert format_trailers(pairs) == "Servespec-Action: release\nServespec-Model: census-income\nServespec-Uri: s3://b/m: v2"
    assert format_trailers([]) == ""


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("Servespec-Uri", "s3://b/v2\nServespec-Action: rollback")],
         "trailer Servespec-Uri: value contains U+000A (line feed) at position 9"),
        ([("Servespec Action", "x")], "trailer key: expected letters, digits and '-', found 'Servespec Action'"),
        ([("Servespec-Action:", "x")], "trailer key: expected letters, digits and '-', found 'Servespec-Action:'"),
        ([("", "x")], "trailer key: expected letters, digits and '-', found ''"),
        ([("Key\n", "x")], "trailer key: expected letters, digits and '-', found 'Key\\n'"),
        ([("Ok", "fine"), ("Uri", "a\u2028b")], "trailer Uri: value contains U+2028 (line separator) at position 1"),
    ],
)
def test_format_trailers_cannot_be_injected(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError) as err:
        format_trailers(pairs)
    assert str(err.value) == message
