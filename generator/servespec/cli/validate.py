"""``servespec validate [--crds DIR]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from ..overlay import load_envs
from .common import cli, common_options, resolve_root


@cli.command()
@click.option("--env", "envs", multiple=True, help="Environment to validate (repeatable; default: all).")
@click.option("--crds", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of CustomResourceDefinitions for custom kinds (e.g. ../shared/crds).")
@click.option("--no-cache", is_flag=True, help="Check every file again (ignore earlier results for unchanged files).")
@common_options
@click.pass_context
def validate(ctx: click.Context, envs: tuple[str, ...], crds: Path | None, no_cache: bool, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Validate every object in rendered/ against its schema and servespec's policies.

    \b
    Example:
      servespec validate --env prod --crds crds
    """
    from ..validate import SchemaRegistry, ValidationCache, validate_tree  # jsonschema: imported only here

    root = resolve_root(ctx, cmd_root)
    registry = SchemaRegistry(crds, use_cache=not no_cache)
    from ..render_cache import RenderCache

    cache = ValidationCache(root, enabled=not no_cache)
    renders = RenderCache(root, enabled=not no_cache)  # objects servespec just wrote need no YAML parsing
    problems = []
    total = 0
    for env in load_envs(root, list(envs) or None).values():
        report = validate_tree(root, env, registry, cache, renders.parsed(env.name))
        total += report.objects
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        problems.extend(p.__class__(p.file, p.line, f"env {env.name}: {p.field}" if p.field else f"env {env.name}", p.message)
                        for p in report.problems)
    cache.save()
    if problems:
        raise CheckFailed(problems)
    click.echo(f"{total} objects valid")
