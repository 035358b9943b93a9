"""The click group and the options every command shares (``--root``, ``--debug``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Callable

import click

from ..project import find_root

__all__ = ["cli", "common_options", "resolve_root"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Repository root (default: the current folder or the nearest parent with specs/ and overlays/).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="servespec")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, debug: bool) -> None:
    """GitOps for ML model serving: typed specs -> KServe manifests, canaries as commits.

    \b
    First steps:
      servespec init ml-serving && cd ml-serving
      servespec render --check
      servespec explain overlay.rollout.plan
    """
    ctx.ensure_object(dict)
    ctx.obj["root"] = root
    ctx.obj["debug"] = debug


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--root`` and ``--debug`` to a command too, so they work after its name."""
    func = click.option("--debug", "cmd_debug", is_flag=True, hidden=True, help="Show tracebacks.")(func)
    func = click.option("--root", "cmd_root", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Repository root.")(func)
    return func


def resolve_root(ctx: click.Context, cmd_root: Path | None) -> Path:
    """The repo root from the command's or the group's ``--root``, or by searching upwards."""
    root = cmd_root or (ctx.obj or {}).get("root")
    if root is not None:
        return find_root(root) if not (Path(root) / "specs").is_dir() else Path(root).resolve()
    return find_root(Path.cwd())
