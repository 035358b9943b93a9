"""``servespec daemon start|stop|status``: a warm server that runs this repo's commands (``daemon/``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..daemon.server import DEFAULT_IDLE_TIMEOUT
from .common import cli, common_options, resolve_root


@cli.group()
def daemon() -> None:
    """A warm server for this repo: while it runs, servespec commands run in it instead of a
    fresh process (no half-second of imports; what the previous command loaded stays in memory).
    For an editor's save loop or a terminal session, not for CI.

    \b
    Example:
      servespec daemon start && servespec render && servespec daemon stop
    """


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def _describe(info: dict[str, object]) -> list[str]:
    if not info.get("running"):
        return [f"servespec daemon: not running for {info['root']}"]
    if info.get("busy") and "uptime" not in info:
        return [f"servespec daemon: running for {info['root']} (pid {info['pid']}), busy with a command",
                f"  socket: {info['socket']}", f"  log: {info['log']}"]
    return [f"servespec daemon: running for {info['root']} (pid {info['pid']}, up {_duration(float(str(info['uptime'])))}, "
            f"{info['requests']} commands served, ends after {_duration(float(str(info['idle_timeout'])))} idle)",
            f"  socket: {info['socket']}", f"  log: {info['log']}",
            f"  code: servespec {info['version']} in {info['package']} (code fingerprint {info['code']}), Python {info['executable']}"]


@daemon.command()
@click.option("--idle-timeout", type=click.FloatRange(min=1), default=DEFAULT_IDLE_TIMEOUT, show_default=True,
              help="Seconds without a command after which the server ends.")
@common_options
@click.pass_context
def start(ctx: click.Context, idle_timeout: float, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Start the server (detached; a second start says one is running), wait until it answers."""
    from ..daemon import control

    info, launched = control.start(str(resolve_root(ctx, cmd_root)), idle_timeout)
    what = "started" if launched else "already running"
    click.echo(f"servespec daemon: {what} for {info['root']} (pid {info['pid']}), listening on {info['socket']}")
    click.echo(f"  log: {info['log']}")


@daemon.command()
@common_options
@click.pass_context
def stop(ctx: click.Context, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Ask the server to end and wait until it has (a command it is running is interrupted after 10 s)."""
    from ..daemon import control

    root = str(resolve_root(ctx, cmd_root))
    pid = control.stop(root)
    click.echo(f"servespec daemon: stopped (pid {pid})" if pid is not None else f"servespec daemon: not running for {root}")


@daemon.command()
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format.")
@common_options
@click.pass_context
def status(ctx: click.Context, output: str, cmd_root: Path | None, cmd_debug: bool) -> None:
    """Whether the server runs, its pid, uptime, commands served and the code it runs."""
    from ..daemon import control

    info = control.status(str(resolve_root(ctx, cmd_root)))
    if output == "json":
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    for line in _describe(info):
        click.echo(line)
