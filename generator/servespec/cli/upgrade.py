"""``servespec upgrade-check --env E --to VERSION``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from .common import cli, common_options, resolve_root


@cli.command("upgrade-check")
@click.option("--env", required=True, help="Environment whose KServe is upgraded.")
@click.option("--to", "to", required=True, help="Target KServe version, e.g. 0.20.")
@common_options
@click.pass_context
def upgrade_check(ctx: click.Context, env: str, to: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Render an environment for another KServe version: what changes, what it would refuse, the steps.

    \b
    Example:
      servespec upgrade-check --env staging --to 0.20
    """
    from ..upgrade import upgrade_check as check

    report = check(resolve_root(ctx, cmd_root), env, to)
    click.echo(f"{report.env}: KServe {report.current} -> {report.target}: {len(report.changed)} rendered field(s) change")
    for line in report.changed:
        click.echo(f"  {line}")
    if report.interim:
        click.echo(f"until the re-render is committed, KServe {report.target} rewrites or refuses in what the cluster has now:")
        for line in report.interim:
            click.echo(f"  {line}")
    if report.problems:
        raise CheckFailed(report.problems)
    click.echo("steps:")
    for i, step in enumerate(report.steps, 1):
        click.echo(f"  {i}. {step}")
