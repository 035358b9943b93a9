"""``servespec explain [PATH] [--markdown]``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import cli, common_options


@cli.command()
@click.argument("path", required=False, default="")
@click.option("--markdown", is_flag=True, help="Print the whole field reference (docs/reference.md) instead.")
@common_options
def explain(path: str, markdown: bool, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Explain a class or field of specs, overlays and rollout state, like kubectl explain.

    \b
    PATH starts at model, storage, overlay, state or a class name, then names fields:
      servespec explain Predictor.scale_metric
      servespec explain overlay.rollout.plan
      servespec explain overlay.models.*.minReplicas
      servespec explain state.models
    """
    from ..reference import explain as explain_path, reference_markdown

    click.echo(reference_markdown() if markdown else explain_path(path), nl=False)
