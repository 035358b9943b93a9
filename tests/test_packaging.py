"""Installing servespec: the pip requirement `servespec init` writes is a source that exists; the
wheel and sdist `python -m build` makes install and run in a clean venv; the README's Quickstart
works in a fresh clone with no ../shared beside it (slow tier)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

import servespec
from conftest import REPO, git, run_cli
from servespec.errors import UsageError
from servespec.install_source import (
    EXAMPLE_SOURCE, ServespecSource, check_requirement, pip_git_url, resolve_source, source_from_checkout,
    source_from_distribution,
)

RUNNING = Path(servespec.__file__).resolve().parents[2]
"""The checkout whose servespec these tests import (the repo, or a worktree on PYTHONPATH)."""
_GIT_REQ = re.compile(r"servespec @ git\+(?P<url>\S+)@(?P<sha>[0-9a-f]{40})")


def _commit_exists(repo: Path, sha: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True).returncode == 0


def _assert_source_exists(requirement: str, checkout: Path) -> None:
    """A git requirement names a commit that its repository has (offline: a remote URL must be the
    checkout's origin with the commit on one of origin's branches)."""
    m = _GIT_REQ.fullmatch(requirement)
    assert m, requirement
    url, sha = m["url"], m["sha"]
    if url.startswith("file://localhost/"):
        assert _commit_exists(Path(unquote(url[len("file://localhost"):])), sha), requirement
    else:
        assert url == pip_git_url(git(checkout, "remote", "get-url", "origin").strip(), checkout)
        assert git(checkout, "branch", "-r", "--contains", sha, "--list", "origin/*").strip(), requirement


def test_default_source_is_the_running_checkout_at_head_and_exists() -> None:
    if not (RUNNING / ".git").exists():
        pytest.skip(f"servespec is not running from a git checkout ({RUNNING})")
    source = resolve_source()
    _assert_source_exists(source.requirement, RUNNING)
    assert source.requirement.endswith("@" + git(RUNNING, "rev-parse", "HEAD").strip())


def test_init_writes_the_source_into_readme_and_workflows(tmp_path: Path) -> None:
    res = run_cli("init", tmp_path / "new")
    assert res.exit_code == 0, res.stderr
    req = resolve_source().requirement
    assert res.stdout.splitlines()[1] == f"servespec source: {req}"
    assert f'pip install "{req}"\n' in (tmp_path / "new/README.md").read_text()
    workflows = tmp_path / "new/.github/workflows"
    assert f'run: python -m pip install "{req}" pytest\n' in (workflows / "servespec.yml").read_text()
    assert f'run: python -m pip install "{req}"\n' in (workflows / "servespec-promote.yml").read_text()
    if (RUNNING / ".git").exists():
        _assert_source_exists(req, RUNNING)


def test_init_with_a_given_source(tmp_path: Path) -> None:
    res = run_cli("init", tmp_path / "new", "--servespec-source", " servespec==0.2.0 ")
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    assert 'pip install "servespec==0.2.0"\n' in (tmp_path / "new/README.md").read_text()
    assert 'pip install "servespec==0.2.0" pytest\n' in (tmp_path / "new/.github/workflows/servespec.yml").read_text()


def test_init_refuses_a_source_that_is_not_a_servespec_requirement(tmp_path: Path) -> None:
    res = run_cli("init", tmp_path / "new", "--servespec-source", "pip install servespec")
    assert res.exit_code == 2
    assert res.stderr == ("servespec: error: --servespec-source: expected one pip requirement for servespec such as "
                          f"\"servespec==0.2.0\" or \"{EXAMPLE_SOURCE}\", found 'pip install servespec'\n")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("requirement", [
    "servespec", "numpy==2.0", 'servespec @ "git+https://x/y"', "servespec==1 # pinned", "servespec==$(id)",
    "servespec==1\nservespec==2",
], ids=["no-version", "another-package", "quotes", "comment", "shell", "two-lines"])
def test_check_requirement_refuses(requirement: str) -> None:
    with pytest.raises(UsageError) as exc:
        check_requirement(requirement)
    assert str(exc.value) == ("--servespec-source: expected one pip requirement for servespec such as \"servespec==0.2.0\" "
                              f"or \"{EXAMPLE_SOURCE}\", found {requirement!r}".replace("\n", "\\n"))


def test_check_requirement_accepts() -> None:
    for req in ("servespec==0.2.0", "servespec>=0.2,<0.3", "servespec[kfp]==0.2.0", EXAMPLE_SOURCE,
                "servespec @ git+https://github.com/acme/servespec.git@v0.2.0#subdirectory=."):
        assert check_requirement(req) == req


@pytest.mark.parametrize(("remote", "url"), [
    ("https://github.com/acme/servespec.git", "git+https://github.com/acme/servespec.git"),
    ("https://x-access-token:ghs_secret@github.com/acme/servespec", "git+https://github.com/acme/servespec"),
    ("git@github.com:acme/servespec.git", "git+ssh://git@github.com/acme/servespec.git"),
    ("ssh://git:pw@git.example.com:2222/acme/servespec.git", "git+ssh://git@git.example.com:2222/acme/servespec.git"),
    ("file:///srv/git/servespec.git", "git+file://localhost/srv/git/servespec.git"),
    ("../mirrors/serve spec.git", "git+file://localhost/work/mirrors/serve%20spec.git"),
], ids=["https", "token-dropped", "scp", "ssh-password-dropped", "file", "relative-path"])
def test_pip_git_url(remote: str, url: str) -> None:
    assert pip_git_url(remote, Path("/work/checkout")) == url


def _checkout(tmp_path: Path) -> Path:
    co = tmp_path / "servespec"
    co.mkdir()
    (co / "pyproject.toml").write_text('[project]\nname = "servespec"\nversion = "0.1.0"\n')
    git(co, "init", "-q", "-b", "main")
    git(co, "add", "-A")
    git(co, "commit", "-qm", "servespec")
    return co


def test_checkout_with_head_on_origin_installs_from_origin(tmp_path: Path) -> None:
    co = _checkout(tmp_path)
    bare = tmp_path / "srv" / "servespec.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(co, "remote", "add", "origin", str(bare))
    git(co, "push", "-q", "-u", "origin", "main")
    sha = git(co, "rev-parse", "HEAD").strip()
    assert source_from_checkout(co) == ServespecSource(f"servespec @ git+file://localhost{bare}@{sha}",
                                                       f"the origin of the git checkout {co}")
    assert _commit_exists(bare, sha)
    (co / "pyproject.toml").write_text((co / "pyproject.toml").read_text() + "# local edit\n")
    assert source_from_checkout(co).note == f"{co} has uncommitted changes, which commit {sha[:12]} does not have"  # type: ignore[union-attr]


def test_checkout_with_unpushed_head_or_no_origin_installs_from_itself_with_a_note(tmp_path: Path) -> None:
    co = _checkout(tmp_path)
    sha = git(co, "rev-parse", "HEAD").strip()
    src = source_from_checkout(co)
    assert src is not None and src.requirement == f"servespec @ git+file://localhost{co}@{sha}"
    assert src.note == (f"the new repo installs servespec from {co} itself, which only this machine has: it has no origin; "
                        f"for CI elsewhere re-run init with --servespec-source \"{EXAMPLE_SOURCE}\"")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(co, "remote", "add", "origin", str(bare))
    git(co, "push", "-q", "-u", "origin", "main")
    git(co, "commit", "-q", "--allow-empty", "-m", "local only")
    sha = git(co, "rev-parse", "HEAD").strip()
    src = source_from_checkout(co)
    assert src is not None and src.requirement == f"servespec @ git+file://localhost{co}@{sha}"
    assert f"it has HEAD {sha[:12]} on no branch of origin (push it);" in src.note
    assert _commit_exists(co, sha)


def test_not_a_servespec_checkout(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert source_from_checkout(tmp_path) is None  # another project
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "servespec"\n')
    assert source_from_checkout(tmp_path) is None  # not a git repo
    git(tmp_path, "init", "-q")
    assert source_from_checkout(tmp_path) is None  # no commit yet


def test_source_from_an_installed_distribution() -> None:
    # PEP 610 direct_url.json, as pip writes it (pip@23.2.1:src/pip/_internal/models/direct_url.py)
    assert source_from_distribution(None, "0.3.1").requirement == "servespec==0.3.1"
    vcs = {"url": "https://github.com/acme/servespec.git", "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "main"}}
    assert source_from_distribution(json.dumps(vcs), "0.3.1").requirement == \
        f"servespec @ git+https://github.com/acme/servespec.git@{'a' * 40}"
    with pytest.raises(UsageError) as exc:
        source_from_distribution(json.dumps({"url": "file:///tmp/servespec-0.3.1-py3-none-any.whl", "archive_info": {}}), "0.3.1")
    assert str(exc.value) == (
        "--servespec-source: expected the pip requirement the new repo installs (servespec was installed from "
        "file:///tmp/servespec-0.3.1-py3-none-any.whl, which the new repo's CI cannot install), found none; pass e.g. "
        f"--servespec-source \"{EXAMPLE_SOURCE}\" or \"servespec==VERSION\"")


# -- slow: build, install into a clean venv, run ------------------------------------------------
def _clean_env(**extra: str) -> dict[str, str]:
    """This environment less what would make a venv see this checkout or the shared venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return {**env, **extra}


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _quickstart() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _dependencies(pyproject: str) -> list[str]:
    return list(tomllib.loads(pyproject)["project"]["dependencies"])


