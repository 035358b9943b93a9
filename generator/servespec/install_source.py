"""Where a repo made by ``servespec init`` installs servespec from: the pip requirement its README
and workflows use (``servespec init --servespec-source REQ``).

Without ``--servespec-source`` the new repo installs the servespec that is running, pinned:

1. running from a git checkout of servespec (``pip install -e .`` or ``PYTHONPATH``): its
   ``origin`` at ``HEAD`` (``servespec @ git+https://HOST/OWNER/servespec.git@SHA``) when ``HEAD``
   is on a branch of ``origin``; else the checkout itself (``git+file://...@SHA``), which only this
   machine has, with a note saying so;
2. installed from a git URL (``pip install git+https://...``, PEP 610 ``direct_url.json``): that
   URL at the installed commit;
3. installed from a package index: ``servespec==VERSION``;
4. anything else (a wheel file, a folder that is not a git checkout): refused, asking for
   ``--servespec-source``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import git

from .errors import Problem, UsageError

__all__ = ["ServespecSource", "resolve_source", "check_requirement", "source_from_checkout",
           "source_from_distribution", "pip_git_url", "EXAMPLE_SOURCE"]

EXAMPLE_SOURCE = "servespec @ git+https://github.com/OWNER/servespec@COMMIT"
_REQUIREMENT = re.compile(r"^servespec\s*(@|==|~=|>=|<=|!=|<|>|\[)", re.IGNORECASE)
_SCP = re.compile(r"^(?P<user>[\w.-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")


@dataclass(frozen=True)
class ServespecSource:
    """The requirement, where it came from (for the user) and a warning, if any."""

    requirement: str
    origin: str
    note: str = ""


def check_requirement(requirement: str) -> str:
    """``requirement`` stripped, if it is one pip requirement naming servespec that can stand
    inside double quotes in a shell command and a workflow; else a ``UsageError``."""
    req = requirement.strip()
    if not _REQUIREMENT.match(req) or any(c in req for c in "\"'`$\\\n\r") or re.search(r"\s#", req):
        raise UsageError(Problem("--servespec-source", None, "", f"expected one pip requirement for servespec such as "
                                 f"\"servespec==0.2.0\" or \"{EXAMPLE_SOURCE}\", found {requirement!r}"))
    return req


def pip_git_url(remote: str, base: Path) -> str:
    """A git remote URL as pip's VCS URL (``git+https://...``, ``git+ssh://...``, ``git+file://localhost/...``);
    a password or token in it is dropped, a relative path is taken from ``base``."""
    scp = _SCP.match(remote) if "://" not in remote else None
    if scp is not None:
        return f"git+ssh://{scp['user'] or ''}{scp['host']}/{scp['path']}"
    parts = urlsplit(remote)
    if parts.scheme in ("https", "http", "ssh", "git"):
        host = parts.netloc.rsplit("@", 1)[-1]
        user = f"{parts.username}@" if parts.scheme == "ssh" and parts.username else ""
        return "git+" + urlunsplit((parts.scheme, user + host, parts.path, "", ""))
    path = Path(parts.path) if parts.scheme == "file" else (base / remote).resolve()
    return _file_url(path)


def _file_url(path: Path) -> str:
    # file://localhost/...: pip (23.2, Python 3.11's) refuses "git+file:///..." in a requirement
    # ("Invalid requirement": a URL must have a host)
    return f"git+file://localhost{quote(path.as_posix())}"


def _origin_has(repo: object, sha: str) -> bool:
    out: str = repo.git.branch("-r", "--contains", sha, "--list", "origin/*")  # type: ignore[attr-defined]
    return bool(out.strip())


def source_from_checkout(root: Path) -> ServespecSource | None:
    """The source of a git checkout of servespec at ``root``, or None when ``root`` is not one."""

    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not re.search(r'(?m)^name\s*=\s*"servespec"', pyproject.read_text(encoding="utf-8")):
        return None
    try:
        repo = git.Repo(root)
        sha = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    dirty = f"{root} has uncommitted changes, which commit {sha[:12]} does not have" if repo.is_dirty() else ""
    origin = next((r for r in repo.remotes if r.name == "origin"), None)
    if origin is not None and _origin_has(repo, sha):
        return ServespecSource(f"servespec @ {pip_git_url(origin.url, root)}@{sha}", f"the origin of the git checkout {root}", dirty)
    why = "has no origin" if origin is None else f"has HEAD {sha[:12]} on no branch of origin (push it)"
    note = (f"the new repo installs servespec from {root} itself, which only this machine has: it {why}; "
            f"for CI elsewhere re-run init with --servespec-source \"{EXAMPLE_SOURCE}\"" + (f"; {dirty}" if dirty else ""))
    return ServespecSource(f"servespec @ {_file_url(root.resolve())}@{sha}", f"the git checkout {root}", note)


def source_from_distribution(direct_url: str | None, version: str) -> ServespecSource:
    """The source of an installed servespec from its PEP 610 ``direct_url.json`` (None: from an index)."""
    if direct_url is None:
        return ServespecSource(f"servespec=={version}", "the package index servespec was installed from")
    data = json.loads(direct_url)
    vcs = data.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return ServespecSource(f"servespec @ {pip_git_url(data['url'], Path('/'))}@{vcs['commit_id']}",
                               "the git URL servespec was installed from")
    raise _no_source(f"servespec was installed from {data.get('url')}, which the new repo's CI cannot install")


def _no_source(why: str) -> UsageError:
    return UsageError(Problem("--servespec-source", None, "", f"expected the pip requirement the new repo installs ({why}), "
                              f"found none; pass e.g. --servespec-source \"{EXAMPLE_SOURCE}\" or \"servespec==VERSION\""))


def resolve_source(explicit: str | None = None) -> ServespecSource:
    """The requirement ``init`` writes: ``explicit`` if given (checked), else the running servespec's
    own source as the module docstring says."""
    if explicit is not None:
        return ServespecSource(check_requirement(explicit), "--servespec-source")
    found = source_from_checkout(Path(__file__).resolve().parents[2])
    if found is not None:
        return found
    try:
        dist = metadata.distribution("servespec")
    except metadata.PackageNotFoundError:
        raise _no_source("servespec is neither installed nor running from a git checkout") from None
    return source_from_distribution(dist.read_text("direct_url.json"), dist.version)
