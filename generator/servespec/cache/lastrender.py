"""The record of the last render of a repo, and the no-op check built on it: when every input has
the fingerprint it had then (``fingerprint.inputs_digest``) and every environment's tree is still
the one that render left (its manifest, ``manifest.py``), ``servespec render`` has nothing to do.

``render`` trusts ``lstat`` (every folder and file as recorded: an edit moves ctime, an added or
removed file moves its folder's mtime); ``render --check`` reads and hashes every file instead.
Standard library only: the CLI asks this before importing anything heavy.
"""

from __future__ import annotations

import os

from .fingerprint import file_digest, inputs_digest, read_framed, repo_dir, write_framed
from .manifest import load_manifest, manifest_path, still_holds

__all__ = ["Noop", "noop", "save_record", "discover_envs", "record_path", "codeowners_state", "CODEOWNERS"]

CODEOWNERS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
"""Where ``render`` keeps the code owners' lines (``codeowners.LOCATIONS``, at the git repository's top)."""

_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_LABEL = _LOWER | frozenset("0123456789-")


def _env_name(name: str) -> bool:
    """An environment's name: ``^[a-z]([-a-z0-9]*[a-z0-9])?$``, as ``overlay.py`` (no ``re``: start-up time)."""
    return bool(name) and name[0] in _LOWER and name[-1] != "-" and set(name) <= _LABEL


class Noop:
    """What an up-to-date render reports: each environment with its file count, and the
    warnings the last render printed that hold as long as nothing changes."""

    def __init__(self, warnings: list[str]):
        self.envs: list[tuple[str, int]] = []
        self.warnings = warnings


def record_path(root: str) -> str:
    """Where the record of the last render of ``root`` is kept."""
    return os.path.join(repo_dir(root), "last-render")


def discover_envs(root: str) -> list[str]:
    """Names of the environments under ``root/overlays`` (as ``overlay.discover_envs``)."""
    names = set()
    try:
        entries = list(os.scandir(os.path.join(root, "overlays")))
    except OSError:
        return []
    for entry in entries:
        stem = entry.name[:-5] if entry.name.endswith(".yaml") and entry.is_file() else entry.name if entry.is_dir() else None
        if stem and _env_name(stem):
            names.add(stem)
    return sorted(names)


def codeowners_state(root: str) -> list[tuple[str, bytes]]:
    """The digest of each CODEOWNERS location at the top of the git repository holding ``root``
    (empty when missing): what a render of every env left there."""
    top = root
    while not os.path.exists(os.path.join(top, ".git")) and os.path.dirname(top) != top:
        top = os.path.dirname(top)
    if not os.path.exists(os.path.join(top, ".git")):
        top = root
    out = []
    for rel in CODEOWNERS:
        try:
            with open(os.path.join(top, rel), "rb") as f:
                out.append((rel, file_digest(f.read())))
        except OSError:
            out.append((rel, b""))
    return out


def save_record(root: str, inputs: str, envs: dict[str, tuple[str, int]], warnings: list[str], deps: list[str],
                owners: list[tuple[str, bytes]] | None) -> None:
    """Remember that ``envs`` (name -> (manifest token, file count)) were rendered from inputs
    with the fingerprint ``inputs``, with these ``warnings``, and (a render of every env) left
    CODEOWNERS as ``owners``; environments rendered earlier from the same inputs are kept."""
    old = read_framed(record_path(root))
    same = isinstance(old, dict) and old.get("deps") == deps and isinstance(old.get("envs"), dict)
    table = dict(old["envs"]) if same and isinstance(old, dict) else {}
    table.update({env: (inputs, token, count) for env, (token, count) in envs.items()})
    if owners is None and same and isinstance(old, dict):
        owners = old.get("owners")
    write_framed(record_path(root), {"format": 1, "deps": deps, "envs": table, "warnings": warnings, "owners": owners})


def noop(root: str, envs: list[str] | None, check: bool) -> Noop | None:
    """The report of a render of ``envs`` (None: all) that has nothing to do, or None when that
    cannot be proven cheaply (then the render runs)."""
    rec = read_framed(record_path(root))
    if not isinstance(rec, dict) or rec.get("format") != 1 or not isinstance(rec.get("envs"), dict):
        return None
    known = discover_envs(root)
    wanted = list(dict.fromkeys(envs)) if envs else known
    if not wanted or any(env not in known for env in wanted):
        return None
    if not _rendered_is_clean(root, wanted, known if not envs else None):
        return None
    if not envs and rec.get("owners") != codeowners_state(root):  # a render of every env keeps CODEOWNERS in line
        return None
    deps = rec.get("deps")
    inputs = inputs_digest(root, deps if isinstance(deps, list) else [])
    out = Noop(warnings=[w for w in rec.get("warnings") or [] if isinstance(w, str)])
    for env in wanted:
        entry = rec["envs"].get(env)
        if not (isinstance(entry, tuple) and len(entry) == 3 and entry[0] == inputs):
            return None
        manifest = load_manifest(manifest_path(root, env))
        top = os.path.join(root, "rendered", env)
        if manifest is None or manifest.token != entry[1] or not (manifest.proven(top) if check else still_holds(top, manifest)):
            return None
        out.envs.append((env, entry[2]))
    return out


def _rendered_is_clean(root: str, wanted: list[str], all_envs: list[str] | None) -> bool:
    """``rendered/`` is a real folder, holds no leftover of a crashed render of a wanted env and,
    when every env is rendered (``all_envs``), no env servespec would remove (an orphan)."""
    folder = os.path.join(root, "rendered")
    if os.path.islink(folder):
        return False
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        name = entry.name
        if name.startswith(".") and any(name.startswith(f".{env}.") for env in wanted):
            return False
        if (all_envs is not None and not name.startswith(".") and name not in all_envs and entry.is_dir()
                and os.path.isfile(os.path.join(entry.path, "kustomization.yaml"))):
            return False
    return True
