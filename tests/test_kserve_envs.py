"""Each environment renders and validates for the KServe version it names (issue 10): mode names
per version, no flags needed for validation, what an older version does not know is refused,
unsupported versions named, and ``upgrade-check``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import git, run_cli

MODES = {  # kserve/versions.py: Serverless/RawDeployment before 0.16; no explicit Knative on 0.19 (kserve#5793)
    "0.14": ("Serverless", "RawDeployment"), "0.15": ("Serverless", "RawDeployment"), "0.16": ("Knative", "Standard"),
    "0.17": ("Knative", "Standard"), "0.18": ("Knative", "Standard"), "0.19": (None, "Standard"), "0.20": ("Knative", "Standard"),
}


def _set_version(repo: Path, version: str, envs: tuple[str, ...] = ("dev", "staging", "prod")) -> None:
    for env in envs:
        path = repo / f"overlays/{env}.yaml"
        lines = [f'kserveVersion: "{version}"' if ln.startswith("kserveVersion:") else ln for ln in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")


def _mode(repo: Path, env: str, model: str) -> str | None:
    obj = yaml.safe_load((repo / f"rendered/{env}/models/{model}/inferenceservice.yaml").read_text())
    return obj["metadata"].get("annotations", {}).get("serving.kserve.io/deploymentMode")


@pytest.mark.parametrize("version", sorted(MODES))
def test_the_example_renders_and_validates_on_every_supported_version(example_repo: Path, version: str) -> None:
    _set_version(example_repo, version)
    if version == "0.14":  # llama3-chat scales with KEDA (KServe 0.15+): refused on 0.14 (tests/test_isvc_surface_errors.py)
        for env in ("dev", "staging", "prod"):
            path = example_repo / f"overlays/{env}.yaml"
            data = yaml.safe_load(path.read_text())
            data.setdefault("models", {})["llama3-chat"] = {"enabled": False}
            data["graphs"] = {"assistant": {"enabled": False}}  # it calls llama3-chat
            path.write_text(yaml.safe_dump(data))
    if version != "0.20":  # the example's LLM needs 0.20 (a weighted canary plan, node-local caching): refused before
        with (example_repo / "overlays/prod.yaml").open("a") as f:  # (tests/test_llm_render.py), so disabled here
            f.write("llms:\n  chat-assistant: {enabled: false}\n")
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 0, res.stderr
    knative, standard = MODES[version]
    for env in ("dev", "staging", "prod"):
        assert _mode(example_repo, env, "census-income") == knative
        assert _mode(example_repo, env, "fraud-detector") == standard
    valid = run_cli("validate", "--no-cache", "--root", example_repo)  # no --crds: the schemas shipped for the version
    assert valid.exit_code == 0, valid.stderr


def test_the_example_repo_covers_both_naming_eras() -> None:
    from conftest import REPO

    assert _mode(REPO, "staging", "census-income") == "Serverless" and _mode(REPO, "prod", "census-income") == "Knative"


def test_a_field_only_a_newer_kserve_knows_fails_on_an_older_one(example_repo: Path) -> None:
    path = example_repo / "rendered/dev/models/census-income/inferenceservice.yaml"
    path.write_text(path.read_text().replace("  predictor:\n", "  predictor:\n    name: v1\n", 1))
    res = run_cli("validate", "--env", "dev", "--no-cache", "--root", example_repo)
    assert res.exit_code == 1
    shown = "servespec: error: rendered/dev/models/census-income/inferenceservice.yaml: env dev: InferenceService census-income: "
    assert f"{shown}spec.predictor: Additional properties are not allowed ('name' was unexpected)" in res.stderr.splitlines()
    prod = example_repo / "rendered/prod/models/census-income/inferenceservice.yaml"
    prod.write_text(prod.read_text().replace("  predictor:\n", "  predictor:\n    name: v1\n", 1))
    assert "'name' was unexpected" not in run_cli("validate", "--env", "prod", "--no-cache", "--root", example_repo).stderr


def test_an_unsupported_version_is_named_with_the_supported_ones(example_repo: Path) -> None:
    _set_version(example_repo, "0.13", ("dev",))
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert ("servespec: error: overlays/dev.yaml:5: kserveVersion: KServe 0.13 is not supported "
            "(supported: 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.20)") in res.stderr.splitlines()
    assert run_cli("validate", "--env", "dev", "--root", example_repo).exit_code == 1


def test_a_name_too_long_for_what_kserve_derives_from_it_is_refused_at_render(example_repo: Path) -> None:
    spec = example_repo / "specs/sklearn_iris.py"
    long_name = "sklearn-iris-" + "x" * 45  # 58 > 53: <name>-predictor must be a 63-character DNS label
    spec.write_text(spec.read_text().replace('name="sklearn-iris"', f'name="{long_name}"'))
    for env in ("dev", "staging", "prod"):
        overlay = example_repo / f"overlays/{env}.yaml"
        overlay.write_text(overlay.read_text().replace("sklearn-iris", long_name))
    res = run_cli("render", "--root", example_repo)
    assert res.exit_code == 2
    assert f"servespec: error: specs/sklearn_iris.py: {long_name}: metadata.name: KServe 0.15 (env dev): " in res.stderr
    assert "Traceback" not in res.stderr


def test_a_mode_kserve_015_never_knew_is_an_update_it_rejects(example_git_repo: Path) -> None:
    """kserve@v0.15.2 pkg/controller/v1beta1/inferenceservice/utils/utils.go GetDeploymentMode: an
    unknown mode runs as the default (Serverless), which the update webhook then enforces."""
    repo = example_git_repo
    path = repo / "rendered/dev/models/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("deploymentMode: RawDeployment", "deploymentMode: Standard"))
    git(repo, "commit", "-qam", "what servespec rendered before it knew KServe versions")
    assert run_cli("render", "--root", repo).exit_code == 0
    res = run_cli("validate", "--env", "dev", "--root", repo)
    assert res.exit_code == 1
    assert ("metadata.annotations.serving.kserve.io/deploymentMode: KServe 0.15: expected 'Serverless': the committed render's "
            "'Standard' is unknown to KServe 0.15, so the object runs as the cluster default ('Serverless', recorded in "
            "status.deploymentMode) and an update to 'RawDeployment' is rejected; delete and recreate the InferenceService "
            "to change mode, found 'RawDeployment'") in res.stderr


def test_upgrade_check_015_to_020_lists_the_mode_names_and_the_steps(example_repo: Path) -> None:
    res = run_cli("upgrade-check", "--env", "staging", "--to", "0.20", "--root", example_repo)
    assert res.exit_code == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0] == "staging: KServe 0.15 -> 0.20: 6 rendered field(s) change"
    for model, old, new in (("census-income", "Serverless", "Knative"), ("fraud-detector", "RawDeployment", "Standard"),
                            ("sklearn-iris", "Serverless", "Knative")):
        assert (f"  rendered/staging/models/{model}/inferenceservice.yaml: metadata.annotations.serving.kserve.io/deploymentMode: "
                f"'{old}' -> '{new}'") in out
    steps = out[out.index("steps:") + 1:]
    assert steps[0].startswith("  1. Upgrade KServe on the cluster to 0.20.0 while git still renders for 0.15")
    assert steps[1].startswith('  2. Set kserveVersion: "0.20" in overlays/staging.yaml:5, run `servespec render`')


def test_upgrade_check_that_breaks_a_sync_exits_1(example_repo: Path) -> None:
    res = run_cli("upgrade-check", "--env", "staging", "--to", "0.16", "--root", example_repo)
    assert res.exit_code == 1
    assert ("servespec: error: rendered/staging/models/census-income/inferenceservice.yaml: metadata.annotations.serving.kserve.io/"
            "deploymentMode: KServe 0.16: expected 'Serverless' as in the committed render") in res.stderr
    trap = run_cli("upgrade-check", "--env", "staging", "--to", "0.18", "--root", example_repo)
    assert trap.exit_code == 1
    assert ("servespec: error: --to: objects created on KServe 0.15 reject every update on 0.18 (status holds the legacy mode name; "
            "KServe 0.19 normalises it): upgrade straight to 0.19 or later") in trap.stderr.splitlines()
    same = run_cli("upgrade-check", "--env", "prod", "--to", "0.20", "--root", example_repo)
    assert same.exit_code == 0 and same.stdout.startswith("prod: KServe 0.20 -> 0.20: 0 rendered field(s) change")
    bad = run_cli("upgrade-check", "--env", "prod", "--to", "0.9", "--root", example_repo)
    assert bad.exit_code == 2 and "servespec: error: --to: KServe 0.9 is not supported" in bad.stderr
