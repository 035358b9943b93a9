"""``servespec daemon start|stop|status``: launching a repo's server, asking it to end, asking it
how it is.

``start`` launches the server detached (a double fork with a new session, stdin from
``/dev/null``, standard output and error to its log in the repo's cache folder, then
``python -m servespec.daemon`` run from the folder servespec itself is in, so the server imports
the client's servespec) and waits until it answers.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time

from ..errors import ServespecError
from . import client, locate, wire
from .server import private_dir

__all__ = ["START_WAIT", "STOP_WAIT", "start", "stop", "status"]

START_WAIT = 60.0
"""Seconds ``start`` waits for the server to answer (it imports the spec model and the emitters first)."""
STOP_WAIT = 10.0
"""Seconds ``stop`` waits for an answer, then for the server to end after SIGTERM."""
STATUS_WAIT = 2.0
"""Seconds ``status`` waits for an answer (a server running a command answers after it)."""
_LOG_KEPT = 1 << 20


def _alive(pid: int) -> bool:
    """The process ``pid`` exists and is not a zombie."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _server_pid(root: str) -> int | None:
    """The pid of the server of ``root`` from its pid file, when a server holds the repo's lock
    and that process is a daemon of servespec (never a recycled pid of another program)."""
    try:
        fd = os.open(locate.lock_path(root), os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None  # nobody holds it: no server
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    try:
        with open(locate.pid_path(root)) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if b"servespec.daemon" in f.read() else None
    except (OSError, ValueError):
        return None


def status(root: str, wait: float = STATUS_WAIT) -> dict[str, object]:
    """How the daemon of ``root`` is: ``running`` and what it says about itself (pid, uptime,
    commands served, the code it runs: ``server.Server.info``); a server that does not answer
    within ``wait`` seconds while holding the repo's lock is running a command (``busy``)."""
    info = client.request(root, {"kind": "status"}, wait)
    if info is not None:
        return {"running": True, **info}
    pid = _server_pid(root)
    if pid is not None:
        return {"running": True, "busy": True, "pid": pid, "root": root, "socket": locate.socket_path(root),
                "log": locate.log_path(root)}
    return {"running": False, "root": root}


def _open_log(root: str) -> int:
    path = locate.log_path(root)
    try:
        if os.path.getsize(path) > _LOG_KEPT:
            os.replace(path, path + ".1")
    except OSError:
        pass
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _exec_server(argv: list[str], log_fd: int) -> None:  # pragma: no cover - runs in the detached process
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.closerange(3, 1 << 16)  # nothing of the caller's (its pipes) stays open in the server
        os.chdir(os.path.dirname(wire.PACKAGE))
        os.execv(argv[0], argv)
    finally:
        os._exit(127)


def _spawn(root: str, idle_timeout: float, log_fd: int) -> int:
    """Launch the server detached: its pid."""
    argv = [sys.executable, "-m", "servespec.daemon", "--root", root, "--idle-timeout", repr(idle_timeout)]
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: a new session, the server as its child, and gone
        try:
            os.close(r)
            os.setsid()
            server = os.fork()
            if server == 0:
                _exec_server(argv, log_fd)
            os.write(w, str(server).encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            data = f.read()
    finally:
        os.waitpid(pid, 0)
    try:
        return int(data)
    except ValueError:
        raise ServespecError("the daemon could not be launched (fork failed)") from None


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f.read()[-4000:].splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def start(root: str, idle_timeout: float, wait: float = START_WAIT) -> tuple[dict[str, object], bool]:
    """Launch the daemon of ``root`` unless one runs, and wait until it answers: what it says
    about itself (``status``) and whether this call launched it.

    Raises:
        ServespecError: it cannot listen (no socket path short enough, a folder that is not
            this user's) or did not answer within ``wait`` seconds (with the log's last line).
    """
    if not wire.SUPPORTED:
        raise ServespecError("servespec daemon needs Unix sockets with SO_PEERCRED (Linux); commands run in-process here")
    current = status(root)
    if current["running"]:
        return current, False
    if locate.socket_path(root) is None:
        raise ServespecError(f"no socket path short enough for the daemon (at most {locate.MAX_SOCKET_PATH} bytes) in the "
                             "cache folder or the temporary folder: set SERVESPEC_CACHE_DIR or TMPDIR to a shorter path")
    try:
        private_dir(locate.state_dir(root))
        log_fd = _open_log(root)
    except OSError as exc:
        raise ServespecError(f"{locate.state_dir(root)}: cannot keep the daemon's files there: {exc.strerror or exc}") from None
    try:
        pid = _spawn(root, idle_timeout, log_fd)
    finally:
        os.close(log_fd)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        info = client.request(root, {"kind": "status"}, 1.0)
        if info is not None:
            return {"running": True, **info}, info.get("pid") == pid
        if not _alive(pid) and _server_pid(root) is None:
            break
        time.sleep(0.05)
    if _alive(pid):  # still importing after all that time: not left behind
        os.kill(pid, signal.SIGTERM)
    last = _last_line(locate.log_path(root))
    raise ServespecError(f"the daemon did not start (its log: {locate.log_path(root)}" + (f"; last line: {last})" if last else ")"))


def _ended(pid: int, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop(root: str, wait: float = STOP_WAIT) -> int | None:
    """Ask the daemon of ``root`` to end and wait until it has: its pid, or None when none runs.
    A server that does not answer within ``wait`` seconds (running a long command) gets SIGTERM:
    the command is interrupted.

    Raises:
        ServespecError: it still runs ``wait`` seconds after SIGTERM.
    """
    answer = client.request(root, {"kind": "stop"}, wait)
    pid = answer.get("pid") if answer is not None else _server_pid(root)
    if not isinstance(pid, int):
        return None
    if answer is None or not _ended(pid, wait):
        os.kill(pid, signal.SIGTERM)
        if not _ended(pid, wait):
            raise ServespecError(f"the daemon (pid {pid}) did not end within {wait:g} s of SIGTERM; its log: {locate.log_path(root)}")
    return pid
