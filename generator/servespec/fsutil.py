"""The one atomic write: a temp file beside the destination, then a rename."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(dest: Path, data: bytes, *, mkdir: bool = False) -> None:
    """Replace ``dest`` with ``data`` atomically: readers see the old or the new file, never a
    part; the temp file is removed on any failure."""
    if mkdir:
        dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
