"""``servespec status [--env E] [--output json]``: where every model's rollout stands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import cli, common_options, resolve_root


def _line(r: dict[str, Any]) -> str:
    where = f"{r['env']}/{r['model']}"
    if r["phase"] == "canary":
        line = f"{where}: canary {r['traffic_percent']}% (step {r['step']}/{len(r['steps'])}) {r['candidate']}, stable {r['stable']}, since {r['since']}"
    elif r["phase"] == "rolled-back":
        line = f"{where}: rolled back {r['rolled_back']}, 100% to stable {r['stable']} since {r['since']}"
    else:
        line = f"{where}: stable {r['stable']}" + ("" if r["managed"] else " (never released)")
    if r.get("spec_ahead"):
        line += f"; spec-ahead: the spec says {r['spec_storage_uri']}, run `{r['release_command']}`"
    if r["last_gate"]:
        g = r["last_gate"]
        line += f"; last gate {g['result']} at {g['at']}" + (f" ({g['summary']})" if g["summary"] else "")
    for p in r.get("promotion", []):
        if p["eligible"]:
            line += f"; from {p['from']}: {p['uri']} eligible since {p['eligible_since']} (`{p['command']}`)"
        else:
            line += f"; from {p['from']}: {p['uri']} not eligible: {p['reason']}"
    return line


@cli.command()
@click.option("--env", "envs", multiple=True, help="Environment (repeatable; default: all).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format.")
@common_options
@click.pass_context
def status(ctx: click.Context, envs: tuple[str, ...], output: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Stable and candidate version, traffic, step, phase and last gate of every model, and what
    each environment may release from the environments it requires (rollout.requires).

    \b
    Example:
      servespec status --env prod --output json
    """
    from ..rollout.status import repo_status

    rows = repo_status(resolve_root(ctx, cmd_root), list(envs) or None)
    if output == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    closed_shown: set[str] = set()
    for r in rows:
        if r.get("closed") and r["env"] not in closed_shown:
            closed_shown.add(r["env"])
            click.echo(f"{r['env']}: closed to release and promote: {r['closed']}")
        click.echo(_line(r))
