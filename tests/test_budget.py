"""Overlay ``pricing`` and ``budget``: validation of what users write, cost figures, and budgets
checked by ``validate`` (exit 1 naming the key, the total, the bound and the biggest contributors)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from servespec.capacity import budget_problems, capacity, cost, describe, tree_objects
from servespec.errors import SpecError
from servespec.overlay import load_envs
from servespec.spec.cost import Budget, Pricing
from servespec.validate import SchemaRegistry, validate_tree


def _models(folder: Path) -> list[Any]:
    """The rendered objects of an env without the example's LLM (sized in test_capacity.py), so the
    numbers here stay those of the three models."""
    return [o for o in tree_objects(folder) if o.get("kind") != "LLMInferenceService"]

D = Decimal
PRICING = """pricing:
  currency: USD
  coreHour: 0.05
  gibHour: 0.01
  deviceHour: {nvidia.com/gpu: 2.5}
"""
BUDGET = """budget:
  hard:
    requests.cpu: "4"
    requests.memory: 16Gi
    pods: 10
    requests.nvidia.com/gpu: 1
  monthlyCost: 200
  atMaxReplicas:
    hard: {requests.cpu: "20", requests.nvidia.com/gpu: 1}
    monthlyCost: 1000
"""


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_pricing_and_budget_load_from_an_overlay(example_repo: Path) -> None:
    overlay = example_repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text() + PRICING + BUDGET)
    env = load_envs(example_repo, ["prod"])["prod"]
    assert env.overlay.pricing == Pricing(currency="USD", core_hour=D("0.05"), gib_hour=D("0.01"), device_hour={"nvidia.com/gpu": D("2.5")})
    budget = env.overlay.budget
    assert budget is not None and budget.hard == {"requests.cpu": "4", "requests.memory": "16Gi", "pods": "10", "requests.nvidia.com/gpu": "1"}
    assert budget.monthly_cost == D(200) and budget.at_max_replicas is not None and budget.at_max_replicas.monthly_cost == D(1000)
    assert env.where("budget", "hard", "requests.cpu") == ("overlays/prod.yaml", _line(overlay, 'requests.cpu: "4"'))


@pytest.mark.parametrize(("yaml_text", "field", "message"), [
    ("pricing: {currency: usd}\n", "pricing.currency", "expected an ISO 4217 currency code such as 'USD' or 'EUR', found 'usd'"),
    ("pricing: {coreHour: 0.05}\n", "pricing.currency", "required field is missing"),
    ("pricing: {currency: EUR, coreHour: -1}\n", "pricing.coreHour", "expected a non-negative number such as 0.0316, found -1"),
    ("pricing: {currency: EUR, gibHour: cheap}\n", "pricing.gibHour", "expected a non-negative number such as 0.0316, found 'cheap'"),
    ("pricing: {currency: EUR, cpu: 1}\n", "pricing.cpu", "unknown field"),
    ("pricing: {currency: EUR, basis: usage}\n", "pricing.basis", "expected 'requests' or 'limits', found 'usage'"),
    ("budget: {hard: {cpus: 4}}\n", "budget.hard.cpus.[key]",
     "expected 'pods', 'requests.<resource>' or 'limits.<resource>' (e.g. requests.cpu, limits.memory, requests.nvidia.com/gpu), found 'cpus'"),
    ("budget: {hard: {limits.nvidia.com/gpu: 1}}\n", "budget.hard.limits.nvidia.com/gpu.[key]",
     "expected requests.nvidia.com/gpu (ResourceQuota bounds only the requests of nvidia.com/gpu), found 'limits.nvidia.com/gpu'"),
    ("budget: {hard: {requests.cpu: lots}}\n", "budget.hard.requests.cpu", "expected a quantity such as '500m' or '1Gi', found 'lots'"),
    ("budget: {monthlyCost: true}\n", "budget.monthlyCost", "expected a non-negative number such as 0.0316, found True"),
    ("budget: {atMaxReplicas: {atMaxReplicas: {}}}\n", "budget.atMaxReplicas.atMaxReplicas", "unknown field"),
])
def test_bad_pricing_and_budget_are_one_line_each(example_repo: Path, yaml_text: str, field: str, message: str) -> None:
    overlay = example_repo / "overlays/dev.yaml"
    overlay.write_text(overlay.read_text() + yaml_text)
    with pytest.raises(SpecError) as exc:
        load_envs(example_repo, ["dev"])
    (problem,) = exc.value.problems
    assert (problem.file, problem.line, problem.field, problem.message) == ("overlays/dev.yaml", _line(overlay, yaml_text.split(":")[0] + ":"), field, message)


# -- cost ---------------------------------------------------------------------------------------------
def test_cost_of_the_example_prod_at_min_and_max(example_repo: Path) -> None:
    cap = capacity(_models(example_repo / "rendered/prod"))  # min 4.5 cores, 12 GiB; max 10.4 cores, 31 GiB
    got = cost(cap, Pricing(currency="USD", core_hour=D("0.05"), gib_hour=D("0.01")))
    assert got.hourly == {"min": D("0.82"), "max": D("1.85")}
    assert got.monthly == {"min": D("598.6"), "max": D("1350.5")} and got.unpriced == ("requests.nvidia.com/gpu",)  # llama3-chat
    by_limits = cost(cap, Pricing(currency="EUR", core_hour=D(1), basis="limits"))  # 22 and 55 cores of limits
    assert by_limits.hourly == {"min": D(22), "max": D(55)} and by_limits.currency == "EUR"


def test_devices_are_priced_by_name_and_unpriced_ones_named() -> None:
    gpu = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "ns"},
           "spec": {"replicas": 2, "template": {"spec": {"containers": [
               {"name": "c", "resources": {"limits": {"nvidia.com/gpu": 1, "amd.com/gpu": 2}}}]}}}}
    cap = capacity([gpu])
    got = cost(cap, Pricing(currency="USD", device_hour={"nvidia.com/gpu": D("2.48")}))
    assert got.hourly["min"] == D("4.96") and got.unpriced == ("requests.amd.com/gpu",)
    assert describe("requests.amd.com/gpu", cap.min["requests.amd.com/gpu"]) == "4 amd.com/gpu"


# -- budgets ---------------------------------------------------------------------------------------------
def _prod_with(example_repo: Path, text: str) -> tuple[Any, Path]:
    overlay = example_repo / "overlays/prod.yaml"
    overlay.write_text(overlay.read_text() + text)
    return load_envs(example_repo, ["prod"])["prod"], overlay


def test_over_budget_names_key_total_bound_and_contributors(example_repo: Path) -> None:
    env, overlay = _prod_with(example_repo, PRICING + BUDGET)
    got = [str(p) for p in budget_problems("prod", env.overlay, _models(example_repo / "rendered/prod"), env.where)]
    cpu, at_max = _line(overlay, 'requests.cpu: "4"'), _line(overlay, 'hard: {requests.cpu: "20"')
    assert got == [
        f"overlays/prod.yaml:{cpu}: budget.hard.requests.cpu: expected at most 4 cores at min replicas, "
        "found 9 cores; most from llama3-chat 4, fraud-detector 2, census-income 1.5",
        f"overlays/prod.yaml:{_line(overlay, 'requests.memory: 16Gi')}: budget.hard.requests.memory: expected at most 16 GiB at min "
        "replicas, found 37 GiB; most from llama3-chat 24 GiB, census-income 6 GiB, fraud-detector 4 GiB",
        f"overlays/prod.yaml:{_line(overlay, 'monthlyCost: 200')}: budget.monthlyCost: expected at most 200.00 USD a month at min replicas, "
        "found 2,423.60; most from llama3-chat 2,146.20, fraud-detector 102.20, census-income 98.55",
        f"overlays/prod.yaml:{at_max}: budget.atMaxReplicas.hard.requests.cpu: expected at most 20 cores "
        "at max replicas, found no maximum: sklearn-iris explainer (maxReplicas unset)",
        f"overlays/prod.yaml:{at_max}: budget.atMaxReplicas.hard.requests.nvidia.com/gpu: expected at most 1 nvidia.com/gpu "
        "at max replicas, found 2 nvidia.com/gpu; most from llama3-chat 2",
        f"overlays/prod.yaml:{_line(overlay, 'monthlyCost: 1000')}: budget.atMaxReplicas.monthlyCost: expected at most 1,000.00 USD a month "
        "at max replicas, found no maximum: sklearn-iris explainer (maxReplicas unset)",
    ]  # pods (10 of 10) and GPUs at min replicas (1 of 1) are within the budget


def test_budget_within_bounds_and_without_pricing(example_repo: Path) -> None:
    objs = _models(example_repo / "rendered/prod")
    roomy = Budget(hard={"requests.cpu": "13", "limits.memory": "74Gi", "pods": "12"},
                   at_max_replicas={"hard": {"requests.nvidia.com/gpu": "4"}})  # type: ignore[arg-type]
    assert budget_problems("prod", _Overlay(None, roomy), objs) == []  # at the bound is within it
    unpriced = Budget(monthly_cost=D(10))
    (problem,) = budget_problems("prod", _Overlay(None, unpriced), objs)
    assert str(problem) == "overlays/prod.yaml: budget.monthlyCost: expected a pricing section to put a price on capacity, found none"


class _Overlay:
    def __init__(self, pricing: Pricing | None, budget: Budget | None):
        self.pricing, self.budget = pricing, budget


def test_objects_are_not_read_without_a_budget() -> None:
    def boom() -> Iterator[dict[str, Any]]:
        raise AssertionError("read")
        yield {}

    assert budget_problems("dev", _Overlay(None, None), boom()) == []
    with pytest.raises(AssertionError, match="read"):
        budget_problems("dev", _Overlay(None, Budget()), boom())


PERMISSIVE_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.{group}}}
spec:
  group: {group}
  names: {{kind: {kind}, plural: {plural}}}
  scope: Namespaced
  versions:
  - name: {version}
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def _crds(folder: Path) -> Path:
    folder.mkdir()
    for group, version, kind in (("argoproj.io", "v1alpha1", "Application"), ("argoproj.io", "v1alpha1", "ApplicationSet"),
                                 ("serving.kserve.io", "v1beta1", "InferenceService")):
        (folder / f"{kind}.yaml").write_text(PERMISSIVE_CRD.format(group=group, version=version, kind=kind, plural=kind.lower() + "s"))
    return folder


def test_validate_fails_over_budget(example_repo: Path, tmp_path: Path) -> None:
    crds = _crds(tmp_path / "crds")
    ok = run_cli("validate", "--env", "dev", "--crds", crds, "--root", example_repo)
    assert ok.exit_code == 0 and ok.stdout.endswith(" objects valid\n"), ok.stderr
    overlay = example_repo / "overlays/dev.yaml"
    overlay.write_text(overlay.read_text() + "budget:\n  hard: {requests.cpu: \"1\", requests.memory: 32Gi}\n")
    res = run_cli("validate", "--env", "dev", "--crds", crds, "--root", example_repo)
    assert res.exit_code == 1
    assert res.stderr == (f"servespec: error: overlays/dev.yaml:{_line(overlay, 'requests.cpu')}: env dev: budget.hard.requests.cpu: "
                          "expected at most 1 core at min replicas, found 6.11 cores; most from llama3-chat 4, sklearn-iris 1, "
                          "fraud-detector 0.5\n")
    env = load_envs(example_repo, ["dev"])["dev"]
    report = validate_tree(example_repo, env, SchemaRegistry(crds))  # the library call validate makes, without its cache
    assert [p.field for p in report.problems] == ["budget.hard.requests.cpu"]
