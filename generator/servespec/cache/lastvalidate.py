"""What the last validation of each environment found, and the no-change check built on it: when
``servespec validate`` would check the same trees with the same inputs, schemas, code and
``--base`` as a validation before it, its report is that one's, printed without importing
pydantic, the schemas or any spec module (``cli/fastpath.py``).

One framed file per environment (``verdict-<env>`` in the repo's cache folder) holds, per
setting (the ``--crds`` folder and ``--base``), the verdict's key, the token of the manifest of
the tree it was computed for, and the env's notes, problems and object count. The key is the
digest of every input a render reads besides ``rendered/`` (``fingerprint.base_digest``: the
code, ``specs/``, ``overlays/``), the CRD files (path, size, mtime), the setting and the git
tree ``rendered/`` is at ``--base`` (one ``git rev-parse``); the tree is proven to be the one
the manifest describes by ``lstat``, as ``render``'s no-op does (``lastrender.py``).

Written by ``validate`` for every env whose tree it found exactly as its manifest says, and by
the workers of a large render for the env each wrote (``validate.record_verdict``), so that the
validate after a cold render only proves the trees. A stale or damaged verdict can only miss.
Standard library only.
"""

from __future__ import annotations

import os
import subprocess
from hashlib import blake2b

from .fingerprint import base_digest, read_framed, repo_dir, write_framed
from .manifest import load_manifest, manifest_path, still_holds

__all__ = ["SETTINGS_KEPT", "Verdict", "verdict_path", "verdict_inputs", "verdict_key", "rendered_tree_at", "save_verdict", "kept_verdicts"]

_FORMAT = 1
SETTINGS_KEPT = 8
"""Settings (``--crds``, ``--base``) an env's verdicts are kept for, the most recent ones."""

Verdict = tuple[tuple[str, ...], tuple[tuple[str, int | None, str, str], ...], int]
"""(notes, problems as ``(file, line, field, message)``, objects) of one environment."""


def verdict_path(root: str, env: str) -> str:
    return os.path.join(repo_dir(root), f"verdict-{env}")


def verdict_inputs(root: str, crds: str | None, base: str | None, inputs: str | None = None) -> str:
    """Everything besides the env and its tree a verdict depends on (``inputs``: the render's
    ``base_digest``, when already computed): read before anything is validated."""
    h = blake2b(f"{_FORMAT}\0{inputs or base_digest(root)}\0{base or ''}\0".encode(), digest_size=16)
    if crds is not None:
        top = os.path.realpath(crds)
        h.update(f"crds {top}\n".encode())
        for here, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".yaml"):
                    st = os.stat(os.path.join(here, name))
                    h.update(f"{os.path.join(here, name)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    h.update(f"tree {rendered_tree_at(root, base) if base else None}".encode())
    return h.hexdigest()


def verdict_key(inputs: str, env: str) -> str:
    return blake2b(f"{inputs}\0{env}".encode(), digest_size=16).hexdigest()


def _setting(crds: str | None, base: str | None) -> str:
    return f"{os.path.realpath(crds) if crds is not None else ''}\0{base or ''}"


def rendered_tree_at(root: str, base: str) -> str | None:
    """The git tree id of ``rendered/`` at ``base`` (one ``git rev-parse``), or None (no git, no
    such commit, no ``rendered/`` there)."""
    if base.startswith("-"):
        return None  # an option, not a revision
    try:
        found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{base}:./rendered"], cwd=root,
                               capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    tree = found.stdout.strip()
    return tree if found.returncode == 0 and len(tree) in (40, 64) else None


def save_verdict(root: str, env: str, crds: str | None, base: str | None, key: str, token: str, verdict: Verdict) -> None:
    """Keep ``verdict`` for ``env``'s tree with manifest ``token``, under ``key`` (:func:`verdict_key`)."""
    path = verdict_path(root, env)
    old = read_framed(path)
    table = dict(old["settings"]) if isinstance(old, dict) and old.get("format") == _FORMAT and isinstance(old.get("settings"), dict) else {}
    setting = _setting(crds, base)
    table.pop(setting, None)
    table[setting] = (key, token, *verdict)
    kept = dict(list(table.items())[-SETTINGS_KEPT:])  # the most recently used settings
    write_framed(path, {"format": _FORMAT, "settings": kept})


def kept_verdicts(root: str, envs: list[str], crds: str | None, base: str | None) -> list[Verdict] | None:
    """The verdict of each of ``envs`` (in order) when every one is kept for its tree as it is
    and the inputs as they are, else None (validate then runs)."""
    inputs = verdict_inputs(root, crds, base)
    setting = _setting(crds, base)
    out: list[Verdict] = []
    for env in envs:
        rec = read_framed(verdict_path(root, env))
        entry = rec["settings"].get(setting) if isinstance(rec, dict) and isinstance(rec.get("settings"), dict) else None
        if not (isinstance(entry, tuple) and len(entry) == 5 and entry[0] == verdict_key(inputs, env)):
            return None
        manifest = load_manifest(manifest_path(root, env))
        if manifest is None or manifest.token != entry[1] or not still_holds(os.path.join(root, "rendered", env), manifest):
            return None
        out.append((entry[2], entry[3], entry[4]))
    return out
