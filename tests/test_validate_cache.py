"""``validate`` checks again exactly what changed: a file whose bytes changed, every file of an
env whose settings, schemas or servespec's code changed; a damaged cache is ignored and rebuilt,
never trusted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import CRDS, run_cli
from servespec.cache.fingerprint import file_digest, read_framed, repo_dir, write_framed
from servespec.validate.tree import rendered_files

ISVC = "rendered/prod/models/census-income/inferenceservice.yaml"
PLANTED = "'canaryTrafficPercnt' was unexpected"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _plant(repo: Path) -> None:
    _edit(repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files ``validate`` checks (rather than taking an earlier result), as ``env/path``."""
    import servespec.validate.tree as tree

    seen: list[str] = []
    real = tree._check_file

    def spy(shown: str, *args: object, **kwargs: object) -> object:
        seen.append(shown.removeprefix("rendered/"))
        return real(shown, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tree, "_check_file", spy)
    return seen


def _validate(repo: Path, *extra: str | Path) -> tuple[int, list[str]]:
    result = run_cli("validate", *extra, "--root", repo)
    return result.exit_code, result.stderr.splitlines()


def _tables(repo: Path) -> list[Path]:
    return sorted(Path(repo_dir(str(repo.resolve()))).glob("validate-*"))


def test_only_the_files_of_a_changed_model_are_checked_again(example_repo: Path, checked: list[str]) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert _validate(example_repo) == (0, [])
    assert len(checked) == sum(len(rendered_files(example_repo, env)) for env in ("dev", "staging", "prod"))
    checked.clear()
    assert _validate(example_repo) == (0, [])
    assert checked == []  # nothing changed: nothing checked, nothing read
    _edit(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert _validate(example_repo) == (0, [])
    assert sorted(checked) == [f"{env}/models/fraud-detector/inferenceservice.yaml" for env in ("dev", "prod", "staging")]


def test_a_hand_edited_file_is_the_only_one_read_and_checked(example_repo: Path, checked: list[str]) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert _validate(example_repo) == (0, [])
    checked.clear()
    _plant(example_repo)
    files = rendered_files(example_repo, "prod")
    assert files["models/census-income/inferenceservice.yaml"] is None
    assert all(digest is not None for rel, digest in files.items() if rel != "models/census-income/inferenceservice.yaml")
    code, lines = _validate(example_repo)
    assert code == 1 and len(lines) == 1 and PLANTED in lines[0]
    assert checked == ["prod/models/census-income/inferenceservice.yaml"]


@pytest.mark.parametrize("change", ["kserve-version", "overlay-policy", "code", "crds"])
def test_every_file_of_an_env_is_checked_again_when_what_decides_its_results_changes(
        example_repo: Path, checked: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: str) -> None:
    crds = tmp_path / "crds"
    shutil.copytree(CRDS, crds)
    assert _validate(example_repo, "--crds", crds)[0] == 0
    checked.clear()
    assert _validate(example_repo, "--crds", crds)[0] == 0 and checked == []
    if change == "kserve-version":
        _edit(example_repo / "overlays/dev.yaml", 'kserveVersion: "0.15"', 'kserveVersion: "0.14"')
    elif change == "overlay-policy":
        _edit(example_repo / "overlays/dev.yaml", "allowPlaintextSecrets: true", "allowPlaintextSecrets: false")
    elif change == "code":
        import servespec.cache.validation as validation

        monkeypatch.setattr(validation, "code_fingerprint", lambda: "another servespec")
    else:
        crd = next(crds.rglob("*.yaml"))
        crd.write_bytes(crd.read_bytes())  # a CRD file changed: every schema may have
        os.utime(crd, ns=(1, 1))
    _validate(example_repo, "--crds", crds)
    envs = {seen.split("/")[0] for seen in checked}
    assert envs == ({"dev"} if change in ("kserve-version", "overlay-policy") else {"dev", "staging", "prod"})
    assert len(checked) == sum(len(rendered_files(example_repo, env, False)) for env in envs)


def test_a_policy_change_finds_what_earlier_results_did_not_have(example_repo: Path) -> None:
    assert _validate(example_repo) == (0, [])
    _edit(example_repo / "overlays/dev.yaml", "allowPlaintextSecrets: true", "allowPlaintextSecrets: false")
    assert _validate(example_repo) == (1, [
        "servespec: error: rendered/dev/common/storage/minio/secret.yaml: env dev: Secret kubeflow-minio-secret: "
        "plaintext secret data in git is refused in env 'dev' (allowPlaintextSecrets is false)"])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty"])
def test_a_damaged_cache_is_ignored_and_rebuilt(example_repo: Path, checked: list[str], damage: str) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert _validate(example_repo) == (0, [])
    tables = _tables(example_repo)
    assert [t.name for t in tables] == ["validate-dev", "validate-prod", "validate-staging"]
    _plant(example_repo)
    for table in tables:
        raw = table.read_bytes()
        if damage == "flipped":  # the planted file's digest put in the table, the checksum left as it was
            data = read_framed(str(table))
            assert isinstance(data, dict)
            write_framed(str(table), {**data, "digests": {**data["digests"],
                                                          "models/census-income/inferenceservice.yaml": file_digest((example_repo / ISVC).read_bytes())}})
            new = table.read_bytes()
            raw = raw[:32] + new[32:]
        table.write_bytes({"garbage": b"not a cache file", "truncated": raw[:len(raw) // 2], "flipped": raw, "empty": b""}[damage])
    checked.clear()
    code, lines = _validate(example_repo)
    assert code == 1 and len(lines) == 1 and PLANTED in lines[0]
    assert len(checked) == sum(len(rendered_files(example_repo, env)) for env in ("dev", "staging", "prod"))
    assert all(isinstance(read_framed(str(t)), dict) for t in tables)  # rebuilt
    checked.clear()
    assert _validate(example_repo)[1] == lines and checked == []


def test_the_kustomization_listing_is_checked_again_when_files_or_listings_change(example_repo: Path) -> None:
    assert _validate(example_repo) == (0, [])
    (example_repo / "rendered/prod/models/fraud-detector/podmonitor.yaml").unlink()
    assert _validate(example_repo)[1] == ["servespec: error: rendered/prod/models/fraud-detector/kustomization.yaml: env prod: resources: "
                                          "lists 'podmonitor.yaml', which does not exist"]
    _edit(example_repo / "rendered/prod/models/fraud-detector/kustomization.yaml", "- podmonitor.yaml\n", "")
    assert _validate(example_repo) == (0, [])
    (example_repo / "rendered/prod/models/fraud-detector/extra.yaml").write_bytes(
        (example_repo / "rendered/prod/models/fraud-detector/inferenceservice.yaml").read_bytes())
    assert _validate(example_repo)[1] == ["servespec: error: rendered/prod/models/fraud-detector/extra.yaml: env prod: "
                                          "not listed in any kustomization.yaml: the controller would never apply it"]


def test_every_env_checked_in_one_pool_gives_the_serial_report(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import servespec.validate.tree as tree
    from servespec.cache.objects import ObjectStore
    from servespec.overlay import load_envs
    from servespec.validate import SchemaRegistry

    assert run_cli("render", "--root", example_repo).exit_code == 0
    _plant(example_repo)
    envs = list(load_envs(example_repo, None).values())

    def reports() -> dict[str, list[str]]:
        stores = {env.name: ObjectStore(str(example_repo.resolve()), env.name) for env in envs}
        found = tree.validate_trees(example_repo, envs, SchemaRegistry(CRDS), None, stores)
        return {name: [str(p) for p in report.problems] + [f"{report.objects} objects"] for name, report in found.items()}

    serial = reports()
    monkeypatch.setattr(tree, "PARALLEL_FROM", 1)
    monkeypatch.setattr(tree.os, "cpu_count", lambda: 2)
    assert reports() == serial
    assert list(serial) == ["dev", "prod", "staging"] and len(serial["prod"]) == 2 and PLANTED in serial["prod"][0]
