"""``servespec init DIR [--repo-url URL] [--crds DIR]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..init import DEFAULT_REPO_URL, init_repo
from .common import cli


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--repo-url", default=None, help=f"Git URL Argo CD clones (default: {DEFAULT_REPO_URL}; edit overlays/ later).")
@click.option("--crds", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Copy these CRD files into crds/ so the new repo validates offline.")
def init(directory: Path, repo_url: str | None, crds: Path | None) -> None:
    """Create a new servespec GitOps repo in DIRECTORY (new or empty): specs, overlays, workflows."""
    result = init_repo(directory, repo_url, crds)
    click.echo(f"created {result.root}: {len(result.files)} files, {result.crds} CRDs, rendered {', '.join(result.envs)}")
    click.echo(f"next: cd {result.root} && git init -b main && git add -A && git commit -m 'servespec init'")