@dataclass
class AfterCommand1:
    """A fresh clone after the README Quickstart's first command, and what that command installed."""

    clone: Path
    """A clone of this checkout at HEAD with nothing beside it (no ../shared), its ``.venv`` made by the command."""
    commands: list[str]
    venv: Path
    """A copy of ``.venv`` as the first command left it (pip, setuptools, HEAD's dependencies and
    servespec from the clone, editable), taken before the second command adds the test extra."""
    dependencies: list[str]
    """The dependencies HEAD's pyproject.toml declares: what the first command installed."""


@pytest.fixture(scope="module")
def after_command_1(tmp_path_factory: pytest.TempPathFactory) -> AfterCommand1:
    """The README Quickstart's first command, run once for the two tests below: the Quickstart test
    goes on with the second command in the clone, and the wheel test installs the wheel into the
    copy of the venv, a venv with exactly servespec's dependencies (~15 s of CPU less than making
    another one)."""
    if os.environ.get("SERVESPEC_QUICKSTART_INNER"):
        pytest.skip("this is the test run the Quickstart itself started")
    tmp = tmp_path_factory.mktemp("quickstart")
    clone = tmp / "work" / "servespec"  # tmp/work/shared does not exist
    git(tmp, "clone", "-q", "--no-checkout", str(REPO), str(clone))
    head = git(REPO, "rev-parse", "HEAD").strip()
    git(clone, "checkout", "-q", head)
    commands = _quickstart()
    assert len(commands) == 2 and not any("shared" in c for c in commands), commands
    _run("bash", "-ec", commands[0], cwd=clone, env=_quickstart_env(), timeout=3000)
    made = clone / ".venv"

    def link_or_copy(src: str, dst: str) -> None:
        """What pip installed (lib/) is hard-linked: pip replaces a file, never writes into one, so
        neither venv changes the other's; bin/ and pyvenv.cfg, which ``python -m venv`` writes
        again in place, are copied. 20,000 links: 0.4 s, where copies took 3.4 s."""
        if Path(src).relative_to(made).parts[0] == "lib":
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    venv = shutil.copytree(made, tmp / "venv-after-command-1", symlinks=True, copy_function=link_or_copy)
    return AfterCommand1(clone, commands, venv, _dependencies(git(REPO, "show", f"{head}:pyproject.toml")))


