"""The objects of files servespec rendered, as JSON, by the digest of the file's bytes: a file
whose bytes have such a digest needs no YAML parsing in ``validate`` (``yamlio.dump`` round-trips,
property-tested), several times faster on a freshly rendered tree.

Kept per environment in 256 buckets (by digest), so a one-model change rewrites a few small
files and ``validate`` loads only the buckets of the files it has to check. The pairs do not
depend on servespec's code (bytes and object are the two forms of one thing), so a new version
keeps them. Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from .fingerprint import file_digest, read_framed, repo_dir, write_framed

__all__ = ["ObjectStore", "BUCKETS"]

BUCKETS = 256


class ObjectStore(Mapping[bytes, bytes]):
    """``file bytes -> the object as JSON`` for one environment (a ``Mapping`` keyed by the
    bytes, looked up by their digest; buckets loaded on first use)."""

    def __init__(self, root: str, env: str, enabled: bool = True):
        self.folder = os.path.join(repo_dir(root), f"objects-{env}")
        self.enabled = enabled
        self._buckets: dict[int, dict[bytes, bytes]] = {}
        self._pruned: dict[int, int] = {}
        """Per bucket, how many objects it held after it last dropped those no file has."""
        self._new: dict[bytes, bytes] = {}

    def _bucket(self, index: int) -> dict[bytes, bytes]:
        if index not in self._buckets:
            raw = read_framed(os.path.join(self.folder, f"{index:02x}")) if self.enabled else None
            ok = isinstance(raw, dict) and raw.get("format") == 2 and isinstance(raw.get("objects"), dict)
            self._buckets[index] = raw["objects"] if ok and isinstance(raw, dict) else {}
            self._pruned[index] = raw.get("pruned", 0) if ok and isinstance(raw, dict) and isinstance(raw.get("pruned", 0), int) else 0
        return self._buckets[index]

    def by_digest(self, digest: bytes) -> bytes | None:
        """The object of the file with this digest, as JSON, or None."""
        return self._new.get(digest) or self._bucket(digest[0] % BUCKETS).get(digest)

    def __getitem__(self, data: bytes) -> bytes:
        found = self.by_digest(file_digest(data))
        if found is None:
            raise KeyError("not a file servespec rendered")
        return found

    def get(self, data: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return self.by_digest(file_digest(data)) or default

    def __len__(self) -> int:
        return 1 if self.enabled else 0  # truthy: worth asking (validate tests ``if parsed``)

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def release(self) -> None:
        """Forget the buckets loaded so far (they are read again if asked for): memory back after
        an environment's files are checked."""
        self._buckets = {}

    def put(self, digest: bytes, json: bytes) -> None:
        """Remember the object of a freshly rendered file."""
        if self.enabled:
            self._new[digest] = json

    def save(self, keep: Callable[[], set[bytes]]) -> None:
        """Write the buckets that got new objects. A bucket grown by a quarter since it last
        dropped the objects no rendered file has any more (``keep()``: the digests of the files
        rendered now, found once and only then: at 10,000 models a set of 40,000 digests per
        environment on every one-model change cost more than the rest of saving) drops them
        again. An object kept a while longer is never asked for: its file is gone."""
        if not (self.enabled and self._new):
            return
        touched: dict[int, dict[bytes, bytes]] = {}
        for d, js in self._new.items():
            touched.setdefault(d[0] % BUCKETS, {})[d] = js
        kept = None
        for index, new in sorted(touched.items()):
            bucket = dict(self._bucket(index))
            bucket.update(new)
            pruned = self._pruned[index]
            if len(bucket) > pruned + pruned // 4 + 4:
                kept = keep() if kept is None else kept
                bucket = {d: js for d, js in bucket.items() if d in kept}
                pruned = len(bucket)
            self._buckets[index], self._pruned[index] = bucket, pruned
            write_framed(os.path.join(self.folder, f"{index:02x}"), {"format": 2, "objects": bucket, "pruned": pruned})
        self._new = {}
