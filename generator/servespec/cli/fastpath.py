"""``servespec render`` with nothing to do, answered before click, pydantic or any spec module is
imported: the arguments are read here (only the plain forms of ``render``; anything else goes
to the real command), the no-op is proven by ``cache/lastrender.py``, and the report is printed
exactly as ``render.py`` prints it. Any doubt, or any error, means "not proven": the real
command runs and says what it says.
"""

from __future__ import annotations

import os
import sys

from ..cache.lastrender import noop

__all__ = ["fast_render", "parse_render"]


def parse_render(argv: list[str]) -> tuple[str | None, list[str], bool] | None:
    """``(root, envs, check)`` of a plain ``render`` command line, or None for anything else
    (other commands, ``--help``, ``--no-cache``, unknown or malformed options)."""
    root: str | None = None
    envs: list[str] = []
    check, seen_command = False, False
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "render" and not seen_command:
            seen_command = True
        elif name in ("--root", "--env") and (eq or args):
            value = value if eq else args.pop(0)
            if not value or (name == "--env" and not seen_command):
                return None
            if name == "--root":
                root = value
            else:
                envs.append(value)
        elif arg == "--check" and seen_command:
            check = True
        elif arg != "--debug":
            return None
    return (root, envs, check) if seen_command else None


def _find_root(root: str | None) -> str | None:
    """The repo root as ``cli/common.resolve_root`` finds it, or None."""
    start = os.path.realpath(root if root is not None else os.getcwd())
    if root is not None and os.path.isdir(os.path.join(start, "specs")):
        return start
    here = start
    while True:
        if os.path.isdir(os.path.join(here, "specs")) and os.path.isdir(os.path.join(here, "overlays")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def fast_render(argv: list[str]) -> int | None:
    """The exit code of ``servespec ARGV`` when it is a render with nothing to do (its report
    printed), else None: run the command."""
    parsed = parse_render(argv)
    if parsed is None:
        return None
    try:
        root = _find_root(parsed[0])
        done = noop(root, parsed[1] or None, parsed[2]) if root is not None else None
    except Exception:  # noqa: BLE001 - the fast path only ever says "proven"; the real command reports problems
        return None
    if done is None:
        return None
    for warning in done.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if parsed[2]:
        sys.stdout.write(f"rendered/ is up to date ({', '.join(env for env, _n in done.envs)})\n")
    else:
        sys.stdout.writelines(f"{env}: unchanged ({n} files)\n" for env, n in done.envs)
    return 0
