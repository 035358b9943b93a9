"""One forwarded command, run in the server's process as if it were the client's: the client's
fds on 0/1/2 (and standard streams set up over them as Python set up the client's), its working
folder, environment, umask and argv; everything put back afterwards, whatever happened.
"""

from __future__ import annotations

import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from ..errors import one_line
from . import locate

__all__ = ["Request", "parse_request", "client_state", "run_command", "exit_status", "flush_at_exit"]

Stream = tuple[str, str, bool, bool]
"""encoding, errors, line buffering, write-through."""


@dataclass(frozen=True)
class Request:
    """A command to run as the client would have: ``fds`` are its 0, 1, 2 and working folder."""

    argv: list[str]
    env: dict[bytes, bytes]
    umask: int
    streams: list[Stream]
    fds: list[int]


def _stream(raw: object) -> Stream | None:
    if (isinstance(raw, (list, tuple)) and len(raw) == 4 and isinstance(raw[0], str) and isinstance(raw[1], str)
            and isinstance(raw[2], bool) and isinstance(raw[3], bool)):
        return (raw[0], raw[1], raw[2], raw[3])
    return None


def parse_request(value: dict[object, object], fds: list[int]) -> Request | str:
    """The request in a ``run`` message, or what is wrong with it."""
    argv, env, umask, raw_streams = value.get("argv"), value.get("env"), value.get("umask"), value.get("streams")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return "argv: expected a list of strings"
    if not isinstance(env, dict) or not all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in env.items()):
        return "env: expected a map of bytes to bytes"
    if not isinstance(umask, int) or not 0 <= umask <= 0o777:
        return "umask: expected a mode"
    streams = [_stream(s) for s in raw_streams] if isinstance(raw_streams, list) else []
    if len(streams) != 3 or None in streams:
        return "streams: expected the settings of stdin, stdout and stderr"
    if len(fds) != 4:
        return f"fds: expected 4 (stdin, stdout, stderr, the working folder), found {len(fds)}"
    return Request(argv, env, umask, [s for s in streams if s is not None], fds)


def _text(fd: int, stream: Stream) -> TextIO:
    """A standard stream over ``fd`` made as Python makes ``sys.stdin``/``stdout``/``stderr``
    (``write_through``: Python ran unbuffered, ``-u``: no binary buffer either)."""
    encoding, errors, line_buffering, write_through = stream
    raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
    buffered: io.RawIOBase | io.BufferedIOBase = raw
    if fd == 0:
        buffered = io.BufferedReader(raw)
    elif not write_through:
        buffered = io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline="\n", line_buffering=line_buffering,  # type: ignore[type-var]
                            write_through=write_through)


def _close(stream: TextIO) -> None:
    """Flush and close a request's stream (the fd stays open); a reader that went away is not an error."""
    try:
        stream.flush()
    except (OSError, ValueError):
        pass
    try:
        stream.close()
    except (OSError, ValueError):
        pass


@contextmanager
def client_state(req: Request) -> Iterator[None]:
    """The process as the client's for the time of the ``with`` block, the server's own state
    restored after it (the request's fds stay open: the caller closes them)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved_fds = [os.dup(n) for n in range(3)]
    saved_cwd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
    saved_env, saved_umask, saved_argv = dict(os.environb), os.umask(req.umask), sys.argv
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    try:
        for n in range(3):
            os.dup2(req.fds[n], n)
        os.fchdir(req.fds[3])
        os.environb.clear()
        os.environb.update(req.env)
        os.environb[locate.DISABLE_VAR.encode()] = b"1"  # a git hook calling servespec must not wait for this busy server
        time.tzset()
        sys.argv = ["servespec", *req.argv]
        sys.stdin, sys.stdout, sys.stderr = (_text(n, req.streams[n]) for n in range(3))
        yield
    finally:
        for stream in (sys.stdin, sys.stdout, sys.stderr):
            if stream not in saved_streams:
                _close(stream)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for n, fd in enumerate(saved_fds):
            os.dup2(fd, n)
            os.close(fd)
        os.fchdir(saved_cwd)
        os.close(saved_cwd)
        os.environb.clear()
        os.environb.update(saved_env)
        time.tzset()
        os.umask(saved_umask)
        sys.argv = saved_argv


def flush_at_exit() -> bool:
    """Flush ``sys.stdout`` and ``sys.stderr`` as Python does when it ends: False when that
    failed (a reader that went away; Python then exits 120, and says so for stdout)."""
    ok = True
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        ok = False
        try:
            sys.stderr.write(f"Exception ignored in: <_io.TextIOWrapper name='<stdout>' mode='w' encoding='{sys.stdout.encoding}'>\n"
                             f"{type(exc).__name__}: {exc}\n")
        except (OSError, ValueError):
            pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        ok = False
    return ok


def exit_status(code: object) -> int:
    """The exit status a process ending with ``SystemExit(code)`` would have (a message: printed, 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_command(run: Callable[[list[str]], None], argv: list[str], log: str) -> tuple[int, str | None]:
    """Run the CLI on ``argv``: the exit status, and the traceback of a bug (any exception
    escaping the CLI: reported to the client in one line, exit 1)."""
    try:
        run(argv)
    except SystemExit as exc:
        return exit_status(exc.code), None
    except KeyboardInterrupt:
        sys.stderr.write("servespec: aborted\n")
        return 2, None
    except BaseException as exc:  # noqa: BLE001 - a bug in one command must not end the server
        sys.stderr.write(f"servespec: internal error in the daemon: {one_line(f'{type(exc).__name__}: {exc}')} (its log: {log})\n")
        return 1, traceback.format_exc()
    return 0, None
