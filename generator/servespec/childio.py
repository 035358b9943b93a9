"""Plumbing of forked children that report through pipes (``loader.py``'s spec importer,
``forkjoin.py``'s render workers): length-prefixed frames, read before a deadline or drained."""

from __future__ import annotations

import os
import select
import sys
import time
import warnings

__all__ = ["FrameReader", "write_frame", "drain", "flush_std", "fork"]


class FrameReader:
    """Length-prefixed frames from a pipe, each read before a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, bytearray()

    def next(self, deadline: float) -> bytes | None:
        """The next frame, None at EOF; ``TimeoutError`` when ``deadline`` passes first."""
        while True:
            if len(self.buf) >= 8:
                size = int.from_bytes(self.buf[:8], "big")
                if len(self.buf) >= 8 + size:
                    frame = bytes(self.buf[8:8 + size])
                    del self.buf[:8 + size]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not select.select([self.fd], [], [], 0)[0]:  # polled, not waited on: a child's write wakes
                time.sleep(min(0.002, left))  # nobody, so it is not preempted (1,000 modules: -80 ms)
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk


def write_frame(fd: int, payload: bytes) -> None:
    """``payload`` as one frame: its length (8 bytes, big-endian), then itself."""
    view = memoryview(len(payload).to_bytes(8, "big") + payload)
    while view:
        view = view[os.write(fd, view):]


def drain(fd: int) -> str:
    """Whatever is left in a pipe whose write end is closed (a child's fault handler's output), as text; ``fd`` is closed."""
    chunks = []
    try:
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def flush_std() -> None:
    """Flush standard output and error before forking (no line printed twice), whatever they are."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or odd stream must not stop a fork
            pass


def fork() -> int:
    """``os.fork()`` with this process's standard streams flushed first (else the child writes
    what is buffered again) and without 3.12's warning about forking a threaded process (a
    child here only imports, or computes and writes)."""
    flush_std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()
