"""The Kubeflow Pipelines v2 component that releases a model through git (``servespec[kfp]``).

    from servespec.pipelines.component import release_component, use_git_token_secret

    release_op = release_component(base_image="registry.example.com/ml/servespec:0.1.0")
    task = release_op(repo_url="https://git.example.com/ml/gitops.git", branch="main",
                      model="census-income", env="prod", storage_uri=train.output)
    use_git_token_secret(task, secret_name="gitops-git-token")

The step never touches the cluster: it clones the GitOps repo, runs ``servespec release`` there
(one commit: the rollout state file and the re-rendered environment) and pushes it to ``branch``
or, with ``pull_request=True``, to a new branch for review. Argo CD or Flux does the rest, and
``servespec promote``/``rollback`` take the canary from there. Credentials come from a Kubernetes
Secret (:func:`use_git_token_secret`, :func:`use_git_ssh_secret`), never from parameters.
"""

from typing import Any, NamedTuple

try:
    from kfp import dsl
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("servespec.pipelines.component needs Kubeflow Pipelines: pip install 'servespec[kfp]'") from exc

__all__ = ["DEFAULT_IMAGE", "release_component", "release_model", "use_git_token_secret", "use_git_ssh_secret",
           "TOKEN_ENV", "USERNAME_ENV", "SSH_KEY_ENV", "KNOWN_HOSTS_ENV"]

DEFAULT_IMAGE = "servespec:0.1.0"
"""Placeholder image name: build an image with ``servespec[kfp]`` and git in it (README) and pass
it to :func:`release_component`."""

TOKEN_ENV = "SERVESPEC_GIT_TOKEN"
USERNAME_ENV = "SERVESPEC_GIT_USERNAME"
SSH_KEY_ENV = "SERVESPEC_GIT_SSH_KEY"
KNOWN_HOSTS_ENV = "SERVESPEC_GIT_KNOWN_HOSTS"


def release_model(
    repo_url: str,
    model: str,
    env: str,
    storage_uri: str,
    branch: str = "main",
    pull_request: bool = False,
    pr_branch: str = "",
    root_dir: str = "",
    author: str = "",
) -> NamedTuple("Outputs", [("commit", str), ("branch", str)]):  # type: ignore[valid-type]  # kfp reads this form
    """Start a canary of ``storage_uri`` for ``model`` in ``env`` by a commit to the GitOps repo.

    Args:
        repo_url: GitOps repo to clone and push to (https://, ssh:// or file://), without credentials.
        model: Model name as declared in the repo's specs/.
        env: Environment (overlays/<env>.yaml).
        storage_uri: The new model version (s3://, gs://, pvc://, ...), e.g. the training step's output.
        branch: Branch to clone; the release commit is pushed to it unless pull_request.
        pull_request: Push to a new branch (pr_branch) for a pull request instead of to branch.
        pr_branch: Name of that new branch (default: servespec/release-<env>-<model>-<hash of URI>).
        root_dir: Folder of the servespec repo inside the GitOps repo (default: its top).
        author: Commit author "Name <email>" (default: servespec pipeline).

    Returns:
        commit: The release commit pushed ("" when the URI was already stable: nothing to do).
        branch: The branch it was pushed to.
    """
    from collections import namedtuple

    from servespec.pipelines.gitrelease import run_step

    commit, pushed = run_step(repo_url, branch, model, env, storage_uri, pull_request=pull_request,
                              pr_branch=pr_branch, root_dir=root_dir, author=author)
    return namedtuple("Outputs", ["commit", "branch"])(commit, pushed)  # type: ignore[call-arg]


def release_component(base_image: str = DEFAULT_IMAGE) -> Any:
    """The release component running in ``base_image`` (which must have ``servespec[kfp]`` and git
    installed: nothing is pip-installed at run time)."""
    return dsl.component(release_model, base_image=base_image, install_kfp_package=False)


def use_git_token_secret(task: Any, secret_name: str, token_key: str = "token", username_key: str | None = None) -> Any:
    """Give ``task`` an HTTPS token from the Kubernetes Secret ``secret_name`` (key ``token_key``)
    as ``SERVESPEC_GIT_TOKEN`` (and the user name from ``username_key``, if given)."""
    from kfp import kubernetes

    mapping = {token_key: TOKEN_ENV}
    if username_key:
        mapping[username_key] = USERNAME_ENV
    return kubernetes.use_secret_as_env(task, secret_name=secret_name, secret_key_to_env=mapping)


def use_git_ssh_secret(task: Any, secret_name: str, mount_path: str = "/etc/servespec/git-ssh",
                       key_file: str = "ssh-privatekey", known_hosts_file: str = "known_hosts") -> Any:
    """Mount the Kubernetes Secret ``secret_name`` (a ``kubernetes.io/ssh-auth`` Secret with an
    extra ``known_hosts`` key) at ``mount_path`` and point the step at the key and known_hosts."""
    from kfp import kubernetes

    kubernetes.use_secret_as_volume(task, secret_name=secret_name, mount_path=mount_path)
    task.set_env_variable(SSH_KEY_ENV, f"{mount_path.rstrip('/')}/{key_file}")
    task.set_env_variable(KNOWN_HOSTS_ENV, f"{mount_path.rstrip('/')}/{known_hosts_file}")
    return task
