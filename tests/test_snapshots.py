"""Snapshots of selected rendered objects of the example repo (the seed in dev, one of each kind).

The whole of ``rendered/`` is the golden tree checked by ``render --check``; these snapshots pin
the emitters' output for review. Update with ``python -m pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, copy_example
from servespec.project import Project
from servespec.render import render_env

SELECTED = [
    ("dev", "models/census-income/inferenceservice.yaml"),
    ("dev", "common/storage/minio/secret.yaml"),
    ("dev", "common/storage/minio/serviceaccount.yaml"),
    ("prod", "common/storage/minio/externalsecret.yaml"),
    ("prod", "models/fraud-detector/inferenceservice.yaml"),
    ("staging", "models/sklearn-iris/inferenceservice.yaml"),
    ("staging", "kustomization.yaml"),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    repo = copy_example(tmp_path_factory.mktemp("snap") / "repo")
    project = Project.load(repo)
    return {env: render_env(project, env) for env in project.envs}


@pytest.mark.parametrize(("env", "path"), SELECTED, ids=[f"{e}-{p.replace('/', '-').removesuffix('.yaml')}" for e, p in SELECTED])
def test_rendered_object(rendered: dict[str, dict[str, bytes]], env: str, path: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    assert rendered[env][path].decode() == snapshot


def test_sealed_secret_credentials(tmp_path: Path, snapshot) -> None:  # type: ignore[no-untyped-def]
    repo = copy_example(tmp_path / "repo")
    (repo / "overlays/qa.yaml").write_text(
        "namespace: ml-qa\nstorage:\n  minio:\n    credentials:\n      source: sealedSecret\n"
        "      accessKeyId: AgBy3i4OJSWK+PiTySYZZA==\n      secretAccessKey: AgCtr8OJSWK+PiTySYZZB==\n      scope: namespace-wide\n"
    )
    files = render_env(Project.load(repo, ["qa"]), "qa")
    assert "common/storage/minio/secret.yaml" not in files
    assert files["common/storage/minio/sealedsecret.yaml"].decode() == snapshot


def test_seed_values_are_reproduced_in_dev() -> None:
    """The census-income example matches docs/SEED-SCENARIO.md value for value."""
    import yaml

    dev = REPO / "rendered/dev"
    isvc = yaml.safe_load((dev / "models/census-income/inferenceservice.yaml").read_text())
    secret = yaml.safe_load((dev / "common/storage/minio/secret.yaml").read_text())
    sa = yaml.safe_load((dev / "common/storage/minio/serviceaccount.yaml").read_text())
    assert isvc["metadata"]["namespace"] == "anonymous"
    assert isvc["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert isvc["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    p = isvc["spec"]["predictor"]
    assert p["minReplicas"] == 1 and p["serviceAccountName"] == "kubeflow-minio-sa"
    assert p["model"]["modelFormat"] == {"name": "tensorflow"} and p["model"]["runtimeVersion"] == "2.5.1"
    assert p["model"]["storageUri"] == "s3://census-income/serving_model"
    assert p["model"]["resources"] == {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert p["logger"] == {"mode": "all", "url": "http://message-dumper.anonymous.svc.cluster.local"}
    assert secret["metadata"]["name"] == "kubeflow-minio-secret" and secret["type"] == "Opaque"
    assert secret["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio-service.kubeflow.svc.cluster.local:9000",
        "serving.kserve.io/s3-usehttps": "0",
    }
    assert secret["data"] == {"AWS_ACCESS_KEY_ID": "bWluaW8=", "AWS_SECRET_ACCESS_KEY": "bWluaW8xMjM="}
    assert sa["secrets"] == [{"name": "kubeflow-minio-secret"}]
