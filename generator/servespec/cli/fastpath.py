"""``servespec render`` with nothing to do, and ``servespec validate`` of trees validated before,
answered before click, pydantic or any spec module is imported: the arguments are read here
(only the plain forms of the two commands; anything else goes to the real command), the no-op
is proven by ``cache/lastrender.py``, the verdict by ``cache/lastvalidate.py``, and the report
is printed exactly as the command prints it. Any doubt, or any error, means "not proven": the
real command runs and says what it says.
"""

from __future__ import annotations

import os
import sys

from ..cache.lastrender import discover_envs, noop

__all__ = ["fast_answer", "fast_render", "parse_render", "fast_validate", "parse_validate"]


def fast_answer(argv: list[str]) -> int | None:
    """The exit code of ``servespec ARGV`` when the fast path answered it (its report printed), else None."""
    done = fast_render(argv)
    return done if done is not None else fast_validate(argv)


def _plain(argv: list[str], command: str, options: tuple[str, ...], flags: tuple[str, ...] = ()) -> dict[str, list[str]] | None:
    """The values of each of ``options`` (``--root`` also before the command) and each of
    ``flags`` seen (as ``[""]``) on a plain ``command`` line, or None for anything else."""
    found: dict[str, list[str]] = {name: [] for name in ("--root", *options, *flags)}
    seen_command = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg == command and not seen_command:
            seen_command = True
        elif name in found and name not in flags and (eq or args) and (seen_command or name == "--root"):
            value = value if eq else args.pop(0)
            if not value:
                return None
            found[name].append(value)
        elif arg in flags and seen_command:
            found[arg].append("")
        elif arg != "--debug":
            return None
    return found if seen_command else None


def _last(values: list[str]) -> str | None:
    return values[-1] if values else None  # as click: the last one counts


def parse_render(argv: list[str]) -> tuple[str | None, list[str], bool] | None:
    """``(root, envs, check)`` of a plain ``render`` command line, or None for anything else
    (other commands, ``--help``, ``--no-cache``, unknown or malformed options)."""
    found = _plain(argv, "render", ("--env",), ("--check",))
    return (_last(found["--root"]), found["--env"], bool(found["--check"])) if found is not None else None


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


def parse_validate(argv: list[str]) -> tuple[str | None, list[str], str | None, str] | None:
    """``(root, envs, crds, base)`` of a plain ``validate`` command line, or None for anything
    else (other commands, ``--help``, ``--no-cache``, unknown or malformed options)."""
    found = _plain(argv, "validate", ("--env", "--crds", "--base"))
    if found is None:
        return None
    return _last(found["--root"]), found["--env"], _last(found["--crds"]), _last(found["--base"]) or "HEAD"


def fast_validate(argv: list[str]) -> int | None:
    """The exit code of ``servespec ARGV`` when it is a validate of trees whose verdicts are kept
    (its report printed), else None: run the command."""
    parsed = parse_validate(argv)
    if parsed is None:
        return None
    root_arg, envs, crds, base = parsed
    try:
        from ..cache.lastvalidate import kept_verdicts  # not for render's no-op: it starts git

        root = _find_root(root_arg)
        known = discover_envs(root) if root is not None else []
        wanted = list(dict.fromkeys(envs)) or known
        if root is None or not wanted or any(env not in known for env in wanted):
            return None
        if crds is not None and not os.path.isdir(crds):
            return None
        verdicts = kept_verdicts(root, wanted, crds, base)
    except Exception:  # noqa: BLE001 - the fast path only ever says "proven"; the real command reports problems
        return None
    if verdicts is None:
        return None
    for notes, _problems, _objects in verdicts:
        sys.stderr.writelines(f"note: {text}\n" for text in notes)
    problems = [problem for _notes, found, _objects in verdicts for problem in found]
    if problems:
        from ..errors import CheckFailed, Problem  # only to print them as the command does

        sys.stderr.writelines(f"servespec: {CheckFailed.label}: {Problem(*problem)}\n" for problem in problems)
        return CheckFailed.exit_code
    sys.stdout.write(f"{sum(objects for _notes, _found, objects in verdicts)} objects valid\n")
    return 0
