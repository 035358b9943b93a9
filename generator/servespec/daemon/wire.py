"""The messages between the daemon's client and server, and who may talk to a server.

A message is its length (4 bytes, big-endian) and a ``marshal`` payload of plain data (dicts,
lists, str, bytes, numbers). ``marshal`` is no defence against a hostile peer, so both ends first
check the other's credentials (``SO_PEERCRED``): a server talks only to processes of its own
user, a client only to a server of its own user (the socket's 0700 folder keeps others out; the
check also covers a folder someone else made in the temporary folder).

A ``run`` request is answered ``{"refused": why}`` (the client runs the command itself) or
``{"fds": True}`` when the server is ready to run it: only then does the client send its fds 0,
1, 2 and its working folder (``SCM_RIGHTS``, with the first bytes of a message ``"fds"``), so a
client waiting behind another command holds nothing of its own in the socket (a pipe it writes
to ends when it does). The server answers ``{"ack": True}`` and runs the command, then
``{"exit": code}``. Meanwhile the client sends :data:`INTERRUPT` for each Ctrl-C; closing its
end means it is gone.
"""

from __future__ import annotations

import marshal
import os
import socket
import sys
from collections.abc import Sequence

from .. import __version__

__all__ = ["PROTOCOL", "INTERRUPT", "PACKAGE", "SUPPORTED", "MAX_MESSAGE", "identity", "send", "recv", "peer_creds", "creds_uid"]

PROTOCOL = 1
INTERRUPT = b"\x03"
"""What the client sends when its user presses Ctrl-C."""
MAX_MESSAGE = 64 << 20
"""The largest message read (a request is mostly the environment: kilobytes)."""
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The folder of the servespec package this process imported."""
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
SUPPORTED = hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED")
"""Whether this system has what the daemon needs: Unix sockets and ``SO_PEERCRED`` (Linux)."""


def identity() -> dict[str, object]:
    """What client and server must share for the server to run the client's command: the
    protocol, Python, servespec's version and folder, and the import path (``sys.path[1:]``:
    the first entry is the script's folder or the working folder, and differs by how Python started)."""
    return {"protocol": PROTOCOL, "executable": sys.executable, "version": __version__, "package": PACKAGE,
            "path": list(sys.path[1:])}


def send(sock: socket.socket, value: object, fds: Sequence[int] = ()) -> None:
    """Send one message (with ``fds``, passed as ``SCM_RIGHTS``)."""
    payload = marshal.dumps(value)  # type: ignore[arg-type]  # marshal itself refuses anything but plain data
    head = len(payload).to_bytes(4, "big")
    if fds:
        socket.send_fds(sock, [head], list(fds))
        sock.sendall(payload)
    else:
        sock.sendall(head + payload)


def _exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, maxfds: int = 0) -> tuple[object, list[int]]:
    """One message and the fds that came with it (close-on-exec; the caller closes them).

    Raises:
        EOFError: the peer closed the connection.
        ValueError: not a message (too long, unreadable, more fds than ``maxfds``).
        OSError: the connection failed.
    """
    fds: list[int] = []
    if maxfds:
        head, fds, flags, _addr = socket.recv_fds(sock, 4, maxfds, _CLOEXEC)
    else:
        head, flags = sock.recv(4), 0
    try:
        if flags & socket.MSG_CTRUNC:
            raise ValueError("more fds than expected")
        if not head:
            raise EOFError("the peer closed the connection")
        head += _exact(sock, 4 - len(head))
        size = int.from_bytes(head, "big")
        if size > MAX_MESSAGE:
            raise ValueError(f"a message of {size} bytes")
        try:
            return marshal.loads(_exact(sock, size)), fds
        except (EOFError, TypeError) as exc:
            raise ValueError(f"unreadable message: {exc}") from exc
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def peer_creds(sock: socket.socket) -> bytes:
    """The peer's ``struct ucred`` (pid, uid, gid) as the kernel recorded it when it connected
    (empty where there is no ``SO_PEERCRED``: nobody is trusted)."""
    if not SUPPORTED:
        return b""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)


def creds_uid(creds: bytes) -> int | None:
    """The uid in a ``struct ucred``, or None when ``creds`` is not one."""
    if len(creds) != 12:
        return None
    return int.from_bytes(creds[4:8], sys.byteorder)
