"""``servespec diff [--base REF] [--env E] [--format text|markdown]``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--base", default="HEAD", show_default=True,
              help="Commit whose committed rendered/ is compared with a fresh render of the working tree (a PR: its merge base).")
@click.option("--env", "envs", multiple=True, help="Environment to compare (repeatable; default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="text: summary and unified diffs; markdown: a pull-request comment.")
@common_options
@click.pass_context
def diff(ctx: click.Context, base: str, envs: tuple[str, ...], fmt: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Show what the working tree changes in the rendered output, per environment and object (secrets masked).

    \b
    Example:
      servespec diff --base origin/main --env prod --format markdown
    """
    from ..diff import diff_project, format_markdown, format_text  # GitPython: imported only here

    root = resolve_root(ctx, cmd_root)
    report = diff_project(root, base, list(envs) or None)
    click.echo(format_markdown(report) if fmt == "markdown" else format_text(report), nl=False)
