"""Example Kubeflow Pipelines v2 pipeline: train -> evaluate -> release through git.

The seed tutorial's pipeline ended by applying the InferenceService to the cluster. Here the last
step only commits to the GitOps repo (``servespec release``): a canary of the new version at the
plan's first step, which Argo CD or Flux syncs and ``servespec promote`` advances on its gates.

Train and evaluate are tiny stand-ins for a team's real steps: train "uploads" the model and
returns its storage URI; evaluate fails the run when the accuracy is below ``min_accuracy``, so
the release step, which runs after it, only ever sees a model that passed. (A failed step rather
than ``dsl.If``: the run shows why nothing was released, and kfp's local runner, which the tests
use, does not resolve a condition on an upstream output.)

Compile to pipeline YAML (upload it in the Kubeflow Pipelines UI or with ``kfp`` client)::

    SERVESPEC_IMAGE=registry.example.com/ml/servespec:0.1.0 \\
        python pipelines/census_income_pipeline.py census_income_pipeline.yaml
"""

import os
import sys
from kfp import compiler, dsl

from servespec.pipelines.component import DEFAULT_IMAGE, release_component, use_git_token_secret

IMAGE = os.environ.get("SERVESPEC_IMAGE", DEFAULT_IMAGE)
"""Image of every step: servespec[kfp] and git installed (README: "Kubeflow Pipelines")."""

release_op = release_component(base_image=IMAGE)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(model_bucket: str, model_version: str) -> str:
    """Stand-in for training: returns the storage URI the trained model was saved to."""
    uri = f"{model_bucket.rstrip('/')}/{model_version}"
    print(f"trained census-income, saved to {uri}")
    return uri


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(storage_uri: str, min_accuracy: float) -> float:
    """Stand-in for evaluation: a fixed accuracy; below the threshold the step (and run) fails."""
    accuracy = 0.853
    print(f"{storage_uri}: accuracy {accuracy} (threshold {min_accuracy})")
    if accuracy < min_accuracy:
        raise SystemExit(f"evaluate: accuracy {accuracy} is below {min_accuracy}: not releasing {storage_uri}")
    return accuracy


@dsl.pipeline(name="census-income-train-and-release",
              description="Train and evaluate census-income, then start its canary by a commit to the GitOps repo.")
def census_income_pipeline(
    repo_url: str,
    model_version: str,
    env: str = "prod",
    branch: str = "main",
    pull_request: bool = True,
    model_bucket: str = "s3://census-income/serving_model",
    min_accuracy: float = 0.8,
    git_secret: str = "gitops-git-token",
) -> None:
    trained = train(model_bucket=model_bucket, model_version=model_version)
    evaluated = evaluate(storage_uri=trained.output, min_accuracy=min_accuracy)
    release = release_op(repo_url=repo_url, branch=branch, model="census-income", env=env,
                         storage_uri=trained.output, pull_request=pull_request).after(evaluated)
    release.set_display_name("release through git")
    # The git token comes from a Kubernetes Secret (key "token"), never from a parameter.
    use_git_token_secret(release, secret_name=git_secret)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "census_income_pipeline.yaml"
    compiler.Compiler().compile(census_income_pipeline, package_path=out)
    print(f"wrote {out}")
