"""``validate`` checks again exactly what changed: a file whose bytes changed, every file of an
env whose settings, schemas or servespec's code changed; a damaged cache is ignored and rebuilt,
never trusted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

        monkeypatch.setattr(validation, "code_digest", lambda: "another servespec")
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


_RESULTS = {"clean": None, "bad": "a problem", "kustomization": "resources"}


def _result(kind: str, rel: str) -> object:
    from servespec.cache.validation import CLEAN
    from servespec.errors import Problem

    if kind == "clean":
        return CLEAN
    if kind == "bad":
        return (), (Problem(f"rendered/dev/{rel}", None, "X x", "bad"),), ("a note",), 1, None
    return (), (), (), 0, ("a.yaml", "b")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.dictionaries(st.sampled_from([f"f{i}.yaml" for i in range(8)]),
                                                st.tuples(st.integers(0, 2), st.sampled_from(sorted(_RESULTS))), max_size=8),
                                st.integers(0, 1), st.integers(1, 20)), min_size=1, max_size=6))
def test_tables_and_deltas_read_back_as_the_last_results_put(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             steps: list[tuple[dict[str, tuple[int, str]], int, int]]) -> None:
    """Whatever sequence of changes (files added, changed, removed; keys changed), a new cache
    reads back exactly the last results put, through whole tables and deltas alike."""
    import servespec.cache.validation as validation
    from servespec.cache.validation import ValidationCache

    root = tmp_path / f"repo-{len(list(tmp_path.iterdir()))}"
    root.mkdir()
    last: dict[str, tuple[bytes, object]] | None = None
    last_key = b""
    for files, key_no, delta_max in steps:
        monkeypatch.setattr(validation, "DELTA_MAX", delta_max)
        key = b"key%d" % key_no
        cache = ValidationCache(root)
        earlier = cache.earlier("dev", key)
        if last is not None and key == last_key:
            assert {rel: (digest, earlier.result(rel)) for rel, digest in earlier.digests.items()} == last
        else:
            assert earlier.digests == {}
        digests = {rel: bytes([n]) * 20 for rel, (n, _kind) in files.items()}
        results = {rel: _result(kind, rel) for rel, (_n, kind) in files.items()}
        checked = [rel for rel in files if earlier.get(rel, digests[rel]) != results[rel]]
        results.update({rel: earlier.result(rel) for rel in files if rel not in checked})
        cache.put("dev", key, digests, results, checked, (b"listing", ()))  # type: ignore[arg-type]
        cache.save()
        last, last_key = {rel: (digests[rel], results[rel]) for rel in files}, key


def test_the_base_listing_is_kept_by_the_tree_id_of_rendered_at_base(example_git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Update-time rules compare with ``rendered/`` at ``--base``: its InferenceServices' blob ids
    are listed once per git tree of ``rendered/`` there, and listed again when that tree moves."""
    import servespec.validate.kserve as kserve
    from conftest import git

    repo = example_git_repo
    path = repo / "rendered/dev/models/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("deploymentMode: RawDeployment", "deploymentMode: Standard"))
    git(repo, "commit", "-qam", "what servespec rendered before it knew KServe versions")
    assert run_cli("render", "--root", repo).exit_code == 0
    listed: list[str] = []
    real = kserve.blob_ids_at
    monkeypatch.setattr(kserve, "blob_ids_at", lambda *args: listed.append("ls-tree") or real(*args))
    rejected = "an update to 'RawDeployment' is rejected"
    for expected_listings in (1, 1):  # the second validate lists nothing
        res = run_cli("validate", "--env", "dev", "--root", repo)
        assert res.exit_code == 1 and rejected in res.stderr and len(listed) == expected_listings
    (Path(repo_dir(str(repo.resolve()))) / "validate-base").write_bytes(b"damaged")
    (Path(repo_dir(str(repo.resolve()))) / "verdict-dev").unlink()  # else the verdict answers: nothing listed
    assert rejected in run_cli("validate", "--env", "dev", "--root", repo).stderr and len(listed) == 2
    git(repo, "commit", "-qam", "render")  # rendered/ at HEAD moves: listed again, nothing to reject
    assert run_cli("validate", "--env", "dev", "--root", repo).exit_code == 0 and len(listed) == 3


def test_the_files_changed_since_base_are_read_from_git_in_one_batch(example_git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Update-time rules need each changed InferenceService as committed at ``--base``: every
    one of them is read by one ``git cat-file --batch``, each finding on its own file."""
    import servespec.validate.kserve as kserve
    from conftest import git

    repo = example_git_repo
    models = repo / "rendered/dev/models"
    for name in ("fraud-detector", "llama3-chat"):  # committed with a mode 0.15 does not know: an update it rejects
        path = models / name / "inferenceservice.yaml"
        path.write_text(path.read_text().replace("deploymentMode: RawDeployment", "deploymentMode: Standard"))
    census = models / "census-income/inferenceservice.yaml"
    census.write_text(census.read_text() + "# committed with a comment: changed bytes, the same object\n")
    git(repo, "commit", "-qam", "an older render")
    assert run_cli("render", "--root", repo).exit_code == 0
    batches: list[list[str]] = []
    real = kserve.read_blobs
    monkeypatch.setattr(kserve, "read_blobs", lambda root, ids: batches.append(ids) or real(root, ids))
    res = run_cli("validate", "--env", "dev", "--no-cache", "--root", repo)
    assert res.exit_code == 1 and len(batches) == 1 and len(batches[0]) == 3, (batches, res.stderr)
    rejected = sorted(line.split("rendered/dev/models/")[1].split("/")[0] for line in res.stderr.splitlines()
                      if "an update to 'RawDeployment' is rejected" in line)
    assert rejected == ["fraud-detector", "llama3-chat"], res.stderr


def test_blobs_read_in_one_batch_are_the_committed_bytes(tmp_path: Path) -> None:
    from conftest import git
    from servespec.errors import GitError
    from servespec.gitcli import read_blobs

    contents = {"empty": b"", "lines": b"a\nb\n", "no-newline": b"x", "binary": bytes(range(256)) + b"\n\n"}
    git(tmp_path, "init", "-q")
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    ids = {name: file_digest(data).hex() for name, data in contents.items()}  # the git blob id
    git(tmp_path, "add", "-A")
    assert read_blobs(tmp_path, [ids["lines"], ids["binary"], ids["empty"], ids["no-newline"], ids["lines"]]) == {
        ids[name]: data for name, data in contents.items()}
    assert read_blobs(tmp_path, []) == {}
    with pytest.raises(GitError, match=f"cannot read blob {'0' * 40}: {'0' * 40} missing"):
        read_blobs(tmp_path, [ids["lines"], "0" * 40])
