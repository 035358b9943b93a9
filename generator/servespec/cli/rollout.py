"""``servespec release|promote|rollback MODEL --env E``: canary steps as git commits.

Exit codes of ``promote``: 0 promoted (or, with ``--all``, nothing due), 1 a check failed (under
``onFailure: rollback``, after committing the rollback), 2 bad input, 3 not decided yet (bake
time, a canary not live, too little traffic: nothing committed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import cli, common_options, resolve_root

if TYPE_CHECKING:
    from ..rollout.apply import Outcome, Push


def _git_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--branch", default=None, help="Branch to push to (default: the current branch's name).")(func)
    func = click.option("--remote", default="origin", show_default=True, help="Remote to push to.")(func)
    func = click.option("--push", is_flag=True, help="Push the commit; a rejected push is fetched, rebased, re-applied and retried.")(func)
    func = click.option("--author", default=None, envvar="SERVESPEC_AUTHOR",
                        help="Commit author \"Name <email>\" (env SERVESPEC_AUTHOR; default: git config user, else servespec).")(func)
    return func


def _push(push: bool, remote: str, branch: str | None) -> Push | None:
    return (remote, branch) if push else None


def _log(message: str) -> None:
    click.echo(message, err=True)


def _report(out: Outcome, nothing: str) -> None:
    for note in out.notes:
        click.echo(note, err=True)
    if out.transition is None:
        click.echo(nothing)
    elif out.commit is None:
        click.echo(f"{out.transition.subject}: nothing changed, no commit")
    elif out.proposal is not None:
        p = out.proposal
        where = f"pushed to {p.branch}" if out.pushes else f"on the local branch {p.branch} (push it: --push)"
        click.echo(f"[{out.commit[:10]}] {out.transition.subject}: needs approval, {where}")
        click.echo(f"open a pull request into {p.base}: {p.url}" if p.url else f"open a pull request from {p.branch} into {p.base}")
    else:
        pushed = f", pushed ({out.pushes} attempt{'s' if out.pushes != 1 else ''})" if out.pushes else ""
        click.echo(f"[{out.commit[:10]}] {out.transition.subject}{pushed}")
        for line in out.transition.gate_lines:
            click.echo(f"  {line}")
    if out.error is not None:
        raise out.error


_BREAK_GLASS = click.option("--break-glass", "break_glass", metavar="REASON", default=None,
                            help="Override a freeze or the rollout windows; REASON is recorded in the commit (Servespec-Break-Glass).")


@cli.command(epilog="Exit codes: 0 released (or nothing to do), 1 refused by the promotion policy (rollout.requires, "
             "a freeze, outside the windows; nothing committed), 2 bad input.")
@click.argument("model")
@click.option("--env", required=True, help="Environment.")
@click.option("--storage-uri", default=None, help="Where the new model version lives (s3://, gs://, ...).")
@click.option("--from", "from_env", metavar="ENV", default=None, help="Release the version ENV serves as stable (instead of --storage-uri).")
@_BREAK_GLASS
@_git_options
@common_options
@click.pass_context
def release(ctx: click.Context, model: str, env: str, storage_uri: str | None, from_env: str | None, break_glass: str | None,
            author: str | None, push: bool, remote: str, branch: str | None, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Start a canary of a new model version at the plan's first step (one commit).

    A release to an environment whose overlay sets rollout.requires needs the version verified
    (stable, soaked, never rolled back) in those environments by the git history.

    \b
    Examples:
      servespec release census-income --env staging --storage-uri s3://census-income/v2 --push
      servespec release census-income --env prod --from staging --push
    """
    from ..rollout import apply, llm_apply

    root = resolve_root(ctx, cmd_root)
    project = apply.load_project(root, [env])  # once per command
    if llm_apply.is_llm(project, model):  # LLMs (rollout/llm_apply.py): --storage-uri only
        if storage_uri is None or from_env is not None:
            raise click.UsageError("an LLM is released with --storage-uri URI (--from is not supported for LLMs)")
        _report(llm_apply.release(root, env, model, storage_uri, author=author, push=_push(push, remote, branch), log=_log,
                                  break_glass=break_glass, project=project), f"{env}/{model}: {storage_uri} is already stable; nothing to commit")
        return
    out = apply.release(root, env, model, storage_uri, author=author, push=_push(push, remote, branch), log=_log,
                        from_env=from_env, break_glass=break_glass, project=project)
    _report(out, f"{env}/{model}: {storage_uri or 'the version ' + str(from_env) + ' serves'} is already stable; nothing to commit")


