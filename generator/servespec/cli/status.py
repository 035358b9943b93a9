"""``servespec status [--env E] [--output json]``: where every model's rollout stands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..emit import build_context
from ..project import Project
from ..rollout import status_rows
from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--env", "envs", multiple=True, help="Environment (repeatable; default: all).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format.")
@common_options
@click.pass_context
def status(ctx: click.Context, envs: tuple[str, ...], output: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Stable and candidate version, traffic, step, phase and last gate of every model.

    \b
    Example:
      servespec status --env prod --output json
    """
    root = resolve_root(ctx, cmd_root)
    project = Project.load(root, list(envs) or None)
    rows = []
    for env in project.envs:
        c = build_context(project, env)
        rows.extend(status_rows(c.env, c.models, c.rollout))
    if output == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for r in rows:
        where = f"{r['env']}/{r['model']}"
        if r["phase"] == "canary":
            line = f"{where}: canary {r['traffic_percent']}% (step {r['step']}/{len(r['steps'])}) {r['candidate']}, stable {r['stable']}, since {r['since']}"
        elif r["phase"] == "rolled-back":
            line = f"{where}: rolled back {r['rolled_back']}, 100% to stable {r['stable']} since {r['since']}"
        else:
            line = f"{where}: stable {r['stable']}" + ("" if r["managed"] else " (never released)")
        if r["last_gate"]:
            g = r["last_gate"]
            line += f"; last gate {g['result']} at {g['at']}" + (f" ({g['summary']})" if g["summary"] else "")
        click.echo(line)
