"""Shard sizes (``sharding.py``): ``render`` and ``validate`` say when a shard holds more objects
than ``delivery.maxShardObjects``, with a ``shards:`` value that fits; servespec never changes the
count itself (a new count renames units, which restarts models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CRDS, run_cli
from servespec.emit.layout import shard_of
from servespec.sharding import shard_hash, shard_objects, shards_needed

SPEC = '''from servespec.spec import Model, Predictor, Resources

MODELS = [
    Model(name=f"m{i}", predictor=Predictor(model_format="sklearn", storage_uri=f"gs://bucket/m{i}",
          resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"})))
    for i in range(7)
]
'''
"""Seven models of 4 objects each (InferenceService, PodMonitor, PrometheusRule, dashboard):
with ``shards: 2``, shards/0 holds m0, m4, m5 (12 objects) and shards/1 m1, m2, m3, m6 (16)."""

OVERLAY = """namespace: ml-e
delivery:
  controller: flux
  repoUrl: https://git.example.com/ml/serving.git
{delivery}"""

TAIL = "(README \"Thousands of models\")"
RESTART = "renames the units and restarts their models: choose it once, with room to grow"


def _repo(tmp_path: Path, delivery: str) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "overlays").mkdir()
    (tmp_path / "specs" / "models.py").write_text(SPEC)
    (tmp_path / "overlays" / "e.yaml").write_text(OVERLAY.format(delivery=delivery))
    return tmp_path


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def test_render_and_validate_name_the_shards_over_the_bound_and_a_count_that_fits(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "  shards: 2\n  maxShardObjects: 8\n")
    expected = ("overlays/e.yaml:5: delivery.shards: 2 of 2 shards hold more than maxShardObjects (8) objects, the largest "
                f"shards/1 16 (4 models); shards: 6 keeps every shard of today's 7 models within it, but a new count {RESTART} {TAIL}")
    first = run_cli("render", "--root", repo)
    assert first.exit_code == 0, first.stderr
    assert _warnings(first.stderr) == [f"warning: {expected}"]
    assert _warnings(run_cli("render", "--root", repo).stderr) == [f"warning: {expected}"]  # the no-op path says it too
    assert _warnings(run_cli("render", "--check", "--root", repo).stderr) == [f"warning: {expected}"]
    checked = run_cli("validate", "--crds", CRDS, "--root", repo)
    assert checked.exit_code == 0, checked.stderr
    assert [line for line in checked.stderr.splitlines() if "delivery.shards" in line] == [f"note: {expected}"]
    # the suggested count keeps every shard within the bound, and render says nothing more
    overlay = repo / "overlays" / "e.yaml"
    overlay.write_text(overlay.read_text().replace("shards: 2", "shards: 6"))
    again = run_cli("render", "--root", repo)
    assert again.exit_code == 0 and _warnings(again.stderr) == []
    shards = shard_objects(p.relative_to(repo / "rendered/e").as_posix() for p in (repo / "rendered/e").rglob("*.yaml"))
    assert set(shards) <= {str(k) for k in range(6)} and max(sum(models.values()) for models in shards.values()) <= 8


def test_one_shard_over_the_bound(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "  shards: 2\n  maxShardObjects: 12\n")
    res = run_cli("render", "--root", repo)
    assert _warnings(res.stderr) == [
        "warning: overlays/e.yaml:5: delivery.shards: shards/1 holds 16 objects (4 models), more than maxShardObjects (12); "
        f"shards: 4 keeps every shard of today's 7 models within it, but a new count {RESTART} {TAIL}"]


@pytest.mark.parametrize(("bound", "fix"), [
    (4, "no shard count below 7 does; removing shards (one unit per model) does, but that "
        "renames the units and restarts their models: choose it once, with room to grow"),
    (3, "no count does: a model alone has 4 objects; raise maxShardObjects"),
], ids=["only-one-unit-per-model", "a-model-over-alone"])
def test_when_no_shard_count_fits(tmp_path: Path, bound: int, fix: str) -> None:
    repo = _repo(tmp_path, f"  shards: 2\n  maxShardObjects: {bound}\n")
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 0
    assert _warnings(res.stderr) == [
        f"warning: overlays/e.yaml:5: delivery.shards: 2 of 2 shards hold more than maxShardObjects ({bound}) objects, "
        f"the largest shards/1 16 (4 models); {fix} {TAIL}"]


@pytest.mark.parametrize("delivery", ["  shards: 2\n", "  maxShardObjects: 1\n"], ids=["default-bound", "no-shards"])
def test_no_warning_within_the_bound_or_without_shards(tmp_path: Path, delivery: str) -> None:
    repo = _repo(tmp_path, delivery)
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 0 and _warnings(res.stderr) == []


def test_a_bound_below_one_is_an_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "  shards: 2\n  maxShardObjects: 0\n")
    res = run_cli("render", "--root", repo)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "servespec: error: overlays/e.yaml:6: delivery.maxShardObjects: expected an integer >= 1, found 0"]


def test_shard_hash_is_what_the_layout_shards_by() -> None:
    for count in (1, 2, 7, 16, 230):
        width = len(str(count - 1))
        assert all(shard_of(f"model-{i}", count) == f"{shard_hash(f'model-{i}') % count:0{width}d}" for i in range(300))


def test_shard_objects_counts_the_files_of_each_model() -> None:
    paths = ["common/namespace.yaml", "kustomization.yaml", "shards/0/kustomization.yaml", "shards/0/a/inferenceservice.yaml",
             "shards/0/a/dashboard.yaml", "shards/0/b/inferenceservice.yaml", "shards/1/c/sub/x.yaml", "models/d/x.yaml"]
    assert shard_objects(paths) == {"0": {"a": 2, "b": 1}, "1": {"c": 1}}


def test_shards_needed_fits_from_the_start_it_is_given() -> None:
    objects = {f"model-{i:05d}": 8 if i % 10 == 0 else 4 for i in range(1000)}
    needed = shards_needed(objects, 40, 16)
    assert needed is not None and needed >= -(-sum(objects.values()) // 40)
    loads: dict[int, int] = {}
    for model, n in objects.items():
        loads[shard_hash(model) % needed] = loads.get(shard_hash(model) % needed, 0) + n
    assert max(loads.values()) <= 40
    assert shards_needed(objects, 40, needed) == needed  # a start that fits is the answer
    assert shards_needed({"a": 9}, 8, 1) is None
    assert shards_needed({"a": 4, "b": 4}, 4, 2) is None  # two models, one per shard: only no shards does
