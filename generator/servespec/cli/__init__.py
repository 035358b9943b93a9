"""The ``servespec`` command line: a thin layer over the library.

Each command lives in its own module here, parses options, calls one library function and
formats the result. Errors: ``ServespecError`` is caught once in :func:`main` and printed one
line per problem (``servespec: error: file:line: field: message``); a traceback only with
``--debug``. Exit codes: 0 success, 1 a check found problems, 2 bad input or usage.

Start-up: ``servespec render`` with nothing to do is answered by ``fastpath.py`` before click or
anything else heavy is imported; the click group and its command modules are imported only
when a command really runs (:func:`commands`; ``cli`` is that group, built on first access).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import TYPE_CHECKING

from .fastpath import fast_render

if TYPE_CHECKING:
    import click

__all__ = ["cli", "main", "commands", "MODULE_OF"]

MODULE_OF = {"render": "render", "validate": "validate", "diff": "diff", "init": "init", "status": "status",
             "explain": "explain", "schema": "schema", "upgrade-check": "upgrade", "release": "rollout", "promote": "rollout",
             "rollback": "rollout"}
"""The module of each command, so that running one imports only its own (any other name: all of them)."""


def _command_name(args: list[str]) -> str | None:
    """The command named in ``args`` (after the group's own options), if any."""
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--root" and rest:
            rest.pop(0)
        elif not arg.startswith("-"):
            return arg
    return None


def commands(args: list[str] | None = None) -> click.Group:
    """The click group with the command ``args`` name registered (importing a command module
    registers its commands), or every command."""
    module = MODULE_OF.get(_command_name(args or []) or "")
    if module is not None:
        importlib.import_module(f"{__name__}.{module}")
        from .common import cli as one

        return one
    from . import diff as _diff  # noqa: F401
    from . import init as _init  # noqa: F401
    from . import render as _render  # noqa: F401
    from . import validate as _validate  # noqa: F401
    from . import rollout as _rollout  # noqa: F401
    from . import status as _status  # noqa: F401
    from . import explain as _explain  # noqa: F401
    from . import schema as _schema  # noqa: F401
    from . import upgrade as _upgrade  # noqa: F401
    from .common import cli

    return cli


def __getattr__(name: str) -> object:
    if name == "cli":
        return commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    done = fast_render(args)
    if done is not None:
        sys.exit(done)
    import click

    from ..errors import ServespecError

    group = commands(args)
    debug = "--debug" in args
    try:
        group.main(args=args, prog_name="servespec", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("servespec: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:  # usage errors in servespec's one style, with the way to help
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see `{exc.ctx.command_path} --help`)"
        click.echo(f"servespec: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except ServespecError as exc:
        if debug:
            traceback.print_exc()
        for problem in exc.problems:
            click.echo(f"servespec: error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except Exception:  # an unexpected bug: still no traceback unless asked
        if debug:
            raise
        exc_type, exc_value, _ = sys.exc_info()
        click.echo(f"servespec: internal error: {exc_type.__name__ if exc_type else ''}: {exc_value} (rerun with --debug for a traceback)", err=True)
        sys.exit(2)
    sys.exit(0)
