"""The secrets policy (issue 11, class 3): credentials in URLs refused everywhere, secret-looking
plaintext env values refused outside an env that allows plaintext, a reviewed false positive
marked in the spec, SealedSecret values that must look sealed, no control characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from servespec.render import read_tree

TOKEN = "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"  # the shape of a Hugging Face token, not a real one


def _spec(repo: Path, old: str, new: str, name: str = "census_income.py") -> None:
    path = repo / "specs" / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def _render(repo: Path) -> object:
    before = read_tree(repo / "rendered")
    res = run_cli("render", "--root", repo)
    assert "Traceback" not in res.stderr
    if res.exit_code:
        assert read_tree(repo / "rendered") == before
    return res


@pytest.mark.parametrize("uri", ["s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@census-income/v2", "https://user:s3cret@models.example.com/m.tar"])
def test_credentials_in_a_storage_uri_are_refused(example_repo: Path, uri: str) -> None:
    _spec(example_repo, 'storage_uri="s3://census-income/serving_model"', f'storage_uri="{uri}"')
    res = _render(example_repo)
    assert res.exit_code == 2
    line = next(ln for ln in res.stderr.splitlines() if "census-income.predictor.storage_uri" in ln)
    assert line.startswith("servespec: error: specs/census_income.py: census-income.predictor.storage_uri: credentials in a URL are refused")
    assert "s3cret" not in res.stderr and "wJalrXUtnFEMI" not in res.stderr  # the message redacts them


def test_a_secret_looking_env_value_is_refused_outside_plaintext_envs(example_repo: Path) -> None:
    _spec(example_repo, "min_replicas=1,", f'min_replicas=1,\n        env={{"HF_TOKEN": "{TOKEN}"}},')
    res = _render(example_repo)
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if "HF_TOKEN" in ln]
    assert [ln.split(": looks like")[0] for ln in lines] == [
        "servespec: error: specs/census_income.py: census-income.predictor.env.HF_TOKEN"] * 2  # staging and prod, not dev
    assert "plaintext secrets are refused in env 'prod': take it from a Secret, or add 'HF_TOKEN' to not_secret after review" in res.stderr
    assert TOKEN not in res.stderr


def test_a_reviewed_false_positive_is_marked_in_the_spec(example_repo: Path) -> None:
    _spec(example_repo, "min_replicas=1,", 'min_replicas=1,\n        env={"TOKENIZER_SECRET_SALT": "q8Zr2LmX9pWv4Tn7"},')
    assert _render(example_repo).exit_code == 2
    _spec(example_repo, 'name="census-income",', 'name="census-income",\n    not_secret=["TOKENIZER_SECRET_SALT"],')
    res = _render(example_repo)
    assert res.exit_code == 0, res.stderr
    text = (example_repo / "rendered/prod/models/census-income/inferenceservice.yaml").read_text()
    assert "serving.servespec.io/not-secret: TOKENIZER_SECRET_SALT" in text
    assert run_cli("validate", "--env", "prod", "--root", example_repo).exit_code == 0


def test_validate_finds_a_hand_edited_secret_and_url(example_repo: Path) -> None:
    path = example_repo / "rendered/prod/models/census-income/inferenceservice.yaml"
    text = path.read_text().replace("      storageUri: s3://census-income/serving_model\n",
                                    f"      storageUri: https://bob:pa55word@example.com/m\n      env:\n      - name: GITHUB_TOKEN\n"
                                    f"        value: ghp_{'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'}\n")
    path.write_text(text)
    res = run_cli("validate", "--env", "prod", "--no-cache", "--root", example_repo)
    assert res.exit_code == 1
    shown = "servespec: error: rendered/prod/models/census-income/inferenceservice.yaml: env prod: InferenceService census-income: "
    assert f"{shown}spec.predictor.model.storageUri: credentials in a URL are refused (found " in res.stderr
    assert f"{shown}spec.predictor.model.env[0].value: GITHUB_TOKEN looks like a secret (" in res.stderr
    assert "pa55word" not in res.stderr


def test_a_sealed_secret_that_is_not_sealed_is_refused(example_repo: Path) -> None:
    sealed = example_repo / "rendered/prod/common/storage/minio/sealedsecret.yaml"
    sealed.write_text("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s, namespace: ml-prod}\n"
                      "spec:\n  encryptedData: {AWS_SECRET_ACCESS_KEY: bWluaW8xMjM=}\n  template: {metadata: {name: s}}\n")
    kust = example_repo / "rendered/prod/common/kustomization.yaml"
    kust.write_text(kust.read_text().replace("- storage/minio/externalsecret.yaml\n", "- storage/minio/externalsecret.yaml\n- storage/minio/sealedsecret.yaml\n"))
    res = run_cli("validate", "--env", "prod", "--no-cache", "--root", example_repo)
    assert res.exit_code == 1
    assert ("env prod: SealedSecret s: spec.encryptedData.AWS_SECRET_ACCESS_KEY: expected a value sealed by kubeseal (base64 of "
            "RSA-OAEP + AES-GCM ciphertext), found something else: a plaintext or mangled value in git") in res.stderr


def test_control_characters_in_an_env_value_are_refused(example_repo: Path) -> None:
    _spec(example_repo, "min_replicas=1,", 'min_replicas=1,\n        env={"GREETING": "hi\\u202ethere"},')
    res = _render(example_repo)
    assert res.exit_code == 2
    assert "specs/census_income.py: census-income.predictor.env.GREETING: expected no control characters, found " in res.stderr
