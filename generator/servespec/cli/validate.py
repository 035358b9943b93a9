"""``servespec validate [--env E] [--crds DIR] [--no-cache]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--env", "envs", multiple=True, help="Environment to validate (repeatable; default: all).")
@click.option("--crds", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of CustomResourceDefinitions for custom kinds (e.g. ../shared/crds).")
@click.option("--no-cache", is_flag=True, help="Check every file again (ignore earlier results for unchanged files).")
@click.option("--base", default="HEAD", show_default=True,
              help="Commit whose rendered/ is the previous state for KServe's update-time rules (in a pull request: the target branch).")
@common_options
@click.pass_context
def validate(ctx: click.Context, envs: tuple[str, ...], crds: Path | None, no_cache: bool, base: str, cmd_root: Path | None,
             cmd_debug: bool) -> None:
    """Validate every object in rendered/ against its schema and servespec's policies.

    \b
    Example:
      servespec validate --env prod --crds crds
    """
    from ..validate import validate_repo  # jsonschema: imported only here

    report = validate_repo(resolve_root(ctx, cmd_root), list(envs) or None, crds, use_cache=not no_cache,
                           note=lambda text: click.echo(f"note: {text}", err=True), base=base)
    if report.problems:
        raise CheckFailed(report.problems)
    click.echo(f"{report.objects} objects valid")
