"""Two-phase work over forked children: every child computes, then all write or none does.

A cold render of a large repo is CPU-bound per environment, and environments are independent, so
each one can be rendered by a child process of its own (forked: the loaded specs are shared
copy-on-write, nothing is pickled on the way in). Writing must stay all-or-nothing across
environments (bad input never touches ``rendered/``), so the children meet at a barrier: each
computes and reports; only when every child succeeded does the parent tell them to write; a child
that is told to stop writes nothing. Results come back pickled through a pipe.

An exception raised in a child is raised again in the parent (the first one, in item order); one
that cannot be pickled becomes a ``RuntimeError`` with its text.
"""

from __future__ import annotations

import gc
import os
import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from .childio import fork, write_frame

__all__ = ["Phases", "run_two_phase", "available"]

T = TypeVar("T")
C = TypeVar("C")
R = TypeVar("R")


class Phases(Generic[T, C, R]):
    """What one child does: ``compute(item) -> C`` (reported before the barrier), then, when every
    child computed without an exception and ``proceed`` accepts all the computed values,
    ``commit(item) -> R``."""

    def __init__(self, compute: Callable[[T], C], commit: Callable[[T], R], proceed: Callable[[list[C]], bool] = lambda _c: True):
        self.compute, self.commit, self.proceed = compute, commit, proceed


def available() -> bool:
    """True where children can be forked."""
    return hasattr(os, "fork")


def run_two_phase(items: Sequence[T], phases: Phases[T, C, R]) -> tuple[list[C], list[R] | None]:
    """Run ``phases`` for every item, one forked child per item: the computed values in item
    order, and the committed ones (None when ``proceed`` declined: nothing was committed). If a
    child's compute raised, no child commits and that exception is raised."""
    children: list[tuple[int, int, int]] = []  # (pid, read end of its reports, write end of its go)
    try:
        for item in items:
            children.append(_spawn(item, phases))
        reports = [_receive(fd) for _pid, fd, _go in children]
        failed = [value for ok, value in reports if not ok]
        computed: list[C] = [value for _ok, value in reports]  # type: ignore[misc]  # C when ok
        go = not failed and phases.proceed(computed)
        for _pid, _fd, go_fd in children:
            try:
                os.write(go_fd, b"1" if go else b"0")
            except BrokenPipeError:  # that child has ended already (it failed, or died)
                pass
        if failed:
            raise _exception(failed[0])
        if not go:
            return computed, None
        committed = [_receive(fd) for _pid, fd, _go in children]
        for ok, value in committed:
            if not ok:
                raise _exception(value)
        return computed, [value for _ok, value in committed]  # type: ignore[misc]  # R when ok
    finally:
        for pid, fd, go_fd in children:
            for end in (fd, go_fd):
                try:
                    os.close(end)
                except OSError:
                    pass
            os.waitpid(pid, 0)


def _spawn(item: T, phases: Phases[T, C, R]) -> tuple[int, int, int]:
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = fork()
    if pid == 0:  # pragma: no cover - runs in the child, tested through its effects
        os.close(report_r)
        os.close(go_w)
        _child(item, phases, report_w, go_r)
    os.close(report_w)
    os.close(go_r)
    return pid, report_r, go_w


def _child(item: T, phases: Phases[T, C, R], report: int, go: int) -> None:  # pragma: no cover
    code = 0
    try:
        gc.freeze()  # the collector leaves the inherited heap alone: no copy-on-write of every page
        ok = _send(report, lambda: phases.compute(item))
        if ok and os.read(go, 1) == b"1":
            _send(report, lambda: phases.commit(item))
    except BaseException:  # noqa: BLE001 - never return into the caller's code
        code = 70
    os._exit(code)


def _send(fd: int, work: Callable[[], object]) -> bool:  # pragma: no cover - in the child
    """Report ``work()``'s value, or the exception it raised; whether it succeeded."""
    try:
        ok, payload = True, pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - the parent raises it
        ok = False
        try:
            payload = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that cannot travel travels as text
            text = "".join(traceback.format_exception(exc))
            payload = pickle.dumps((False, RuntimeError(text)), protocol=pickle.HIGHEST_PROTOCOL)
    write_frame(fd, payload)
    return ok


def _exception(value: object) -> BaseException:
    return value if isinstance(value, BaseException) else RuntimeError(str(value))


def _receive(fd: int) -> tuple[bool, object]:
    """One report of a child; a child that ended without one is a ``RuntimeError``."""
    head = _read_exactly(fd, 8)
    if head is None:
        return False, RuntimeError("a render worker ended without reporting (killed, or out of memory)")
    body = _read_exactly(fd, int.from_bytes(head, "big"))
    if body is None:
        return False, RuntimeError("a render worker ended while reporting")
    ok, value = pickle.loads(body)
    return bool(ok), value


def _read_exactly(fd: int, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        chunk = os.read(fd, min(size - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