@cli.command(epilog="Exit codes: 0 promoted (--all: or nothing due, or skipped inside a freeze or outside the windows), "
             "1 a check failed (with onFailure: rollback, after committing the rollback) or refused inside a freeze or "
             "outside the windows, 2 bad input, 3 not decided yet (bake time, canary not live, too little "
             "traffic; nothing committed).")
@click.argument("model", required=False)
@click.option("--env", required=True, help="Environment.")
@click.option("--all", "all_", is_flag=True, help="Promote every model of the environment under canary, one line each (for a scheduled job).")
@click.option("--prometheus", default=None, help="Prometheus URL for the gates (default: the overlay's rollout.prometheusUrl).")
@click.option("--to", "to", type=int, default=None, help="Jump to this step of the plan (a percentage in the plan).")
@click.option("--ignore-bake-time", is_flag=True, help="Do not wait for the step's bake time (recorded in the commit).")
@click.option("--skip-gates", is_flag=True, help="Skip traffic checks, gates and bake time: an emergency or a test (recorded in the commit).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="With --all: one line per model, or a JSON summary on stdout.")
@_BREAK_GLASS
@_git_options
@common_options
@click.pass_context
def promote(ctx: click.Context, model: str | None, env: str, all_: bool, prometheus: str | None, to: int | None,
            ignore_bake_time: bool, skip_gates: bool, output: str, break_glass: str | None, author: str | None, push: bool, remote: str,
            branch: str | None, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Check bake time, the canary's traffic and gates, then move it to the next step (one commit).

    A decisive gate failure holds the step, or under the plan's onFailure: rollback commits the
    rollback. --all promotes every canary of the environment, each on its own.

    \b
    Examples:
      servespec promote census-income --env prod --push
      servespec promote --all --env prod --prometheus http://prometheus:9090 --push --output json
    """
    from ..rollout import apply, batch, llm_apply

    if bool(model) == all_:
        raise click.UsageError("give either MODEL or --all")
    if output == "json" and not all_:
        raise click.UsageError("--output json goes with --all")
    root = resolve_root(ctx, cmd_root)
    options = apply.PromoteOptions(prometheus, to, ignore_bake_time, skip_gates)
    project = apply.load_project(root, [env])  # once per command
    if model and llm_apply.is_llm(project, model):  # LLMs: rollout/llm_apply.py
        _report(llm_apply.promote(root, env, model, options, author=author, push=_push(push, remote, branch), log=_log,
                                  break_glass=break_glass, project=project), "nothing to do")
        return
    if model:
        _report(apply.promote(root, env, model, options, author=author, push=_push(push, remote, branch), log=_log,
                              break_glass=break_glass, project=project), "nothing to do")
        return
    report = batch.promote_all(root, env, options, author=author, push=_push(push, remote, branch), log=_log, break_glass=break_glass,
                               project=project)
    report = llm_apply.promote_all(root, env, options, author=author, push=_push(push, remote, branch), log=_log,
                                   break_glass=break_glass, report=report, project=None if push else project)  # the LLMs under canary
    if output == "json":
        click.echo(json.dumps(report.as_json(), indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    raise click.exceptions.Exit(report.exit_code)


@cli.command()
@click.argument("model")
@click.option("--env", required=True, help="Environment.")
@_git_options
@common_options
@click.pass_context
def rollback(ctx: click.Context, model: str, env: str, author: str | None, push: bool, remote: str, branch: str | None,
             cmd_root: Path | None, cmd_debug: bool) -> None:
    """Send all traffic back to the stable version at once (one commit). Never refused by a
    freeze or the rollout windows, never waits for approval.

    \b
    Example:
      servespec rollback census-income --env prod --push
    """
    from ..rollout import apply, llm_apply

    root = resolve_root(ctx, cmd_root)
    project = apply.load_project(root, [env])  # once per command
    if llm_apply.is_llm(project, model):  # LLMs: rollout/llm_apply.py
        _report(llm_apply.rollback(root, env, model, author=author, push=_push(push, remote, branch), log=_log, project=project),
                "nothing to do")
        return
    _report(apply.rollback(root, env, model, author=author, push=_push(push, remote, branch), log=_log, project=project), "nothing to do")
