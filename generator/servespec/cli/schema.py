"""``servespec schema overlay|state|spec``."""

from __future__ import annotations

from pathlib import Path

import click

from ..jsonschema_export import SCHEMA_KINDS
from .common import cli, common_options


@cli.command()
@click.argument("kind", type=click.Choice(SCHEMA_KINDS))
@common_options
def schema(kind: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of an overlay, a rollout state file or a spec object.

    \b
    Editors use it to complete and check overlays, e.g. refresh the copy `init` wrote:
      servespec schema overlay > .servespec/overlay.schema.json
      servespec schema state > .servespec/state.schema.json
    """
    from ..jsonschema_export import schema_text

    click.echo(schema_text(kind), nl=False)
