"""A small process that forks the spec importers of a long-lived one (``servespec daemon``).

Spec modules are imported in a forked child (``loader.py``). Forking the daemon itself once it
holds a large repo is slow, and so is everything after: at 10,000 models the fork took 17 ms, the
child's exit 16 ms more (the page tables of a gigabyte), and every page either process wrote in
between was copied first (the child's first frame came 25 ms later than at 1,000 models). The
zygote is forked when the daemon starts, before it reads any repo: its children are forks of a
process that holds servespec's code and nothing else, whatever the daemon holds by then.

The daemon sends a request (the importer's arguments and the two pipe ends it writes to) over a
``SOCK_SEQPACKET`` pair; the zygote forks a child that runs it, answers with the child's pid,
reaps it when it ends and reports its wait status. The child's pipes are the daemon's, so reading
its frames, its deadline and killing it work as for a child of the daemon's own. When the zygote
is gone (killed, or never started) the caller forks itself. Standard library only.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import time
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["Zygote"]

Run = Callable[[Any, list[int]], NoReturn]
"""What a child of the zygote runs: the request's payload and the descriptors sent with it."""

_PACKET = 1 << 20


class Zygote:
    """The daemon's side of a zygote process."""

    def __init__(self) -> None:
        self.pid = 0
        self._sock: socket.socket | None = None
        self._ended: dict[int, int] = {}
        """Wait statuses of children the zygote reported, by pid, until asked for."""

    def start(self, run: Run, prepare: Callable[[], None] = lambda: None) -> None:
        """Fork the zygote: it runs ``prepare()`` once, then forks a child running ``run`` per request."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote, measured by the tests through its children
            ours.close()
            keep = theirs.fileno()  # and the standard streams; nothing else of the daemon's (its lock, its watches)
            os.closerange(3, keep)
            os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
            _serve(theirs, run, prepare)
        theirs.close()
        self.pid, self._sock = pid, ours

    @property
    def live(self) -> bool:
        return self._sock is not None

    def spawn(self, payload: Any, fds: list[int]) -> int | None:
        """The pid of a new child running ``run(payload, fds)``; None when the zygote is gone."""
        if self._sock is None:
            return None
        self._ended.clear()  # the children of earlier requests were dealt with (one at a time)
        try:
            socket.send_fds(self._sock, [pickle.dumps(payload)], fds)
            while True:
                kind, pid, status = self._next(10.0)
                if kind == "pid":
                    return pid
                self._ended[pid] = status
        except (OSError, EOFError, TimeoutError, pickle.UnpicklingError):
            self.stop()
            return None

    def status(self, pid: int, timeout: float) -> int | None:
        """The wait status of the zygote's child ``pid`` once it ended, waiting up to ``timeout``
        seconds; None when it has not ended by then (or the zygote is gone)."""
        deadline = time.monotonic() + timeout
        while pid not in self._ended and self._sock is not None:
            try:
                kind, other, status = self._next(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return None
            except (OSError, EOFError, pickle.UnpicklingError):
                self.stop()
                break
            if kind == "exit":
                self._ended[other] = status
        return self._ended.pop(pid, None)

    def stop(self) -> None:
        """Close the pair: the zygote ends when it reads the end of it; reap it."""
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def _next(self, timeout: float) -> tuple[str, int, int]:
        assert self._sock is not None
        if not select.select([self._sock], [], [], timeout)[0]:
            raise TimeoutError
        data = self._sock.recv(_PACKET)
        if not data:
            raise EOFError
        kind, pid, status = pickle.loads(data)
        return str(kind), int(pid), int(status)


def _serve(sock: socket.socket, run: Run, prepare: Callable[[], None]) -> NoReturn:  # pragma: no cover - zygote only
    """The zygote's whole life: a child per request, each reaped and reported, until the daemon
    closes the pair (or ends)."""
    code = 0
    try:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # the daemon's handlers are the daemon's: end like a plain process
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        prepare()
        while True:
            ready = select.select([sock.fileno(), wake_r], [], [])[0]
            if wake_r in ready:
                os.read(wake_r, 4096)
            _report_ended(sock)
            if sock.fileno() not in ready:
                continue
            msg, fds, _flags, _addr = socket.recv_fds(sock, _PACKET, 8)
            if not msg:
                break
            pid = os.fork()
            if pid == 0:
                sock.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                run(pickle.loads(msg), fds)
            for fd in fds:
                os.close(fd)
            sock.send(pickle.dumps(("pid", pid, 0)))
    except BaseException:  # noqa: BLE001 - the daemon forks itself from now on
        code = 70
    os._exit(code)


def _report_ended(sock: socket.socket) -> None:  # pragma: no cover - zygote only
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(pickle.dumps(("exit", pid, status)))
