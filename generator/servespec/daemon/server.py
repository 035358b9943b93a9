"""The daemon's server: one warm process per repo that runs forwarded commands, one at a time, in
its main thread, so that what the library keeps in memory serves the next command.

It listens on a Unix socket (never TCP) in a 0700 folder (``locate.py``), talks only to processes
of its own user (``SO_PEERCRED``), holds the repo's daemon lock while it lives (one server per
repo) and ends when stopped (``stop`` request, SIGTERM), after ``idle_timeout`` seconds without a
command, or at the first client it refuses: another Python, servespec version, servespec folder
or import path than its own, or servespec's code changed since it started (``code_digest``,
checked before every command): the client then runs the command itself, with the new code.

A command runs in the client's process state (``request.py``); a bug escaping the CLI is the
client's exit 1 with one line (the traceback goes to the server's log), never the server's end.
The client's Ctrl-C arrives as a byte and is turned into SIGINT in the main thread (the CLI says
``servespec: aborted``, exit 2); a client that goes away mid-command interrupts it the same way.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import importlib
import os
import select
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType

from ..cache import fingerprint, warm
from . import locate, wire
from .request import client_state, flush_at_exit, parse_request, run_command

__all__ = ["DEFAULT_IDLE_TIMEOUT", "Server", "serve", "peer_allowed", "private_dir", "fresh_code_digest"]

DEFAULT_IDLE_TIMEOUT = 3 * 3600.0
"""Seconds without a command after which the server ends."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client has to send its request once connected."""
Run = Callable[[list[str]], None]


class _Stop(BaseException):
    """SIGTERM while the server waits for a client."""


def peer_allowed(creds: bytes, uid: int) -> bool:
    """A connection's peer may use the server of user ``uid``: its credentials
    (``SO_PEERCRED``, a ``struct ucred``) name that same user."""
    return wire.creds_uid(creds) == uid


