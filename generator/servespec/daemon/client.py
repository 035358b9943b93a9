"""Forwarding one command to the repo's daemon: imported by ``cli.main`` only when a daemon
socket exists for the repo (standard library only).

The request is the whole command: argv, the working folder (as an fd), the environment, the
umask and fds 0/1/2 themselves (``SCM_RIGHTS``), so output streams, ``isatty`` and closed pipes
behave exactly as in-process; the answer is the exit code. Whatever goes wrong before the server
acknowledges the command (nobody listening, a server of another user, a refusal: another Python,
servespec version or code) means None: the caller runs the command itself, silently. A socket
file nobody listens on is removed (unless a server holds the repo's lock: one is starting).
After the acknowledgement the command has started: it is never run a second time; a server that
ends before answering is reported (exit 1). Ctrl-C is forwarded; a third one leaves without
waiting (exit 130).
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import sys

from . import locate, wire

__all__ = ["connect", "forward", "request"]


def _remove_stale(root: str, path: str) -> None:
    """Remove the socket file at ``path`` (and its folder of the temporary folder, when empty)
    unless a server of ``root`` holds its lock (starting up)."""
    try:
        fd = os.open(locate.lock_path(root), os.O_RDWR)
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
        if os.path.dirname(path) != locate.state_dir(root):
            os.rmdir(os.path.dirname(path))  # its folder of the temporary folder, when empty
    except OSError:
        pass
    finally:
        if fd >= 0:
            os.close(fd)


def connect(root: str, path: str, timeout: float | None = None) -> socket.socket | None:
    """A connection to the server of ``root`` listening at ``path``, run by this user; None when
    there is none (a socket file nobody listens on is removed)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        if wire.creds_uid(wire.peer_creds(sock)) == os.getuid():
            return sock
    except ConnectionRefusedError:
        _remove_stale(root, path)
    except OSError:
        pass
    sock.close()
    return None


def request(root: str, value: dict[str, object], timeout: float) -> dict[str, object] | None:
    """The server's answer to a control request (``status``, ``stop``), or None: no server
    answered within ``timeout`` seconds."""
    path = locate.socket_path(root)
    sock = connect(root, path, timeout) if path is not None else None
    if sock is None:
        return None
    with sock:
        try:
            wire.send(sock, value)
            answer, _fds = wire.recv(sock)
        except (OSError, EOFError, ValueError):
            return None
    return answer if isinstance(answer, dict) else None


def _streams_are_the_process_own() -> bool:
    """sys.stdin/stdout/stderr are still the ones Python made for fds 0/1/2 (not captured or replaced)."""
    return all(s is not None and s is o for s, o in ((sys.stdin, sys.__stdin__), (sys.stdout, sys.__stdout__), (sys.stderr, sys.__stderr__)))


def _settings(stream: object) -> tuple[str, str, bool, bool]:
    """How Python set up one of the standard streams: encoding, errors, line buffering, write-through."""
    return (str(getattr(stream, "encoding", None) or "utf-8"), str(getattr(stream, "errors", None) or "strict"),
            bool(getattr(stream, "line_buffering", False)), bool(getattr(stream, "write_through", False)))


def _answer(sock: socket.socket, key: str) -> bool:
    """The server's next answer is ``{key: True}`` (anything else: a refusal, or no server)."""
    try:
        answer, _fds = wire.recv(sock)
    except (OSError, EOFError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get(key) is True


def _send_run(sock: socket.socket, args: list[str]) -> bool:
    """Send the command; once the server is ready to run it, fds 0/1/2 and the working folder."""
    umask = os.umask(0o022)
    os.umask(umask)
    run = {**wire.identity(), "kind": "run", "argv": list(args), "env": dict(os.environb), "umask": umask,
           "streams": [_settings(s) for s in (sys.stdin, sys.stdout, sys.stderr)]}
    try:
        wire.send(sock, run)
    except (OSError, ValueError):
        return False
    if not _answer(sock, "fds"):
        return False
    try:
        cwd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        wire.send(sock, "fds", (0, 1, 2, cwd))
        return True
    except OSError:
        return False
    finally:
        os.close(cwd)


def _exit_code(sock: socket.socket, root: str) -> int | None:
    """Once the server has the command's fds: its exit code, forwarding Ctrl-C; None when the
    server refused the command before taking it (run it here). A Ctrl-C before the server's
    acknowledgement is forwarded too: the command may already run there, and is interrupted there
    (one ``servespec: aborted``, from it)."""
    interrupts, acked = 0, False
    while True:
        try:
            sock.recv(1, socket.MSG_PEEK)  # wait without consuming: a Ctrl-C here never splits a message
            answer, _fds = wire.recv(sock)
            if not acked and isinstance(answer, dict) and answer.get("ack") is True:
                acked = True
                continue
            code = answer.get("exit") if isinstance(answer, dict) else None
            if isinstance(code, int) and acked:
                return code
            if not acked:  # refused: nothing ran
                raise _NotTaken
            raise ValueError(f"unexpected answer {answer!r}")
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts > 2:
                return 130
            try:
                sock.sendall(wire.INTERRUPT)
            except OSError:
                pass
        except Exception:  # noqa: BLE001 - the command ran, and must not run again: report it
            if not acked:  # the server never took it: nothing ran
                if interrupts:
                    sys.stderr.write("servespec: aborted\n")
                    return 2
                return None
            sys.stderr.write(f"servespec: error: the daemon ended during the command (its log: {locate.log_path(root)})\n")
            return 1


class _NotTaken(Exception):
    """The server answered the command with something else than its acknowledgement."""


def forward(root: str, args: list[str]) -> int | None:
    """The exit code of ``servespec ARGS`` run by the daemon of ``root``, or None: run it here."""
    path = locate.socket_path(root)
    if path is None or not _streams_are_the_process_own():
        return None
    try:
        sock = connect(root, path)
        if sock is None:
            return None
        with sock:
            if not _send_run(sock, args):
                return None
            return _exit_code(sock, root)
    except KeyboardInterrupt:  # before the server asked for the fds (it was busy): nothing ran
        sys.stderr.write("servespec: aborted\n")
        return 2
