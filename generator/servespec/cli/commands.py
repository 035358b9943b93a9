"""The click group with its commands, imported only when a command really runs (a no-op
``render`` is answered before: ``fastpath.py``)."""

from __future__ import annotations

import importlib

import click

from ..daemon.locate import command_name

__all__ = ["MODULE_OF", "commands"]

MODULE_OF = {"render": "render", "validate": "validate", "diff": "diff", "init": "init", "status": "status",
             "explain": "explain", "schema": "schema", "upgrade-check": "upgrade", "release": "rollout", "promote": "rollout",
             "rollback": "rollout", "forget": "forget", "daemon": "daemon"}
"""The module of each command, so that running one imports only its own (any other name: all of them)."""


def commands(args: list[str] | None = None) -> click.Group:
    """The click group with the command ``args`` name registered (importing a command module
    registers its commands), or every command."""
    module = MODULE_OF.get(command_name(args or []) or "")
    if module is not None:
        importlib.import_module(f"servespec.cli.{module}")
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
    from . import forget as _forget  # noqa: F401
    from . import daemon as _daemon  # noqa: F401
    from .common import cli

    return cli
