"""int32/int64 fields of the CRD schemas are bounded as the API server bounds them (issue 11, class 6)."""

from __future__ import annotations

from pathlib import Path

from conftest import CRDS, run_cli

ISVC = "rendered/prod/models/census-income/inferenceservice.yaml"


def test_an_int32_field_beyond_its_range_is_refused(example_repo: Path) -> None:
    path = example_repo / ISVC
    path.write_text(path.read_text().replace("    minReplicas: 3\n", "    minReplicas: 2147483648\n"))
    res = run_cli("validate", "--env", "prod", "--crds", CRDS, "--no-cache", "--root", example_repo)
    assert res.exit_code == 1
    assert ("servespec: error: rendered/prod/models/census-income/inferenceservice.yaml: env prod: InferenceService census-income: "
            "spec.predictor.minReplicas: 2147483648 is greater than the maximum of 2147483647") in res.stderr


def test_the_largest_int32_passes(example_repo: Path) -> None:
    path = example_repo / ISVC
    path.write_text(path.read_text().replace("    minReplicas: 3\n", "    minReplicas: 2147483647\n"))
    res = run_cli("validate", "--env", "prod", "--crds", CRDS, "--no-cache", "--root", example_repo)
    assert "is greater than the maximum" not in res.stderr