def private_dir(path: str) -> None:
    """Make ``path`` a folder of this user that only this user can enter (0700).

    Raises:
        OSError: it cannot be made, or is not a folder of this user (a link, someone else's).
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, "not a folder of this user", path)
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


def fresh_code_digest() -> str:
    """``fingerprint.code_digest`` computed again (it is memoized per process, and a server
    outlives any one version of the files)."""
    return fingerprint.code_digest(fresh=True)


class _Watch:
    """While a command runs: a thread that turns each byte from the client (its Ctrl-C), or the
    client going away, into ``interrupt()``."""

    def __init__(self, conn: socket.socket, interrupt: Callable[[], None]):
        self.conn, self.interrupt = conn, interrupt
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._loop, name="servespec-daemon-watch", daemon=True)

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        os.write(self.stop_w, b"x")
        self.thread.join()
        os.close(self.stop_r)
        os.close(self.stop_w)

    def _loop(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})  # process signals go to the main thread
        while True:
            ready, _w, _x = select.select([self.conn.fileno(), self.stop_r], [], [])
            if self.stop_r in ready:
                return
            try:
                data = self.conn.recv(64)
            except OSError:
                data = b""
            self.interrupt()
            if not data:
                return


class Server:
    """The state of one server: what it runs, what it has served, and its signal handling."""

    def __init__(self, root: str, idle_timeout: float, run: Run, log_fd: int):
        self.root, self.idle_timeout, self.run, self.log_fd = root, idle_timeout, run, log_fd
        self.identity = wire.identity()
        self.code = fresh_code_digest()
        self.started, self.last = time.time(), time.monotonic()
        self.requests = 0
        self.busy = self.pending = self.stopping = self.accepting = False
        self.reason = ""
        self.main = threading.get_ident()
        self.path = ""
        self.inode = -1
        self.listener: socket.socket | None = None

    def log(self, message: str) -> None:
        """One line (or a traceback) in the server's log."""
        try:
            os.write(self.log_fd, f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message.rstrip()}\n".encode())
        except OSError:
            pass

    def info(self) -> dict[str, object]:
        """What ``servespec daemon status`` shows."""
        return {"pid": os.getpid(), "root": self.root, "socket": self.path, "log": locate.log_path(self.root),
                "started": self.started, "uptime": time.time() - self.started, "requests": self.requests,
                "idle_timeout": self.idle_timeout, "idle": time.monotonic() - self.last, "busy": self.busy,
                "version": self.identity["version"], "executable": self.identity["executable"],
                "package": self.identity["package"], "code": self.code}

    def listen(self, path: str) -> None:
        """Listen at ``path``: bound under another name and renamed once listening, so a client
        never finds a socket file nobody listens on yet (and never removes it as stale)."""
        tmp = f"{path}.{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        mask = os.umask(0o177)
        try:
            sock.bind(tmp)
        finally:
            os.umask(mask)
        sock.listen(16)
        os.replace(tmp, path)
        self.listener, self.path, self.inode = sock, path, os.lstat(path).st_ino

    def close(self) -> None:
        """Stop listening; remove the socket file unless another server has put its own there (and
        its folder in the temporary folder, when it is there and empty)."""
        if self.listener is not None:
            self.listener.close()
        try:
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)
            if os.path.dirname(self.path) != locate.state_dir(self.root):
                os.rmdir(os.path.dirname(self.path))  # its folder of the temporary folder, when empty
        except OSError:
            pass

    def install_signals(self) -> None:
        """SIGINT interrupts a running command (nothing else); SIGTERM interrupts it and ends the
        server. Forked children get Python's defaults back."""
        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        os.register_at_fork(after_in_child=_default_signals)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.busy:
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.stopping, self.reason = True, "stopped (SIGTERM)"
        if self.busy:
            raise KeyboardInterrupt
        if self.accepting:
            raise _Stop

    def _interrupt(self) -> None:
        self.pending = True
        signal.pthread_kill(self.main, signal.SIGINT)

    def serve(self) -> str:
        """Answer clients until stopped or idle; why it ended."""
        assert self.listener is not None
        while not self.stopping:
            remaining = self.idle_timeout - (time.monotonic() - self.last)
            if remaining <= 0:
                return f"idle for {self.idle_timeout:g} s"
            self.listener.settimeout(remaining)
            try:
                self.accepting = True
                try:
                    conn, _addr = self.listener.accept()
                finally:
                    self.accepting = False
                self.handle(conn)
            except TimeoutError:
                continue
            except _Stop:
                break
            except KeyboardInterrupt:  # a Ctrl-C that arrived as its command ended: nothing to interrupt
                self.log("an interrupt arrived between commands")
        return self.reason

    def handle(self, conn: socket.socket) -> None:
        """One connection: a ``status`` or ``stop`` request, or a command to run."""
        fds: list[int] = []
        with conn:
            try:
                conn.settimeout(HANDSHAKE_TIMEOUT)
                if not peer_allowed(wire.peer_creds(conn), os.getuid()):
                    self.log("refused a connection from another user")
                    return
                value, _none = wire.recv(conn)
                kind = value.get("kind") if isinstance(value, dict) else None
                if kind == "status":
                    wire.send(conn, self.info())
                elif kind == "stop":
                    self.stopping, self.reason = True, "stopped on request"
                    wire.send(conn, {"stopping": True, "pid": os.getpid()})
                elif kind == "run" and isinstance(value, dict):
                    self._run(conn, value, fds)  # fills fds
                else:
                    self.log(f"ignored a message of kind {kind!r}")
            except (OSError, EOFError, ValueError) as exc:
                self.log(f"dropped a connection: {type(exc).__name__}: {exc}")
            finally:
                _close_all(fds)

    def refusal(self, value: dict[object, object]) -> str | None:
        """Why the server must not run a client's command (and end), or None."""
        for key, mine in self.identity.items():
            if value.get(key) != mine:
                return f"the client's {key} is {value.get(key)!r}, this server's {mine!r}"
        if fresh_code_digest() != self.code:
            return "servespec's code changed since the server started"
        return None

    def _run(self, conn: socket.socket, value: dict[object, object], fds: list[int]) -> None:
        """Run a client's command (``fds``: the list its fds are received into; the caller closes what is left)."""
        why = self.refusal(value)
        if why is not None:
            self.log(f"refused a command: {why}")
            self.stopping, self.reason = True, f"ending: {why}"
            wire.send(conn, {"refused": why})
            return
        wire.send(conn, {"fds": True})
        marker, received = wire.recv(conn, maxfds=4)
        fds.extend(received)
        req = parse_request(value, fds) if marker == "fds" else "expected the client's fds"
        if isinstance(req, str):
            self.log(f"refused a command: {req}")
            wire.send(conn, {"refused": req})
            return
        wire.send(conn, {"ack": True})
        conn.settimeout(None)
        self.pending = False  # an interrupt from the previous client, come after its command ended, is not this one's
        t0, cpu0 = time.monotonic(), _cpu()
        with _Watch(conn, self._interrupt), client_state(req):
            code, trace = self._guarded(req.argv)
            if not flush_at_exit():
                code = 120
        _close_all(fds)  # the client's streams are closed here before it learns the exit code
        self.requests += 1
        self.last = time.monotonic()
        self.log(f"command {self.requests}: {locate.command_name(req.argv) or '-'} -> exit {code} "
                 f"in {self.last - t0:.3f} s (CPU {_cpu() - cpu0:.3f} s)")
        if trace:
            self.log(trace)
        try:
            wire.send(conn, {"exit": code})
        except OSError:
            self.log("the client went away before its exit code")
        self.flush()

    def flush(self) -> None:
        """Write the cache files the command left for later (``warm.later``): after the client
        has its exit code, before the next command is read."""
        t0 = time.monotonic()
        errors = warm.flush()
        for error in errors:
            self.log(f"a cache write failed (the next command checks again): {error}")
        if time.monotonic() - t0 >= 0.05:
            self.log(f"cache files written in {time.monotonic() - t0:.3f} s after the reply")

    def _guarded(self, argv: list[str]) -> tuple[int, str | None]:
        result: tuple[int, str | None] = (2, None)
        try:
            self.busy = True
            result = run_command(self._checked, argv, locate.log_path(self.root))
        except KeyboardInterrupt:  # at the very edge of the command
            pass
        finally:
            self.busy = self.pending = False
        return result

    def _checked(self, argv: list[str]) -> None:
        if self.pending:  # a Ctrl-C that came before the command started
            raise KeyboardInterrupt
        self.run(argv)


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _close_all(fds: list[int]) -> None:
    while fds:
        try:
            os.close(fds.pop())
        except OSError:
            pass


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _lock(path: str, wait: float = 1.0) -> int | None:
    """An fd holding the repo's daemon lock, or None: another server holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def _warm(modules: Iterable[str], log: Callable[[str], None]) -> None:
    """Import what commands import, then leave that heap to the collector's permanent generation."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a command importing it will report it
            log(f"could not import {name}: {type(exc).__name__}: {exc}")
    gc.freeze()


