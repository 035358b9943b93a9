"""``servespec diff [--base REF] [--env E] [--format text|markdown|json] [--exit-code]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--base", default="HEAD", show_default=True,
              help="Commit whose committed rendered/ is compared with a fresh render of the working tree (a PR: its merge base).")
@click.option("--env", "envs", multiple=True, help="Environment to compare (repeatable; default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text: summary, capacity and unified diffs; markdown: a pull-request comment; json: everything, for bots.")
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Exit 1 when anything changed, 0 when nothing did (like git diff --exit-code).")
@common_options
@click.pass_context
def diff(ctx: click.Context, base: str, envs: tuple[str, ...], fmt: str, exit_code: bool, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Show what the working tree changes in the rendered output, per environment and object
    (secrets masked), and in each environment's capacity and cost.

    \b
    Example:
      servespec diff --base origin/main --env prod --format markdown
    """
    from ..diff import diff_project, format_text, to_json  # GitPython: imported only here
    from ..diff_markdown import format_markdown

    root = resolve_root(ctx, cmd_root)
    report = diff_project(root, base, list(envs) or None)
    if fmt == "json":
        click.echo(json.dumps(to_json(report), indent=2, sort_keys=False, ensure_ascii=False))
    else:
        click.echo(format_markdown(report) if fmt == "markdown" else format_text(report), nl=False)
    if exit_code and report.changed:
        raise SystemExit(1)  # quietly, as git diff --exit-code (ctx.exit's code is dropped outside standalone mode)