def _quickstart_env() -> dict[str, str]:
    # The second command's test run only collects the suite there: this very run executes it, and
    # collecting proves the test dependencies installed and every test module imports.
    return _clean_env(SERVESPEC_QUICKSTART_INNER="1", PYTEST_ADDOPTS="--collect-only --snapshot-warn-unused")


def _source_tree(dest: Path) -> Path:
    """What `python -m build` reads: pyproject, README, LICENSE and the package (a copy: no build/ litter)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(RUNNING / name, dest / name)
    shutil.copytree(RUNNING / "generator", dest / "generator",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    return dest


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_and_sdist_install_and_run_in_a_clean_venv(tmp_path: Path, after_command_1: AfterCommand1) -> None:
    pytest.importorskip("build", reason="python -m build needs the build package (pip install -e '.[test]')")
    t0 = time.monotonic()
    deps = _dependencies((RUNNING / "pyproject.toml").read_text())
    if deps == after_command_1.dependencies:
        venv = after_command_1.venv  # no --system-site-packages: only what the wheel pulls in (and pip, setuptools)
    else:  # this checkout declares other dependencies than its HEAD, which the Quickstart installed
        venv = tmp_path / "venv"
        _run(sys.executable, "-m", "venv", venv)
        _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *deps)
    py, cli = venv / "bin" / "python", venv / "bin" / "servespec"
    src = _source_tree(tmp_path / "src")
    _run(sys.executable, "-m", "build", "--outdir", tmp_path / "dist", src)  # the sdist, then the wheel from the sdist
    t_build = time.monotonic() - t0
    (wheel,), (sdist,) = sorted((tmp_path / "dist").glob("*.whl")), sorted((tmp_path / "dist").glob("*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("servespec/py.typed", "servespec/templates/init/dot-github/workflows/servespec.yml",
                 "servespec/templates/init/overlays/prod.yaml", "servespec-0.1.0.dist-info/licenses/LICENSE"):
        assert name in names
    metadata = zipfile.ZipFile(wheel).read("servespec-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0\n" in metadata and "Classifier: Typing :: Typed\n" in metadata
    assert {"servespec-0.1.0/LICENSE", "servespec-0.1.0/README.md"} <= set(tarfile.open(sdist).getnames())
    # the wheel replaces the editable install of the clone; `pip check` proves the wheel's own
    # Requires-Dist is what is installed
    _run(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", wheel)
    _run(py, "-m", "pip", "check")
    imported = _run(py, "-c", "import servespec; print(servespec.__file__)").stdout.strip()
    assert Path(imported).is_relative_to(venv / "lib"), imported  # the wheel's, not the clone's sources
    t_install = time.monotonic() - t0
    assert _run(cli, "--version").stdout == "servespec, version 0.1.0\n"
    refused = _run(cli, "init", tmp_path / "refused", check=False)  # installed from a wheel file: no source to pin
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"servespec: error: --servespec-source: expected the pip requirement the new repo "
                                     f"installs (servespec was installed from {wheel.as_uri()}, ")
    repo = tmp_path / "repo"
    made = _run(cli, "init", repo, "--servespec-source", f"servespec @ {wheel.as_uri()}")
    assert made.stdout.startswith(f"created {repo}: 9 files, 3 editor files, 0 CRDs, rendered dev, prod, staging\n")
    assert _run(cli, "render", "--check", "--root", repo).stdout == "rendered/ is up to date (dev, prod, staging)\n"
    assert _run(cli, "explain", "Predictor.scale_metric").stdout.startswith("Predictor.scale_metric  (YAML: scaleMetric)\n")
    # the line init writes by default, from this checkout, is one pip (Python 3.11's own) can install
    default = resolve_source().requirement
    if "git+file://" in default:
        _run(py, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp_path / "dl", default)
        assert len(list((tmp_path / "dl").glob("servespec-*"))) == 1
    print(f"\nbuild {t_build:.1f}s, installed {t_install:.1f}s, total {time.monotonic() - t0:.1f}s")


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_readme_quickstart_in_a_fresh_clone_without_shared(after_command_1: AfterCommand1) -> None:
    # the first command ran in the fixture (installed servespec, rendered and validated the example
    # repo); the second goes on from there, as a reader does
    _run("bash", "-ec", after_command_1.commands[1], cwd=after_command_1.clone, env=_quickstart_env(), timeout=3000)
