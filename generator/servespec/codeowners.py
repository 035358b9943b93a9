"""CODEOWNERS lines from the overlays' ``owners:`` lists, kept in sync by ``init`` and ``render``.

For each environment whose overlay names owners, three lines make them the reviewers of every
change to it (``/overlays/prod.*`` covers ``prod.yaml`` and ``prod.rollout.yaml`` but not
``production.yaml``)::

    /overlays/prod.* @acme/ml-prod
    /overlays/prod/ @acme/ml-prod
    /rendered/prod/ @acme/ml-prod

They live between two marker lines in the repository's CODEOWNERS (``.github/CODEOWNERS``,
``CODEOWNERS`` or ``docs/CODEOWNERS``, the first that exists; a new one goes to ``.github/``);
lines outside the markers are the user's and never touched. With branch protection requiring
code-owner review, an approval environment's pull requests then need its owners.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .fsutil import atomic_write
from .overlay import Env

__all__ = ["BEGIN", "END", "LOCATIONS", "CodeownersSync", "codeowners_block", "merged_text", "sync_codeowners"]

BEGIN = "# BEGIN servespec: from the owners: of overlays/*.yaml, rewritten by `servespec render`; edit the overlays instead"
END = "# END servespec"
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
"""Where GitHub reads CODEOWNERS, in its order of precedence."""


@dataclass(frozen=True)
class CodeownersSync:
    """What :func:`sync_codeowners` found or did."""

    path: str
    """The file, relative to the git repository's top (even when unchanged)."""
    changed: bool
    """It differed from the overlays (and, unless checking, was rewritten)."""


def _top(root: Path) -> Path:
    """The git repository's top folder holding ``root`` (``root`` itself outside git)."""
    for folder in (root, *root.parents):
        if (folder / ".git").exists():
            return folder
    return root


def codeowners_block(envs: dict[str, Env], prefix: str = "") -> list[str]:
    """The generated lines (markers included; empty when no overlay names owners). ``prefix``:
    the servespec root's path inside the git repository (``""`` at its top)."""
    lines = []
    base = f"/{prefix.strip('/')}/" if prefix.strip("/") else "/"
    for name, env in sorted(envs.items()):
        owners = " ".join(env.overlay.owners)
        if owners:
            lines += [f"{base}overlays/{name}.* {owners}", f"{base}overlays/{name}/ {owners}", f"{base}rendered/{name}/ {owners}"]
    return [BEGIN, *lines, END] if lines else []


def merged_text(existing: str | None, block: list[str]) -> str:
    """``existing`` with its servespec block replaced by ``block`` (appended when it had none,
    removed when ``block`` is empty); user lines untouched."""
    lines = (existing or "").splitlines()
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        lines[start:end + 1] = block
    elif block:
        lines += ([""] if lines and lines[-1].strip() else []) + block
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def sync_codeowners(root: Path, envs: dict[str, Env], *, check: bool = False) -> CodeownersSync | None:
    """Bring the CODEOWNERS block in line with every overlay's ``owners`` (``envs``: all of the
    repository's environments). With ``check`` nothing is written. None when there is nothing
    to write and no file to update."""
    top = _top(root.resolve())
    prefix = os.path.relpath(root.resolve(), top).replace(os.sep, "/")
    block = codeowners_block(envs, "" if prefix == "." else prefix)
    found = next((top / p for p in LOCATIONS if (top / p).is_file()), None)
    if found is None and not block:
        return None
    path = found or top / LOCATIONS[0]
    existing = path.read_text(encoding="utf-8") if found else None
    new = merged_text(existing, block)
    rel = path.relative_to(top).as_posix()
    if new == (existing or ""):
        return CodeownersSync(rel, False)
    if not check:
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, new.encode("utf-8"))
        else:
            path.unlink()
    return CodeownersSync(rel, True)
