"""``servespec validate``: schemas of built-in and custom kinds, unknown fields, policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CRDS, run_cli
from servespec.overlay import load_envs
from servespec.validate import SchemaRegistry, validate_objects

ISVC = "rendered/prod/models/census-income/inferenceservice.yaml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _validate(repo: Path) -> tuple[int, list[str]]:
    result = run_cli("validate", "--crds", CRDS, "--root", repo)
    return result.exit_code, result.stderr.splitlines()


def test_planted_unknown_field_in_a_crd_kind_is_caught(example_repo: Path) -> None:
    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [
        f"servespec: error: {ISVC}: env prod: InferenceService census-income: spec.predictor: "
        "Additional properties are not allowed ('canaryTrafficPercnt' was unexpected)"
    ]


def test_wrong_type_and_bad_enum_in_a_crd_kind(example_repo: Path) -> None:
    _edit(example_repo / ISVC, "      mode: all\n", "      mode: everything\n")
    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: three\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert f"servespec: error: {ISVC}: env prod: InferenceService census-income: spec.predictor.logger.mode: 'everything' is not one of ['all', 'request', 'response']" in lines
    assert f"servespec: error: {ISVC}: env prod: InferenceService census-income: spec.predictor.minReplicas: 'three' is not of type 'integer'" in lines


def test_metadata_of_a_crd_kind_is_checked_against_object_meta(example_repo: Path) -> None:
    _edit(example_repo / ISVC, "  namespace: ml-prod\n", "  namespace: ml-prod\n  nmae: x\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [
        f"servespec: error: {ISVC}: env prod: InferenceService census-income: metadata: "
        "Additional properties are not allowed ('nmae' was unexpected)"
    ]


def test_builtin_kind_strict_typo(example_repo: Path) -> None:
    sa = "rendered/prod/common/storage/minio/serviceaccount.yaml"
    _edit(example_repo / sa, "secrets:", "secretz:")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [f"servespec: error: {sa}: env prod: ServiceAccount kubeflow-minio-sa: (top level): Additional properties are not allowed ('secretz' was unexpected)"]


def test_plaintext_secret_refused_where_not_allowed(example_repo: Path) -> None:
    secret = (example_repo / "rendered/dev/common/storage/minio/secret.yaml").read_text().replace("namespace: anonymous", "namespace: ml-prod")
    (example_repo / "rendered/prod/common/storage/minio/secret.yaml").write_text(secret)
    _edit(example_repo / "rendered/prod/common/kustomization.yaml", "- storage/minio/externalsecret.yaml\n", "- storage/minio/externalsecret.yaml\n- storage/minio/secret.yaml\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == ["servespec: error: rendered/prod/common/storage/minio/secret.yaml: env prod: Secret kubeflow-minio-secret: plaintext secret data in git is refused in env 'prod' (allowPlaintextSecrets is false)"]


def test_limits_required_bad_names_and_listing(example_repo: Path) -> None:
    _edit(example_repo / ISVC, "        limits:\n          cpu: \"2\"\n", "        limits:\n")
    _edit(example_repo / ISVC, "  name: census-income\n", "  name: census.income\n")
    (example_repo / "rendered/prod/models/stray.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: ml-prod}\n")
    _edit(example_repo / "rendered/prod/kustomization.yaml", "- common\n", "- common\n- gone.yaml\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [
        "servespec: error: rendered/prod/models/stray.yaml: env prod: not listed in any kustomization.yaml: the controller would never apply it",
        "servespec: error: rendered/prod/kustomization.yaml: env prod: resources: lists 'gone.yaml', which does not exist",
        f"servespec: error: {ISVC}: env prod: InferenceService census.income: spec.predictor.model.resources.limits: env 'prod' requires limits, missing cpu",
        f"servespec: error: {ISVC}: env prod: InferenceService census.income: metadata.name: KServe 0.20: expected lower case alphanumeric "
        "characters or '-', starting with a letter and ending with an alphanumeric character (regex '[a-z]([-a-z0-9]*[a-z0-9])?'), "
        "found 'census.income'",
    ]


def test_unknown_kind_and_not_rendered(example_repo: Path) -> None:
    (example_repo / "rendered/prod/models/x.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n")
    _edit(example_repo / "rendered/prod/kustomization.yaml", "- common\n", "- common\n- models/x.yaml\n")
    import shutil

    shutil.rmtree(example_repo / "rendered/dev")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [
        "servespec: error: rendered/dev: env dev: not rendered: run `servespec render`",
        "servespec: error: rendered/prod/models/x.yaml: env prod: Widget x: no schema for example.com/v1 Widget (Kubernetes 1.31, the CRDs shipped for KServe 0.20, or a CRD in --crds)",
    ]


def test_library_validates_objects_directly(example_repo: Path) -> None:
    env = load_envs(example_repo, ["prod"])["prod"]
    registry = SchemaRegistry(CRDS)
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ml-prod"}, "strinData": {"a": "b"}}
    report = validate_objects([("x.yaml", obj)], env, registry)
    assert [str(p) for p in report.problems] == ["x.yaml: Secret s: (top level): Additional properties are not allowed ('strinData' was unexpected)"]
    # the validator is compiled once per kind and reused
    assert registry.validator("1.31", "v1", "Secret") is registry.validator("1.31", "v1", "Secret")


@pytest.mark.parametrize("use_cache", [True, False])
def test_crd_schema_cache_gives_the_same_answer(example_repo: Path, use_cache: bool) -> None:
    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")
    env = load_envs(example_repo, ["prod"])["prod"]
    import yaml

    obj = yaml.safe_load((example_repo / ISVC).read_text())
    registry = SchemaRegistry(CRDS, use_cache=use_cache)
    report = validate_objects([(ISVC, obj)], env, registry)
    assert [p.message for p in report.problems] == ["Additional properties are not allowed ('canaryTrafficPercnt' was unexpected)"]


def test_cached_validation_sees_every_change(example_repo: Path) -> None:
    """Results are reused only for unchanged files under unchanged settings and schemas."""
    assert _validate(example_repo)[0] == 0  # fills the cache
    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")
    code, lines = _validate(example_repo)
    assert code == 1 and len(lines) == 1 and "'canaryTrafficPercnt' was unexpected" in lines[0]
    _edit(example_repo / ISVC, "    canaryTrafficPercnt: 10\n", "")
    assert _validate(example_repo)[0] == 0
    # a policy change in the overlay re-checks files whose bytes did not change
    _edit(example_repo / "overlays/dev.yaml", "allowPlaintextSecrets: true", "allowPlaintextSecrets: false")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == ["servespec: error: rendered/dev/common/storage/minio/secret.yaml: env dev: Secret kubeflow-minio-secret: "
                     "plaintext secret data in git is refused in env 'dev' (allowPlaintextSecrets is false)"]
    # --no-cache gives the same verdict
    assert run_cli("validate", "--no-cache", "--crds", CRDS, "--root", example_repo).stderr.splitlines() == lines


def test_parallel_validation_gives_the_same_report(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import servespec.validate.tree as v

    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")
    env = load_envs(example_repo, ["prod"])["prod"]
    serial = v.validate_tree(example_repo, env, SchemaRegistry(CRDS))
    monkeypatch.setattr(v, "PARALLEL_FROM", 1)
    monkeypatch.setattr(v.os, "cpu_count", lambda: 2)
    parallel = v.validate_tree(example_repo, env, SchemaRegistry(CRDS))
    assert [str(p) for p in parallel.problems] == [str(p) for p in serial.problems] and len(serial.problems) == 1
    assert parallel.objects == serial.objects


def test_stray_files_in_rendered_output(example_repo: Path) -> None:
    (example_repo / "rendered/dev/common/notes.txt").write_text("hello\n")
    (example_repo / "rendered/dev/common/x.yaml").write_text("foo: bar\n")
    _edit(example_repo / "rendered/dev/common/kustomization.yaml", "resources:\n", "resources:\n- x.yaml\n")
    code, lines = _validate(example_repo)
    assert code == 1
    assert lines == [
        "servespec: error: rendered/dev/common/notes.txt: env dev: unexpected non-YAML file in rendered output",
        "servespec: error: rendered/dev/common/x.yaml: env dev: expected a Kubernetes object with apiVersion and kind",
    ]


def test_freshly_rendered_files_are_read_from_the_render_cache(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files whose bytes servespec just wrote are not parsed as YAML; any other file is."""
    import servespec.validate.tree as v

    assert run_cli("render", "--no-cache", "--root", example_repo).exit_code == 0
    assert run_cli("render", "--root", example_repo).exit_code == 0  # fills the render cache
    parsed_yaml: list[bytes] = []
    real = v.load_all
    monkeypatch.setattr(v, "load_all", lambda data: parsed_yaml.append(data) or real(data))
    assert run_cli("validate", "--crds", CRDS, "--root", example_repo).exit_code == 0
    model_files = [p for p in (example_repo / "rendered").rglob("models/*/*.yaml") if p.name != "kustomization.yaml"
                   and not (p.parent / "llminferenceservice.yaml").exists()]  # LLMs are not in the render cache
    assert model_files and not any(p.read_bytes() in parsed_yaml for p in model_files)
    _edit(example_repo / ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n")
    code, lines = _validate(example_repo)
    assert code == 1 and len(lines) == 1 and "'canaryTrafficPercnt' was unexpected" in lines[0]
    assert (example_repo / ISVC).read_bytes() in parsed_yaml


BROKEN = {
    "unknown-field": (ISVC, "    minReplicas: 3\n", "    minReplicas: 3\n    canaryTrafficPercnt: 10\n"),
    "wrong-type": (ISVC, "    minReplicas: 3\n", "    minReplicas: \"3\"\n"),
    "bad-enum": (ISVC, "      mode: all\n", "      mode: some\n"),
    "bad-pattern": ("rendered/prod/models/census-income/prometheusrule.yaml", "  - name: ", "  - partial_response_strategy: maybe\n    name: "),
    "bad-meta": ("rendered/prod/models/census-income/podmonitor.yaml", "  namespace: ml-prod\n", "  namespace: ml-prod\n  labelz: {}\n"),
    "builtin-typo": ("rendered/prod/common/storage/minio/serviceaccount.yaml", "secrets:", "secretz:"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_fast_and_python_validators_agree(example_repo: Path, case: str) -> None:
    """jsonschema-rs (the fast path) rejects exactly what jsonschema rejects, and accepts every
    object of the example repo; messages always come from jsonschema."""
    import yaml

    registry = SchemaRegistry(CRDS)
    for path in (example_repo / "rendered").rglob("*.yaml"):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj["kind"] == "Kustomization" and obj["apiVersion"].startswith("kustomize.config"):
                continue
            _source, checker = registry.validator("1.31", obj["apiVersion"], obj["kind"], "0.20")  # LLM kinds: shipped schemas
            assert checker.fast is not None and checker.fast.is_valid(obj), path
    file, old, new = BROKEN[case]
    _edit(example_repo / file, old, new)
    obj = yaml.safe_load((example_repo / file).read_text())
    _source, checker = registry.validator("1.31", obj["apiVersion"], obj["kind"])
    target = obj["metadata"] if case == "bad-meta" else obj
    checker = registry.object_meta("1.31") if case == "bad-meta" else checker
    assert not checker.fast.is_valid(target)
    assert list(checker.slow.iter_errors(target))
