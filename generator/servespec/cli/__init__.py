"""The ``servespec`` command line: a thin layer over the library.

Each command lives in its own module here, parses options, calls one library function and
formats the result. Errors: ``ServespecError`` is caught once in :func:`main` and printed one
line per problem (``servespec: error: file:line: field: message``; ``servespec: waiting: ...``
for a promote not decided yet); a traceback only with ``--debug``. Exit codes: 0 success, 1 a
check found problems, 2 bad input or usage, 3 not decided yet (``promote``: nothing committed).

A daemon (``servespec daemon start``, ``daemon/``): when one listens for the repo a command is
about, :func:`main` forwards the command to it before anything else (``daemon/client.py``, imported
only then) and exits with its exit code; no daemon, or any failure to reach one, and the command
runs here as always (``SERVESPEC_NO_DAEMON=1``: always here).

Start-up: ``servespec render`` with nothing to do, and ``servespec validate`` of trees validated
before, are answered by ``fastpath.py`` before click or anything else heavy is imported; the
click group and its command modules are imported only when a command really runs
(``commands.py``; ``cli`` is that group, built on first access).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

from ..cache.fingerprint import command
from ..daemon.locate import forwardable, live_socket, root_arg
from .fastpath import _find_root, fast_answer

__all__ = ["cli", "main"]


def __getattr__(name: str) -> object:
    if name == "cli":
        from .commands import commands

        return commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _forwarded(args: list[str]) -> int | None:
    """The exit code of the command as the repo's daemon ran it, or None: no daemon took it."""
    if not forwardable(args):
        return None
    try:
        root = _find_root(root_arg(args))
        if root is None or live_socket(root) is None:
            return None
        from ..daemon.client import forward

        return forward(root, args)
    except Exception:  # noqa: BLE001 - no daemon reached: the command runs here
        return None


def main(argv: list[str] | None = None, *, forward: bool = True) -> None:
    """Entry point: run the CLI and turn errors into exit codes (``forward``: through the repo's
    daemon when one runs; the daemon itself runs commands with it off). Input files are read
    once per command (``cache/fingerprint.command``)."""
    with command():
        _main(list(sys.argv[1:] if argv is None else argv), forward)


def _main(args: list[str], forward: bool) -> None:
    code = _forwarded(args) if forward else None
    if code is not None:
        sys.exit(code)
    try:
        done = fast_answer(args)
    except BrokenPipeError:
        _reader_gone()
    if done is not None:
        sys.exit(done)
    # A compiler's heap: tens of thousands of long-lived objects (specs, outputs, manifests) and
    # almost no cycles. With the default thresholds the collector walks that heap again and again
    # (20% of a one-model render at 10,000 models); collect young objects rarely instead.
    gc.set_threshold(50_000, 20, 100)
    import traceback

    import click

    from ..errors import ServespecError, one_line
    from .commands import commands

    group = commands(args)
    debug = "--debug" in args
    try:
        # with standalone_mode=False, click returns the code of a command's `click.exceptions.Exit`
        code = group.main(args=args, prog_name="servespec", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("servespec: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:  # usage errors in servespec's one style, with the way to help
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see `{exc.ctx.command_path} --help`)"
        click.echo(f"servespec: error: {one_line(exc.format_message())}{hint}", err=True)
        sys.exit(2)
    except ServespecError as exc:
        if debug:
            traceback.print_exc()
        for problem in exc.problems:
            click.echo(f"servespec: {exc.label}: {problem}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        _reader_gone()
    except Exception:  # an unexpected bug: still no traceback unless asked
        if debug:
            raise
        exc_type, exc_value, _ = sys.exc_info()
        click.echo(f"servespec: internal error: {exc_type.__name__ if exc_type else ''}: {exc_value} (rerun with --debug for a traceback)", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _reader_gone() -> NoReturn:
    """Standard output was closed by its reader (``servespec render | head -1``): end as a process
    killed by SIGPIPE would, without a traceback and without a second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(128 + 13)
