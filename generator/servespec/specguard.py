"""What guards the child that imports spec modules (``loader.py``): a module that would end the
process (``os._exit``, ``os.abort``, killing itself, servespec's process or its group) gets an
exception at the calling line instead, and a crash or a stall dumps its stack to the parent."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["ProcessEnd", "DUMP_SIGNAL", "guard_child", "signal_name"]

DUMP_SIGNAL = getattr(signal, "SIGUSR1", signal.SIGTERM)
"""Sent by the parent to a child past its time: the child's fault handler prints where it is."""


class ProcessEnd(BaseException):
    """A spec module called something that would end the process; raised instead."""


def guard_child(dump_w: int, daemon: int = 0) -> None:  # pragma: no cover - child only
    """Turn the ways a module can end the child into exceptions at the calling line; a crash
    dumps the stack to ``dump_w``; the child reads no terminal input."""
    faulthandler.enable(file=dump_w, all_threads=False)
    faulthandler.register(DUMP_SIGNAL, file=dump_w, all_threads=False)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(os.devnull, encoding="utf-8")  # also where a test runner replaced sys.stdin
    me, parent = os.getpid(), daemon or os.getppid()  # a zygote's child guards the daemon (and the zygote: below)
    zygote = os.getppid()

    def refuse(what: str, signals: bool = False) -> Callable[..., NoReturn]:
        def call(*args: object) -> NoReturn:
            raise ProcessEnd(f"{what}({', '.join(signal_name(a) if signals else repr(a) for a in args)})")
        return call

    def who(pid: object) -> str:
        return "its own process" if pid == me else "servespec's process" if pid in (parent, zygote) else repr(pid)

    for module, attr in ((os, "_exit"), (os, "abort"), (signal, "raise_signal")):
        setattr(module, attr, refuse(f"{module.__name__}.{attr}", signals=module is signal))
    posix = sys.modules.get("posix")
    if posix is not None:
        setattr(posix, "_exit", os._exit)  # noqa: B010  (posix has no stubs for these)
        setattr(posix, "abort", os.abort)  # noqa: B010

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "os.kill" and args[0] in (me, parent, zygote, 0, -1, -os.getpgrp()):
            raise ProcessEnd(f"os.kill({who(args[0])}, {signal_name(args[1])})")
        if event == "os.killpg" and args[0] in (0, os.getpgrp()):
            raise ProcessEnd(f"os.killpg({args[0]}, {signal_name(args[1])})")
        if event == "signal.pthread_kill":
            raise ProcessEnd(f"signal.pthread_kill({args[0]}, {signal_name(args[1])})")

    sys.addaudithook(hook)


def signal_name(number: object) -> str:
    """``SIGKILL`` for 9; the number itself when it is not a signal's."""
    try:
        return signal.Signals(number).name  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return repr(number)
