"""Serving runtimes as specs: pinned by digest, named with a hash of their spec, referenced by the models
that use them, pruned when nothing uses them; a runtime upgrade is one model's release at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git, run_cli
from servespec.spec import Runtime, SupportedModelFormat
from servespec.spec.runtime import runtime_hash
from surface_cases import isvc, make_repo, obj, overlay, problems, render, schema_errors

AUTHOR = "Rollout Bot <bot@servespec.invalid>"
D1, D2 = "1" * 64, "2" * 64
SPEC = '''VLLM = Runtime(name="vllm", image="registry.example.com/vllm@sha256:{digest}", cluster_scoped={cluster},
               supported_model_formats=[SupportedModelFormat(name="vLLM", version="1")], protocol_versions=["v2"],
               args=["--port=8080"], resources=Resources(limits={{"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}),
               annotations={{"prometheus.kserve.io/port": "8080"}})
A = Model(name="a", predictor=Predictor(model_format="vLLM", model_format_version="1", runtime=VLLM, protocol="v2", storage_uri="s3://a/v1"),
          service_account_name="reader")
B = Model(name="b", predictor=Predictor(model_format="vLLM", model_format_version="1", runtime=VLLM, protocol="v2", storage_uri="s3://b/v1"),
          service_account_name="reader")
C = Model(name="c", predictor=Predictor(model_format="sklearn", storage_uri="gs://c/v1"))
'''
PROD = overlay("0.20", "rollout:\n  plan: {steps: [10, 100], gates: []}\n")


def _name(digest: str, cluster: bool = False) -> str:
    rt = Runtime(name="vllm", image=f"registry.example.com/vllm@sha256:{digest}", cluster_scoped=cluster,
                 supported_model_formats=[SupportedModelFormat(name="vLLM", version="1")], protocol_versions=["v2"],
                 args=["--port=8080"], resources={"limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}},  # type: ignore[arg-type]
                 annotations={"prometheus.kserve.io/port": "8080"})
    return rt.rendered_name


def _repo(tmp_path: Path, digest: str = D1, cluster: bool = False, envs: dict[str, str] | None = None) -> Path:
    return make_repo(tmp_path, SPEC.format(digest=digest, cluster=cluster), envs or {"prod": PROD})


@pytest.mark.parametrize("kserve", ["0.14", "0.20"])
@pytest.mark.parametrize("cluster", [False, True], ids=["ServingRuntime", "ClusterServingRuntime"])
def test_a_runtime_renders_pinned_and_named_by_its_spec(tmp_path: Path, cluster: bool, kserve: str) -> None:
    repo = _repo(tmp_path, cluster=cluster, envs={"prod": overlay(kserve)})
    files = render(repo, "prod")
    name = _name(D1, cluster)
    assert name.startswith("vllm-") and len(name) == len("vllm-") + 8
    rt = obj(files, f"common/runtimes/{name}.yaml")
    assert rt["kind"] == ("ClusterServingRuntime" if cluster else "ServingRuntime") and ("namespace" in rt["metadata"]) is not cluster
    assert rt["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "servespec", "serving.servespec.io/runtime": "vllm"}
    assert rt["spec"] == {
        "annotations": {"prometheus.kserve.io/port": "8080"}, "protocolVersions": ["v2"],
        "supportedModelFormats": [{"name": "vLLM", "version": "1"}],
        "containers": [{"name": "kserve-container", "image": f"registry.example.com/vllm@sha256:{D1}", "args": ["--port=8080"],
                        "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}}]}
    assert isvc(files, "a")["spec"]["predictor"]["model"]["runtime"] == isvc(files, "b")["spec"]["predictor"]["model"]["runtime"] == name
    assert "runtime" not in isvc(files, "c")["spec"]["predictor"]["model"]
    assert schema_errors(repo, "prod", files) == []


def test_the_hash_follows_every_field_and_nothing_else(tmp_path: Path) -> None:
    assert _name(D1) == _name(D1) != _name(D2) != _name(D1, cluster=True)
    base = Runtime(name="x", image=f"r/x@sha256:{D1}", supported_model_formats=[SupportedModelFormat(name="f")])
    changed = base.model_copy(update={"args": ["--y"]})
    assert runtime_hash(base) == runtime_hash(Runtime.model_validate(base.model_dump())) != runtime_hash(changed)


def test_unused_runtimes_are_pruned_per_env(tmp_path: Path) -> None:
    no_vllm = overlay("0.20", "models:\n  a: {enabled: false}\n  b: {runtime: kserve-vllmserver}\n")
    repo = _repo(tmp_path, envs={"prod": PROD, "dev": no_vllm})
    assert [p for p in render(repo, "dev") if "runtimes/" in p] == []
    assert isvc(render(repo, "dev"), "b")["spec"]["predictor"]["model"]["runtime"] == "kserve-vllmserver"
    assert [p for p in render(repo, "prod") if "runtimes/" in p] == [f"common/runtimes/{_name(D1)}.yaml"]


def test_an_overlay_names_a_declared_runtime_by_its_base_name(tmp_path: Path) -> None:
    spec = SPEC.format(digest=D1, cluster=False).replace("runtime=VLLM, protocol", 'runtime="kserve-vllmserver", protocol', 1)
    repo = make_repo(tmp_path, spec, {"prod": overlay("0.20", "models:\n  a: {runtime: vllm}\n")})
    files = render(repo, "prod")
    assert isvc(files, "a")["spec"]["predictor"]["model"]["runtime"] == _name(D1)  # the Runtime spec B uses, pinned


RUNTIME_MISUSE: dict[str, tuple[str, list[str]]] = {
    "not-pinned": ('image="vllm/vllm-openai:v0.6.3", supported_model_formats=[SupportedModelFormat(name="vLLM")]',
                   ["specs/main.py:1: Runtime.image: expected an image pinned by digest (name@sha256:<64 hex>), found 'vllm/vllm-openai:v0.6.3'"]),
    "no-formats": (f'image="r/x@sha256:{D1}", supported_model_formats=[]',
                   ["specs/main.py:1: Runtime.supported_model_formats: expected at least one supported model format, found none"]),
    # RuntimeSupportsModel: kserve/kserve@v0.20.0:pkg/apis/serving/v1beta1/predictor_model.go:132-163
    "format-not-served": (f'image="r/x@sha256:{D1}", supported_model_formats=[SupportedModelFormat(name="sklearn")]',
                          ["specs/main.py: a.predictor.model_format: expected a format runtime vllm declares (sklearn), found 'vLLM:1'"]),
    # IsProtocolVersionSupported: kserve/kserve@v0.20.0:pkg/apis/serving/v1alpha1/servingruntime_types.go:304-314
    "protocol-not-spoken": (f'image="r/x@sha256:{D1}", supported_model_formats=[SupportedModelFormat(name="vLLM", version="1")], '
                            'protocol_versions=["v1"]',
                            ["specs/main.py: a.predictor.protocol: expected one of v1 (runtime vllm), found 'v2'"]),
}


@pytest.mark.parametrize("case", list(RUNTIME_MISUSE))
def test_runtime_misuse(tmp_path: Path, case: str) -> None:
    runtime, expected = RUNTIME_MISUSE[case]
    spec = (f'VLLM = Runtime(name="vllm", {runtime})\n'
            'A = Model(name="a", predictor=Predictor(model_format="vLLM", model_format_version="1", runtime=VLLM, protocol="v2"))\n')
    assert problems(make_repo(tmp_path, spec, {"dev": overlay()})) == [p.replace("specs/main.py:1:", "specs/main.py:2:") for p in expected]


def test_an_ambiguous_base_name_in_an_overlay_is_refused(tmp_path: Path) -> None:
    spec = SPEC.format(digest=D1, cluster=False).replace('model_format_version="1", runtime=VLLM, protocol="v2", storage_uri="s3://b/v1"',
                                                          'model_format_version="1", runtime=VLLM.model_copy(update={"args": []}), '
                                                          'protocol="v2", storage_uri="s3://b/v1"')
    repo = make_repo(tmp_path, spec, {"dev": overlay("0.20", "models:\n  c: {runtime: vllm}\n")})
    assert problems(repo) == ["overlays/dev.yaml:6: models.c.runtime: expected the name of one Runtime, found 'vllm', the name of 2 "
                              "(give them different names)"]


# -- a runtime upgrade ----------------------------------------------------------------------------------------
def _git_repo(repo: Path) -> Path:
    assert run_cli("render", "--root", repo).exit_code == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return repo


def _bump(repo: Path) -> None:
    spec = repo / "specs/main.py"
    spec.write_text(spec.read_text().replace(D1, D2))


def _diff(repo: Path) -> set[tuple[str, str, str]]:
    res = run_cli("diff", "--format", "json", "--root", repo)
    assert res.exit_code == 0, res.stderr
    return {(o["kind"], o["name"], o["status"]) for o in json.loads(res.stdout)["envs"]["prod"]["objects"] if o["kind"] != "Kustomization"}


def _isvc(repo: Path, model: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / f"rendered/prod/models/{model}/inferenceservice.yaml").read_text())
    return loaded


def test_bumping_a_runtime_image_changes_exactly_the_models_that_use_it(tmp_path: Path) -> None:
    repo = _git_repo(_repo(tmp_path))
    _bump(repo)
    assert _diff(repo) == {("InferenceService", "a", "changed"), ("InferenceService", "b", "changed"),
                           ("ServingRuntime", _name(D2), "added"), ("ServingRuntime", _name(D1), "removed")}  # not c


def test_a_runtime_upgrade_is_a_release_per_model(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    pins = "".join(f"  {m}: {{phase: stable, stable: 's3://{m}/v1', since: '2026-01-01T00:00:00Z', runtime: {_name(D1)}}}\n" for m in "ab")
    (repo / "overlays/prod.rollout.yaml").write_text("models:\n" + pins)
    repo = _git_repo(repo)
    before = {m: _isvc(repo, m) for m in "ab"}
    _bump(repo)
    assert run_cli("render", "--root", repo).exit_code == 0  # managed models keep their runtime: nothing restarts
    assert {m: _isvc(repo, m) for m in "ab"} == before and _diff(repo) == set()
    git(repo, "commit", "-qam", "bump vllm")
    res = run_cli("release", "a", "--env", "prod", "--storage-uri", "s3://a/v1", "--root", repo, "--author", AUTHOR)
    assert res.exit_code == 0, res.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == (
        f"release(prod/a): s3://a/v1 (runtime {_name(D1)} -> {_name(D2)}) at 10% (step 1/2)")
    a = _isvc(repo, "a")["spec"]["predictor"]
    assert (a["model"]["runtime"], a["canaryTrafficPercent"]) == (_name(D2), 10)  # the canary revision runs the new runtime
    assert _isvc(repo, "b") == before["b"]  # only a canaries
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "overlays/prod.rollout.yaml", "rendered/prod/common/kustomization.yaml", f"rendered/prod/common/runtimes/{_name(D2)}.yaml",
        "rendered/prod/models/a/inferenceservice.yaml"]
    runtimes = sorted(p.name for p in (repo / "rendered/prod/common/runtimes").iterdir())
    assert runtimes == sorted([f"{_name(D1)}.yaml", f"{_name(D2)}.yaml"])  # stable revisions still need the old one
    for m in "ab":
        if m == "b":
            assert run_cli("release", "b", "--env", "prod", "--storage-uri", "s3://b/v1", "--root", repo, "--author", AUTHOR).exit_code == 0
        assert run_cli("promote", m, "--env", "prod", "--root", repo, "--author", AUTHOR).exit_code == 0
    state = yaml.safe_load((repo / "overlays/prod.rollout.yaml").read_text())["models"]
    assert {m: (s["phase"], s["runtime"]) for m, s in state.items()} == {"a": ("stable", _name(D2)), "b": ("stable", _name(D2))}
    assert [p.name for p in (repo / "rendered/prod/common/runtimes").iterdir()] == [f"{_name(D2)}.yaml"]  # the old one is pruned


def test_a_pinned_runtime_is_carried_over_until_no_state_needs_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "overlays/prod.rollout.yaml").write_text(
        f"models:\n  a: {{phase: stable, stable: 's3://a/v1', since: '2026-01-01T00:00:00Z', runtime: {_name(D1)}}}\n")
    assert run_cli("render", "--root", repo).exit_code == 0
    old = (repo / f"rendered/prod/common/runtimes/{_name(D1)}.yaml").read_bytes()
    _bump(repo)
    assert run_cli("render", "--root", repo).exit_code == 0
    assert (repo / f"rendered/prod/common/runtimes/{_name(D1)}.yaml").read_bytes() == old  # carried over byte for byte
    assert (repo / f"rendered/prod/common/runtimes/{_name(D2)}.yaml").is_file()  # b runs the new one (no state)
    (repo / f"rendered/prod/common/runtimes/{_name(D1)}.yaml").unlink()
    assert problems(repo, "prod") == [
        f"overlays/prod.rollout.yaml:2: models.a.runtime: {_name(D1)} is pinned here, but no Runtime in specs/ has that spec and "
        f"rendered/prod/common/runtimes/{_name(D1)}.yaml is gone: restore the Runtime it was made from, or release a on the current one"]
