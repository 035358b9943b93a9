"""servespec in ML pipelines: release a freshly trained model by a commit to the GitOps repo.

- :mod:`.gitrelease` (no extra dependencies): clone, ``servespec release``, push; credentials
  from the environment.
- :mod:`.component` (``pip install 'servespec[kfp]'``): the Kubeflow Pipelines v2 component that
  runs it, and helpers that mount the git credentials from a Kubernetes Secret.
"""

from .gitrelease import GitCredentials, ReleaseResult, default_pr_branch, release_via_git

__all__ = ["GitCredentials", "ReleaseResult", "default_pr_branch", "release_via_git"]