def serve(root: str, idle_timeout: float, run: Run, warm: Iterable[str] = (), ready: Callable[[], None] = lambda: None) -> int:
    """Be the daemon of ``root`` (absolute, resolved) until stopped, idle for ``idle_timeout``
    seconds or refusing a client: 0; 1 when another server of ``root`` runs or none can listen.
    ``run`` runs the CLI on one command line; ``warm``: modules imported before listening, then
    ``ready()`` (before any thread starts: it may fork). The log is this process's standard error."""
    server = Server(root, idle_timeout, run, os.dup(2))
    private_dir(locate.state_dir(root))
    lock = _lock(locate.lock_path(root))
    if lock is None:
        server.log("not started: another daemon of this repo is running")
        return 1
    path = locate.socket_path(root)
    if path is None:
        server.log("not started: no socket path short enough (AF_UNIX) in the cache folder or the temporary folder")
        return 1
    private_dir(os.path.dirname(path))
    _warm(warm, server.log)
    ready()
    server.listen(path)
    with open(locate.pid_path(root), "w") as f:
        f.write(f"{os.getpid()}\n")
    server.install_signals()
    server.log(f"listening on {path} for {root} (servespec {server.identity['version']}, code {server.code})")
    try:
        reason = server.serve()
    finally:
        server.flush()
        server.close()
        try:
            os.unlink(locate.pid_path(root))
        except OSError:
            pass
    server.log(f"exiting: {reason}")
    return 0
