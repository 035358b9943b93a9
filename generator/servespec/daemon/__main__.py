"""The daemon's server process, started detached by ``servespec daemon start`` (``control.start``):
``python -m servespec.daemon --root ROOT [--idle-timeout SECONDS]``; its standard error is its log.

Besides the library's warm memos (``cache/warm.py``, on in every process), it keeps inotify
watches of the rendered trees (``cache/treewatch.py``): a tree it proved or wrote itself is
trusted without a ``stat`` per file until an event it did not cause arrives. And it writes its
cache files after replying (``warm.later``): the client has its exit code before the manifests
and tables are marshalled. Its spec modules are imported in children of a zygote forked at start
(``zygote.py``), not of the daemon itself."""

from __future__ import annotations

import argparse
import sys

from ..cache import treewatch, warm
from ..cli import main
from ..loader import ZYGOTE, start_zygote
from .server import DEFAULT_IDLE_TIMEOUT, serve

WARM = ("servespec.cli.commands", "servespec.cli.render", "servespec.cli.validate", "servespec.cli.diff", "servespec.cli.status",
        "servespec.cli.rollout", "servespec.cli.init", "servespec.cli.explain", "servespec.cli.schema", "servespec.cli.upgrade",
        "servespec.cli.forget", "servespec.project", "servespec.render", "servespec.validate", "servespec.diff",
        "servespec.diff_markdown", "servespec.rollout.apply", "servespec.rollout.llm_apply", "servespec.rollout.batch",
        "servespec.rollout.status")
"""What commands import (the command modules import their library only when they run)."""


def _run(argv: list[str]) -> None:
    main(argv, forward=False)


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m servespec.daemon", description=__doc__)
    parser.add_argument("--root", required=True, help="the repo's root (absolute, resolved)")
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT, help="seconds without a command before it ends")
    args = parser.parse_args()
    watcher = treewatch.Watcher()
    warm.trees = watcher
    warm.defer_writes()
    try:
        return serve(args.root, args.idle_timeout, _run, WARM, ready=start_zygote)  # spec importers fork from it (zygote.py)
    finally:
        ZYGOTE.stop()
        warm.defer_writes(False)
        warm.trees = None
        watcher.close()


if __name__ == "__main__":
    sys.exit(_main())
