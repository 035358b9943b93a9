"""Where the daemon of a repo listens, and which daemon a command line goes to.

Standard library only, and cheap: ``cli.main`` asks :func:`live_socket` on every command, before
anything heavy is imported (no ``socket``, no ``tempfile``: a stat of one path).

A repo's daemon keeps its files in a folder of the repo's cache folder
(``fingerprint.repo_dir(root)/daemon``, mode 0700): ``sock`` (the Unix socket it listens on),
``log``, ``lock`` (held by the server for its whole life: one server per repo) and ``pid``. When
that socket path is longer than an ``AF_UNIX`` address holds, the socket goes to a 0700 folder of
the temporary folder instead (``$TMPDIR``, ``$TEMP`` or ``$TMP`` when it is a folder, else
``/tmp``, as ``tempfile.gettempdir`` chooses), named by the user and a hash of the cache folder:
two cache folders (a test's and the user's) never share a daemon.
"""

from __future__ import annotations

import os
import stat
from hashlib import blake2b

from ..cache.fingerprint import repo_dir

__all__ = ["DISABLE_VAR", "MAX_SOCKET_PATH", "state_dir", "socket_path", "log_path", "lock_path", "pid_path", "root_arg",
           "command_name", "forwardable", "live_socket"]

DISABLE_VAR = "SERVESPEC_NO_DAEMON"
"""Set (to anything but ``0``), commands run in-process even when a daemon is running."""
MAX_SOCKET_PATH = 100
"""Bytes of a socket path: an ``AF_UNIX`` address holds 108 on Linux (104 on macOS) with its final NUL."""


def state_dir(root: str) -> str:
    """The daemon's folder in the repo's cache folder (``root``: absolute and resolved)."""
    return os.path.join(repo_dir(root), "daemon")


def log_path(root: str) -> str:
    """The server's log: when it started and stopped, one line per request (the command's name, never its arguments)."""
    return os.path.join(state_dir(root), "log")


def lock_path(root: str) -> str:
    """The lock the server holds while it lives."""
    return os.path.join(state_dir(root), "lock")


def pid_path(root: str) -> str:
    """The server's process id, for ``daemon stop`` when the server does not answer."""
    return os.path.join(state_dir(root), "pid")


def _tempdir() -> str:
    for var in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(var)
        if value and os.path.isdir(value):
            return os.path.abspath(value)
    return "/tmp"


def socket_path(root: str) -> str | None:
    """Where the daemon of ``root`` listens, or None when no path short enough exists."""
    near = os.path.join(state_dir(root), "sock")
    if len(os.fsencode(near)) <= MAX_SOCKET_PATH:
        return near
    name = f"servespec-{os.getuid()}-{blake2b(os.fsencode(state_dir(root)), digest_size=8).hexdigest()}"
    far = os.path.join(_tempdir(), name, "sock")
    return far if len(os.fsencode(far)) <= MAX_SOCKET_PATH else None


def root_arg(args: list[str]) -> str | None:
    """The value of the last ``--root`` in a command line (the command's own wins over the group's, as in ``cli/common.resolve_root``)."""
    found: str | None = None
    for i, arg in enumerate(args):
        if arg == "--root" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--root="):
            found = arg[len("--root="):]
    return found or None


def command_name(args: list[str]) -> str | None:
    """The command a command line runs (the first word that is not an option of the group), if any."""
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--root" and rest:
            rest.pop(0)
        elif not arg.startswith("-"):
            return arg
    return None


def forwardable(args: list[str]) -> bool:
    """A command line a daemon may run: forwarding is not turned off and it is not ``servespec daemon ...``."""
    return os.environ.get(DISABLE_VAR, "") in ("", "0") and command_name(args) != "daemon"


def live_socket(root: str) -> str | None:
    """The socket of the daemon of ``root`` when one is there (a socket file: its server may still be gone)."""
    path = socket_path(root)
    try:
        return path if path is not None and stat.S_ISSOCK(os.lstat(path).st_mode) else None
    except OSError:
        return None
