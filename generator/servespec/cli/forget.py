"""``servespec forget MODEL --env E``: remove a deleted model's rollout state entry (one commit)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import cli, common_options, resolve_root
from .rollout import _git_options, _log, _push


@cli.command()
@click.argument("model")
@click.option("--env", required=True, help="Environment.")
@_git_options
@common_options
@click.pass_context
def forget(ctx: click.Context, model: str, env: str, author: str | None, push: bool, remote: str, branch: str | None,
           cmd_root: Path | None, cmd_debug: bool) -> None:
    """Remove the rollout state of a model deleted from specs/ (or disabled here) and its rendered files.

    \b
    Examples:
      servespec forget old-model --env prod --push
    """
    from ..rollout.forget import forget as forget_model

    done = forget_model(resolve_root(ctx, cmd_root), env, model, author=author, push=_push(push, remote, branch), log=_log)
    if done.commit is None:
        click.echo(f"{env}/{model}: already forgotten upstream; nothing to commit")
        return
    pushed = f", pushed ({done.pushes} attempt{'s' if done.pushes != 1 else ''})" if done.pushes else ""
    click.echo(f"[{done.commit[:10]}] {done.subject}{pushed}")
