"""``servespec render [--env E] [--check] [--no-cache]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..cache.specs import start_render
from ..errors import CheckFailed
from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--env", "envs", multiple=True, help="Environment to render (repeatable; default: all).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when rendered/ is stale.")
@click.option("--no-cache", is_flag=True, help="Render every model from scratch and read every file (ignore the render cache).")
@common_options
@click.pass_context
def render(ctx: click.Context, envs: tuple[str, ...], check: bool, no_cache: bool, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Render specs and overlays into rendered/<env>/.

    \b
    Examples:
      servespec render                   # every environment
      servespec render --env prod --check
    """
    root = resolve_root(ctx, cmd_root)
    started = start_render(root, check, not no_cache)  # the spec modules import in a child while the render is imported
    try:
        from ..render import render_repo

        report = render_repo(root, list(envs) or None, check=check, use_cache=not no_cache, started=started)
    finally:
        started[1].abandon()  # a child not taken over (an error came first) is stopped
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if check:
        for o in report.orphans:
            click.echo(f"rendered/{o}/: no overlays/{o}.yaml any more; `servespec render` deletes it")
        for diff in report.diffs.values():
            click.echo(diff, nl=False)
        stale = report.stale()
        if stale:
            raise CheckFailed(stale)
        click.echo(f"rendered/ is up to date ({', '.join(report.files)})")
        return
    for result in report.results:
        n = report.files[result.env]
        if result.unchanged:
            click.echo(f"{result.env}: unchanged ({n} files)")
        else:
            click.echo(f"{result.env}: {len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} removed ({n} files)")
    for orphan in report.orphans:
        click.echo(f"{orphan}: removed (no overlay)")
    if report.owners and report.owners.changed:
        click.echo(f"{report.owners.path}: code owners updated from the overlays")
