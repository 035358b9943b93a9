"""``servespec render [--env E] [--check] [--no-cache]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed, Problem
from ..project import Project
from ..overlay import discover_envs
from ..render import check_env, orphaned_envs, remove_env, render_project, write_env
from ..render_cache import RenderCache
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
    project = Project.load(root, list(envs) or None)
    cache = RenderCache(root, enabled=not no_cache)
    rendered = render_project(project, cache)
    orphans = [] if envs else orphaned_envs(root, discover_envs(root))
    if check:
        stale = [f"rendered/{o}" for o in orphans]
        for o in orphans:
            click.echo(f"rendered/{o}/: no overlays/{o}.yaml any more; `servespec render` deletes it")
        for env, files in rendered.items():
            result, diff = check_env(root, env, files)  # always reads the files themselves
            if not result.unchanged:
                stale.append(f"rendered/{env}")
                click.echo(diff, nl=False)
        cache.save()
        if stale:
            raise CheckFailed([Problem(s, None, "", "stale: run `servespec render` and commit the result") for s in sorted(stale)])
        click.echo(f"rendered/ is up to date ({', '.join(rendered)})")
        return
    for env, files in rendered.items():
        result = write_env(root, env, files, cache)
        if result.unchanged:
            click.echo(f"{env}: unchanged ({len(files)} files)")
        else:
            click.echo(f"{env}: {len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} removed ({len(files)} files)")
    for orphan in orphans:
        remove_env(root, orphan)
        click.echo(f"{orphan}: removed (no overlay)")
    cache.save()
