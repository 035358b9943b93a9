"""Every mistake in a spec or overlay: exit 2, one asserted line per problem, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from servespec.render import read_tree


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


CASES = {
    "overlay-unknown-key-and-wrong-type": (
        lambda r: _append(r / "overlays/prod.yaml", "  sklearn-iris:\n    minReplica: 2\n    maxReplicas: \"3\"\n"),
        [
            "overlays/prod.yaml:37: models.sklearn-iris.maxReplicas: expected an integer, found '3'",
            "overlays/prod.yaml:36: models.sklearn-iris.minReplica: unknown field",
        ],
    ),
    "overlay-negative-replicas": (
        lambda r: _edit(r / "overlays/staging.yaml", "  census-income:\n    minReplicas: 2", "  census-income:\n    minReplicas: -2"),
        ["overlays/staging.yaml:23: models.census-income.minReplicas: expected an integer >= 0, found -2"],
    ),
    "overlay-min-above-max": (
        lambda r: _edit(r / "overlays/prod.yaml", "    maxReplicas: 10\n    resources", "    maxReplicas: 2\n    resources"),
        ["overlays/prod.yaml:27: models.census-income.predictor: min_replicas (3) must not exceed max_replicas (2)"],
    ),
    "overlay-duplicate-key": (
        lambda r: _append(r / "overlays/dev.yaml", "namespace: other\n"),
        ["overlays/dev.yaml:23: namespace: duplicate key (first on line 3)"],
    ),
    "overlay-invalid-yaml": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: [qa\n"),
        ["overlays/qa.yaml:2: invalid YAML: did not find expected ',' or ']'"],
    ),
    "overlay-binary": (
        lambda r: (r / "overlays/qa.yaml").write_bytes(b"\xff\xfe namespace: qa\n"),
        ["overlays/qa.yaml: expected UTF-8 text, found binary data"],
    ),
    "overlay-not-a-mapping": (
        lambda r: (r / "overlays/qa.yaml").write_text("- namespace\n"),
        ["overlays/qa.yaml:1: expected a mapping of settings, found list"],
    ),
    "overlay-missing-namespace": (
        lambda r: (r / "overlays/qa.yaml").write_text("kubernetesVersion: \"1.30\"\n"),
        ["overlays/qa.yaml: namespace: required field is missing"],
    ),
    "overlay-bad-namespace-name": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: ML_QA\n"),
        ["overlays/qa.yaml:1: namespace: expected a DNS-1035 label"],
    ),
    "overlay-unknown-credentials-source": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nstorage:\n  minio:\n    credentials: {source: vault}\n"),
        ["overlays/qa.yaml:4: storage.minio.credentials: expected 'source' to be one of 'externalSecret', 'sealedSecret', 'existingSecret', 'plaintext', found 'vault'"],
    ),
    "overlay-boolean-annotation": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\ndefaults:\n  annotations: {sidecar.istio.io/inject: false}\n"),
        ["overlays/qa.yaml:3: defaults.annotations.sidecar.istio.io/inject: expected a string, found false (a boolean; quote it to make a string)"],
    ),
    "overlay-bad-version": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nkubernetesVersion: 1.3O\n"),
        ["overlays/qa.yaml:2: kubernetesVersion: expected a version such as \"1.30\", found '1.3O'"],
    ),
    "overlay-unknown-model-and-storage": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nmodels:\n  ghost: {minReplicas: 1}\n  census-income: {storage: s3x}\nstorage:\n  gcs: {region: eu}\n"),
        [
            "overlays/qa.yaml:3: models.ghost: unknown model (declared: census-income, fraud-detector, sklearn-iris)",
            "overlays/qa.yaml:4: models.census-income.storage: unknown storage endpoint 's3x' (declared: minio)",
            "overlays/qa.yaml:6: storage.gcs: unknown storage endpoint (declared: minio)",
        ],
    ),
    "overlay-steps-not-increasing": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    steps: [50, 25, 100]\n"),
        ["overlays/qa.yaml:4: rollout.plan.steps: expected strictly increasing percentages in 1..100, found [50, 25, 100]"],
    ),
    "overlay-steps-not-ending-at-100": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    steps: [10, 50]\n"),
        ["overlays/qa.yaml:4: rollout.plan.steps: expected steps ending at 100, found [10, 50]"],
    ),
    "overlay-bad-duration": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    bakeTime: 5 minutes\n"),
        ["overlays/qa.yaml:4: rollout.plan.bakeTime: expected a Prometheus duration such as \"5m\" or \"1h30m\", found '5 minutes'"],
    ),
    "overlay-gate-bad-placeholder": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    gates:\n      - {name: e, query: 'up{x=\"$bogus\"}', max: 1}\n"),
        ["overlays/qa.yaml:5: rollout.plan.gates[0].query: expected only the placeholders $namespace, $model, $window, $version, $canary, $stable in the query, found a bad one ('bogus')"],
    ),
    "overlay-gate-min-above-max": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    gates:\n      - {name: e, query: up, min: 2, max: 1}\n"),
        ["overlays/qa.yaml:5: rollout.plan.gates[0]: expected min <= max, found min 2.0 > max 1.0"],
    ),
    "overlay-gate-no-bounds": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    gates:\n      - {name: e, query: up}\n"),
        ["overlays/qa.yaml:5: rollout.plan.gates[0]: expected min, max or both, found neither"],
    ),
    "overlay-gate-cannot-fail": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    gates:\n      - {name: e, query: up, max: 1, samples: 2, failureLimit: 2}\n"),
        ["overlays/qa.yaml:5: rollout.plan.gates[0]: expected failureLimit < samples (2), found 2: the gate could never fail"],
    ),
    "overlay-gate-duplicate-names": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nrollout:\n  plan:\n    gates:\n      - {name: e, query: up, max: 1}\n      - {name: e, query: up, max: 2}\n"),
        ["overlays/qa.yaml:4: rollout.plan.gates: expected unique gate names, found e twice"],
    ),
    "overlay-delivery-path-escapes": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\ndelivery: {controller: flux, repoUrl: 'https://g/x.git', path: ../up}\n"),
        ["overlays/qa.yaml:2: delivery: expected path relative to the git root, found '../up'"],
    ),
    "overlay-delivery-without-repo": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\ndelivery: {controller: flux}\n"),
        ["overlays/qa.yaml:2: delivery: expected repoUrl (the git URL flux clones) when controller is 'flux', found none"],
    ),
    "overlay-unknown-resource": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nmodels:\n  census-income:\n    resources: {requests: {gpu: '1'}}\n"),
        ["overlays/qa.yaml:4: models.census-income.resources.requests: expected one of ['amd.com/gpu', 'cpu', 'ephemeral-storage', 'memory', 'nvidia.com/gpu'], found 'gpu'"],
    ),
    "overlay-negative-quantity": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nmodels:\n  census-income:\n    resources: {requests: {cpu: '-1'}}\n"),
        ["overlays/qa.yaml:4: models.census-income.resources.requests.cpu: expected a non-negative quantity, found '-1'"],
    ),
    "overlay-bad-label-key": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\ndefaults:\n  labels: {'bad key!': x}\n"),
        ["overlays/qa.yaml:3: defaults.labels: expected a Kubernetes label/annotation key, found 'bad key!'"],
    ),
    "overlay-bad-metric-unit": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nmonitoring: {metrics: {requestLatenciesUnit: h}}\n"),
        ["overlays/qa.yaml:2: monitoring.metrics.requestLatenciesUnit: expected 'ms' or 's', found 'h'"],
    ),
    "spec-storage-without-credentials": (
        lambda r: (r / "specs/storage.py").write_text('from servespec.spec import S3Storage\n\nMINIO = S3Storage(name="minio", endpoint="minio:9000")\n'),
        # only the cause: references to "minio" are not checked while a module failed to load
        ["specs/storage.py:3: S3Storage: expected credentials (or anonymous: true), found none"],
    ),
    "plaintext-refused": (
        lambda r: _edit(r / "overlays/dev.yaml", "allowPlaintextSecrets: true", "allowPlaintextSecrets: false"),
        ["overlays/dev.yaml:13: storage.minio.credentials: plaintext credentials are refused in env 'dev': use externalSecret, sealedSecret or existingSecret (allowPlaintextSecrets: true is for a local demo only)"],
    ),
    "spec-bad-name": (
        lambda r: _edit(r / "specs/census_income.py", 'name="census-income"', 'name="Census_Income"'),
        ["specs/census_income.py:7: Model.name: expected a DNS-1035 label (lower-case letters, digits and '-', starting with a letter, at most 63 characters), found 'Census_Income'"],
    ),
    "spec-negative-replicas": (
        lambda r: _edit(r / "specs/census_income.py", "min_replicas=1,", "min_replicas=-1,"),
        ["specs/census_income.py:10: Predictor.min_replicas: expected an integer >= 0, found -1"],
    ),
    "spec-bad-quantity": (
        lambda r: _edit(r / "specs/census_income.py", '"cpu": "0.1"', '"cpu": "lots"'),
        ["specs/census_income.py:15: Resources.requests.cpu: expected a quantity such as '500m' or '1Gi', found 'lots'"],
    ),
    "spec-unknown-keyword": (
        lambda r: _edit(r / "specs/census_income.py", "min_replicas=1,", "min_replica=1,"),
        ["specs/census_income.py:10: Predictor.min_replica: unknown field"],
    ),
    "spec-wrong-type": (
        lambda r: _edit(r / "specs/census_income.py", "min_replicas=1,", 'min_replicas="1",'),
        ["specs/census_income.py:10: Predictor.min_replicas: expected an integer, found '1'"],
    ),
    "spec-bad-storage-uri": (
        lambda r: _edit(r / "specs/census_income.py", 's3://census-income', 'ftp://census-income'),
        ["specs/census_income.py:10: Predictor.storage_uri: expected a URI starting with one of gs://"],
    ),
    "spec-missing-storage-endpoint": (
        lambda r: _edit(r / "specs/census_income.py", 'storage="minio",', 'storage="nope",'),
        ["specs/census_income.py: census-income.storage: expected the name of a declared S3Storage (minio), found 'nope'"],
    ),
    "spec-s3-without-storage": (
        lambda r: _edit(r / "specs/census_income.py", 'storage="minio",', ""),
        [f"specs/census_income.py: census-income.storage: expected a storage endpoint for 's3://census-income/serving_model' (env {env}), found none"
         for env in ("dev", "prod", "staging")],
    ),
    "spec-raises": (
        lambda r: _append(r / "specs/census_income.py", 'raise RuntimeError("boom")\n'),
        ["specs/census_income.py:26: importing the spec raised RuntimeError: boom"],
    ),
    "spec-broken-import": (
        lambda r: _append(r / "specs/census_income.py", "import not_a_module_xyz\n"),
        ["specs/census_income.py:26: importing the spec raised ModuleNotFoundError: No module named 'not_a_module_xyz'"],
    ),
    "spec-calls-sys-exit": (
        lambda r: _append(r / "specs/census_income.py", "import sys\nsys.exit(0)\n"),
        ["specs/census_income.py:27: importing the spec raised SystemExit: 0"],
    ),
    "overlay-bad-secret-name": (
        lambda r: (r / "overlays/qa.yaml").write_text("namespace: qa\nstorage:\n  minio:\n    secretName: Bad_Name\n"),
        ["overlays/qa.yaml:4: storage.minio.secretName: expected a DNS-1123 subdomain name, found 'Bad_Name'"],
    ),
    "spec-syntax-error": (
        lambda r: _append(r / "specs/census_income.py", "def (\n"),
        ["specs/census_income.py:26: syntax error: invalid syntax"],
    ),
    "spec-duplicate-model": (
        lambda r: (r / "specs/copy.py").write_text((r / "specs/census_income.py").read_text()),
        ["specs/copy.py: census-income: duplicate model name (also declared in specs/census_income.py)"],
    ),
    "spec-limits-required": (
        lambda r: _edit(r / "specs/census_income.py", 'limits={"cpu": "1", "memory": "1Gi"},', 'limits={"memory": "1Gi"},'),
        ["specs/census_income.py: census-income.predictor.resources.limits: env 'staging' requires resource limits: expected cpu and memory, missing cpu"],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_exits_2_with_located_message_and_touches_nothing(example_repo: Path, case: str) -> None:
    break_it, expected = CASES[case]
    before = read_tree(example_repo / "rendered")
    break_it(example_repo)
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    for message in expected:
        assert any(line.startswith(f"servespec: error: {message}") for line in lines), (message, lines)
    assert len(lines) == len(expected), lines
    assert "Traceback" not in result.stderr
    assert read_tree(example_repo / "rendered") == before


def test_unknown_env_is_a_usage_error(example_repo: Path) -> None:
    result = run_cli("render", "--env", "qa", "--root", example_repo)
    assert result.exit_code == 2
    assert result.stderr == "servespec: error: overlays/: unknown environment 'qa' (known: dev, prod, staging)\n"


def test_not_a_repo(tmp_path: Path) -> None:
    result = run_cli("render", "--root", tmp_path)
    assert result.exit_code == 2
    assert "not a servespec repo: expected specs/ and overlays/ here or above (use --root DIR)" in result.stderr


def test_unknown_option_is_exit_2(example_repo: Path) -> None:
    result = run_cli("render", "--bogus", "--root", example_repo)
    assert result.exit_code == 2
    assert "No such option '--bogus'" in result.stderr


def test_debug_shows_the_traceback(example_repo: Path) -> None:
    _append(example_repo / "specs/census_income.py", 'raise RuntimeError("boom")\n')
    result = run_cli("--debug", "render", "--root", example_repo)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "importing the spec raised RuntimeError: boom" in result.stderr
