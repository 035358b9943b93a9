"""``servespec init DIR [--repo-url URL] [--crds DIR] [--servespec-source REQ]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..init import DEFAULT_REPO_URL, init_repo
from ..install_source import EXAMPLE_SOURCE
from .common import cli


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--repo-url", default=None, help=f"Git URL Argo CD clones (default: {DEFAULT_REPO_URL}; edit overlays/ later).")
@click.option("--crds", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Copy these CRD files into crds/ so the new repo validates offline.")
@click.option("--servespec-source", "source", metavar="REQ", default=None,
              help=f"pip requirement the new repo's README and workflows install, e.g. \"{EXAMPLE_SOURCE}\" or "
                   "\"servespec==0.2.0\" (default: the running servespec: its git origin at the checked-out commit, "
                   "the git URL it was installed from, or its version from the package index).")
def init(directory: Path, repo_url: str | None, crds: Path | None, source: str | None) -> None:
    """Create a new servespec GitOps repo in DIRECTORY (new or empty): specs, overlays, workflows.

    \b
    Example:
      servespec init ml-serving --repo-url https://github.com/acme/ml-serving.git
    """
    result = init_repo(directory, repo_url, crds, source)
    click.echo(f"created {result.root}: {len(result.files)} files, {len(result.editor)} editor files, "
               f"{result.crds} CRDs, rendered {', '.join(result.envs)}")
    click.echo(f"servespec source: {result.servespec_source}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"next: cd {result.root} && git init -b main && git add -A && git commit -m 'servespec init'")
