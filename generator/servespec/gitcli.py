"""Reading a repository through the git command line (a subprocess per call), for the commands
that only read: ``validate`` lists and reads committed InferenceServices on every run
(``validate/kserve.py``), and importing GitPython (``gitrepo.py``, the rollout commands' writes)
would cost it ~0.1 s of start-up. Also :func:`run_git`, for what GitPython cannot do with a
controlled environment (clones and pushes with credentials from the environment)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import GitError, Problem

__all__ = ["GIT_TIMEOUT", "run_git", "blob_ids_at", "read_blobs"]

GIT_TIMEOUT = 120
"""Seconds any one git command run by :func:`run_git` may take (a hung remote fails instead of blocking)."""


def run_git(args: list[str], *, cwd: Path | None, env: dict[str, str], timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run the git command line, its output as text."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GitError(Problem("git", None, "", f"`git {args[0]}` took longer than {timeout:g}s (unreachable remote?)")) from None


def blob_ids_at(root: Path, ref: str, folder: str) -> dict[str, str] | None:
    """The git blob id of every file below ``root/folder`` at ``ref`` (path relative to that
    folder -> hex id), listed in one ``git ls-tree``; None when ``root`` is in no git repository or
    ``ref`` names no commit there."""
    if ref.startswith("-"):
        return None  # an option, not a revision
    env = dict(os.environ)
    commit = run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=root, env=env)
    sha = commit.stdout.strip()
    if commit.returncode != 0 or not sha:
        return None
    listing = run_git(["ls-tree", "-r", "-z", f"{sha}:./{folder}"], cwd=root, env=env)
    if listing.returncode != 0:
        return {}  # no such folder at ref
    blobs: dict[str, str] = {}
    for entry in listing.stdout.split("\0"):
        meta, _tab, path = entry.partition("\t")
        fields = meta.split(" ")
        if len(fields) == 3 and fields[1] == "blob" and path:
            blobs[path] = fields[2]
    return blobs


def read_blobs(root: Path, blob_ids: list[str]) -> dict[str, bytes]:
    """The bytes of each git blob ``blob_ids`` names, of the repository ``root`` is in, read by one
    ``git cat-file --batch`` (not a process per blob: 3,000 changed InferenceServices cost
    validate 6.6 s that way)."""
    if not blob_ids:
        return {}
    try:
        found = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input="".join(f"{b}\n" for b in blob_ids).encode(),
                               capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise GitError(Problem("git", None, "", f"`git cat-file` took longer than {GIT_TIMEOUT:g}s")) from None
    if found.returncode != 0:
        raise GitError(Problem("git", None, "", f"cannot read blobs: {found.stderr.decode(errors='replace').strip()}"))
    out: dict[str, bytes] = {}
    data, at = found.stdout, 0
    for blob_id in blob_ids:  # "<id> blob <size>\n<bytes>\n" each, or "<id> missing\n"
        end = data.index(b"\n", at)
        header = data[at:end].split(b" ")
        if len(header) != 3 or header[1] != b"blob":
            raise GitError(Problem("git", None, "", f"cannot read blob {blob_id}: {data[at:end].decode(errors='replace')}"))
        size = int(header[2])
        out[blob_id] = data[end + 1:end + 1 + size]
        at = end + 2 + size
    return out
