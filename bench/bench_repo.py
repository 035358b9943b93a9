"""The synthetic GitOps repo the benchmarks render: N models (six frameworks, transformers on a
quarter, rollout plans on a third, loggers on a fifth, monitoring on all) over dev/staging/prod."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["ENVS", "synth_repo", "edit_model", "git"]

ENVS = ("dev", "staging", "prod")
FORMATS = [
    ("sklearn", "1", "v1"), ("xgboost", "2", "v2"), ("tensorflow", None, "v1"),
    ("onnx", None, "v2"), ("pytorch", None, "v1"), ("lightgbm", None, "v2"),
]
PER_FILE = 50


def synth_repo(dest: Path, models: int) -> None:
    """A repo of ``models`` models in spec modules of 50, as a git repository with one commit."""
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
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "synthetic repo")


def edit_model(repo: Path, old: str, new: str) -> None:
    """Change the first model (model-00000): its first ``old`` becomes ``new``."""
    spec = repo / "specs" / "team_000.py"
    text = spec.read_text()
    assert old in text, old
    spec.write_text(text.replace(old, new, 1))


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
