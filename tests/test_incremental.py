"""Render as an incremental build (issue 19): the no-op answered before anything heavy is imported,
a stale tree never reported up to date, a change made in the spare tree touching only what
changed, spec modules imported again only when their source or imports changed, validate
reading only files whose stat moved. Timings are the benchmark's business (bench/), not these
tests'."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, run_cli
from servespec.cache import lastrender
from servespec.cache.fingerprint import MAGIC, file_digest, read_framed, write_framed
from servespec.cache.manifest import Manifest
from servespec.cache.render import RenderCache
from servespec.cache.specs import SpecCache
from servespec.cli.fastpath import parse_render, parse_validate
from servespec.envtree import EnvTree
from servespec.errors import SpecError
from servespec.validate.tree import rendered_files

HEAVY = ("pydantic", "click", "yaml", "orjson", "git", "jsonschema", "grafana_foundation_sdk", "servespec.spec", "servespec.emit",
         "servespec.render", "servespec.loader")


def _bump(repo: Path, old: str = "max_replicas=6", new: str = "max_replicas=7") -> None:
    spec = repo / "specs/fraud_detector.py"
    text = spec.read_text()
    spec.write_text(text.replace(old, new) if old in text else text.replace(new, old))


def _unchanged(repo: Path, *envs: str) -> list[str]:
    return [f"{env}: unchanged ({sum(1 for p in (repo / 'rendered' / env).rglob('*') if p.is_file())} files)" for env in envs]


# -- the fast path ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "parsed"), [
    (["render"], (None, [], False)),
    (["render", "--check"], (None, [], True)),
    (["--root", "r", "render", "--env", "dev", "--env=prod"], ("r", ["dev", "prod"], False)),
    (["--debug", "render", "--root=r", "--check"], ("r", [], True)),
    (["render", "--no-cache"], None),
    (["render", "--help"], None),
    (["render", "--env"], None),
    (["--env", "dev", "render"], None),  # --env is render's option, not the group's
    (["validate"], None),
    (["render", "extra"], None),
    ([], None),
])
def test_only_plain_render_command_lines_take_the_fast_path(argv: list[str], parsed: object) -> None:
    assert parse_render(argv) == parsed


@pytest.mark.parametrize(("argv", "parsed"), [
    (["validate"], (None, [], None, "HEAD")),
    (["--root", "r", "validate", "--env", "dev", "--env=prod", "--crds", "c", "--base=main"], ("r", ["dev", "prod"], "c", "main")),
    (["--debug", "validate", "--crds=a", "--crds", "b", "--base", "x", "--base", "y"], (None, [], "b", "y")),  # as click: the last
    (["validate", "--no-cache"], None),
    (["validate", "--help"], None),
    (["validate", "--crds"], None),
    (["validate", "--base="], None),
    (["--crds", "c", "validate"], None),  # validate's options, not the group's
    (["render"], None),
    (["validate", "extra"], None),
    ([], None),
])
def test_only_plain_validate_command_lines_take_the_fast_path(argv: list[str], parsed: object) -> None:
    assert parse_validate(argv) == parsed


def test_a_noop_render_imports_nothing_heavy(example_repo: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "generator")}
    assert run_cli("render", "--root", example_repo).exit_code == 0  # records the render (same cache folder: conftest)
    probe = ("import sys\nfrom servespec.cli import main\ntry:\n    main(['render', '--root', sys.argv[1]])\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\nprint(sorted(m for m in sys.modules if m.split('.')[0] in sys.argv[2:] or m in sys.argv[2:] "
             "or m.startswith(tuple(h + '.' for h in sys.argv[2:]))))")
    out = subprocess.run([sys.executable, "-c", probe, str(example_repo), *HEAVY], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines() == [*_unchanged(example_repo, "dev", "prod", "staging"), "[]"]


def test_the_fast_path_answers_env_selections_and_refuses_unknown_envs(example_repo: Path) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert run_cli("render", "--env", "prod", "--env", "dev", "--env", "prod", "--root", example_repo).stdout.splitlines() == \
        _unchanged(example_repo, "prod", "dev")
    unknown = run_cli("render", "--env", "qa", "--root", example_repo)
    assert (unknown.exit_code, unknown.stderr) == (2, "servespec: error: overlays/: unknown environment 'qa' (known: dev, prod, staging)\n")


def test_render_check_proves_the_tree_by_hashes_not_by_stat(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    target = example_repo / "rendered/staging/kustomization.yaml"
    before = target.stat()
    target.write_bytes(target.read_bytes().replace(b"- common", b"- c0mmon"))  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    monkeypatch.setattr(Manifest, "unchanged", lambda self, top: True)  # as if every stat were the recorded one
    check = run_cli("render", "--check", "--root", example_repo)
    assert check.exit_code == 1
    assert check.stderr == "servespec: error: rendered/staging: stale: run `servespec render` and commit the result\n"


@pytest.mark.parametrize("stray", ["rendered/.prod.x1y2z3", "rendered/qa/kustomization.yaml"])
def test_leftovers_and_orphans_are_no_noop(example_repo: Path, stray: str) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    (example_repo / stray).parent.mkdir(parents=True, exist_ok=True)
    if stray.endswith(".yaml"):
        (example_repo / stray).write_text("resources: []\n")
    else:
        (example_repo / stray).mkdir()
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0
    assert not (example_repo / stray).exists()
    assert result.stdout.endswith("qa: removed (no overlay)\n") == stray.startswith("rendered/qa")


@given(st.text(alphabet="abcz09-_.AZ é", max_size=8))
def test_env_names_follow_the_overlay_rule(name: str) -> None:
    assert lastrender._env_name(name) == bool(re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name))


# -- cache files ------------------------------------------------------------------------------------------
def test_a_framed_file_reads_back_and_damage_reads_as_none(tmp_path: Path) -> None:
    path = str(tmp_path / "f")
    assert write_framed(path, {"a": [(1, b"x")]}) and read_framed(path) == {"a": [(1, b"x")]}
    raw = (tmp_path / "f").read_bytes()
    for damaged in (raw[:-1], raw[: len(MAGIC) + 10], b"", raw[:-1] + bytes([raw[-1] ^ 1]), b"x" + raw[1:]):
        (tmp_path / "f").write_bytes(damaged)
        assert read_framed(path) is None
    assert read_framed(str(tmp_path / "missing")) is None
    assert not write_framed(path, {"a": object()})


def test_the_file_digest_is_the_git_blob_id() -> None:
    data = b"kind: Namespace\n"
    blob = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True).stdout.decode().strip()
    assert file_digest(data).hex() == blob


# -- the spare tree -----------------------------------------------------------------------------------------
def test_a_change_is_made_in_the_spare_tree_and_touches_only_changed_files(example_repo: Path) -> None:
    dev = example_repo / "rendered/dev"
    assert run_cli("render", "--root", example_repo).exit_code == 0
    _bump(example_repo)
    assert run_cli("render", "--root", example_repo).stdout.startswith("dev: 0 added, 1 changed, 0 removed")  # builds the spare
    inodes = {p.relative_to(dev).as_posix(): p.stat().st_ino for p in dev.rglob("*") if p.is_file()}
    top = dev.stat().st_ino
    _bump(example_repo)
    tree = EnvTree(example_repo, "dev")
    files = {rel: (digest, None) for rel, digest in tree.digests().items()}
    changed = "models/fraud-detector/inferenceservice.yaml"
    data = (dev / changed).read_bytes().replace(b"maxReplicas: 7", b"maxReplicas: 6")
    files[changed] = (file_digest(data), data)
    change = tree.write(files)
    assert (change.changed, change.spare) == ([changed], True)
    assert dev.stat().st_ino != top  # swapped in whole, as one folder
    after = {p.relative_to(dev).as_posix(): p.stat().st_ino for p in dev.rglob("*") if p.is_file()}
    assert sorted(rel for rel in after if after[rel] != inodes[rel]) == [changed]  # every other file is the same inode
    assert not [p for p in (example_repo / "rendered").iterdir() if p.name.startswith(".")]


def test_a_file_known_by_digest_only_must_be_on_disk(example_repo: Path) -> None:
    assert run_cli("render", "--root", example_repo).exit_code == 0
    tree = EnvTree(example_repo, "dev")
    files = {rel: (digest, None) for rel, digest in tree.digests().items()}
    files["common/namespace.yaml"] = (file_digest(b"other\n"), None)
    with pytest.raises(Exception, match="1 files must be rendered") as exc:
        tree.write(files)
    assert getattr(exc.value, "paths", None) == ["common/namespace.yaml"]


# -- the spec cache -------------------------------------------------------------------------------------------
def test_spec_modules_are_imported_again_only_when_they_or_their_imports_changed(example_repo: Path) -> None:
    specs = example_repo / "specs"
    (specs / "_team.py").write_text('TEAM = "risk"\n')
    fraud = specs / "fraud_detector.py"
    fraud.write_text("from _team import TEAM\n" + fraud.read_text().replace('labels={"team": "risk"}', 'labels={"team": TEAM}'))
    modules = sorted(p.name for p in specs.glob("*.py") if not p.name.startswith("_"))
    cache = SpecCache(example_repo)
    first = cache.load()
    assert cache.reused == 0 and first.models["fraud-detector"].labels == {"team": "risk"}
    assert SpecCache(example_repo).load().models.keys() == first.models.keys()
    again = SpecCache(example_repo)
    again.load()
    assert again.reused == len(modules)
    _bump(example_repo)
    one = SpecCache(example_repo)
    assert one.load().models["fraud-detector"].predictor.max_replicas == 7 and one.reused == len(modules) - 1
    (specs / "_team.py").write_text('TEAM = "fraud"\n')
    helper = SpecCache(example_repo)
    assert helper.load().models["fraud-detector"].labels == {"team": "fraud"}
    # the modules imported before fraud_detector.py loaded _team.py are kept; those after it may depend on it
    assert helper.reused == modules.index("fraud_detector.py")
    assert first.digests["fraud-detector"] != helper.load().digests["fraud-detector"]


def test_a_failing_spec_is_never_kept(example_repo: Path) -> None:
    cache = SpecCache(example_repo)
    cache.load()
    (example_repo / "specs/zz_bad.py").write_text("x = 1\nraise ValueError('no')\n")
    for _ in range(2):
        with pytest.raises(SpecError) as exc:
            SpecCache(example_repo).load()
        assert [str(p) for p in exc.value.problems] == ["specs/zz_bad.py:2: importing the spec raised ValueError: no"]


# -- validate ---------------------------------------------------------------------------------------------------
def test_validate_reads_only_files_whose_stat_moved_and_reuses_webhook_findings(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import servespec.validate.kserve as kserve

    assert run_cli("render", "--root", example_repo).exit_code == 0
    files = rendered_files(example_repo, "prod")
    assert files and all(digest is not None for digest in files.values())
    target = example_repo / "rendered/prod/common/namespace.yaml"
    target.write_text(target.read_text())  # same bytes, new stat: read again
    assert rendered_files(example_repo, "prod")["common/namespace.yaml"] is None
    assert run_cli("validate", "--root", example_repo).exit_code == 0
    calls: list[str] = []
    real = kserve.check_inferenceservice
    monkeypatch.setattr(kserve, "check_inferenceservice", lambda new, old, minor: calls.append("x") or real(new, old, minor))
    assert run_cli("validate", "--root", example_repo).stdout.endswith("objects valid\n")
    assert calls == []
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(Path(RenderCache(example_repo).folder).parent / "other"))
    assert run_cli("validate", "--root", example_repo).exit_code == 0 and calls  # another cache: checked again


# -- rollouts -------------------------------------------------------------------------------------------------------
def test_a_rollout_change_writes_one_model_and_keeps_unrelated_drift(example_repo: Path, tmp_path: Path) -> None:
    """``render.write_model_change`` (what a rollout commit writes: ``rollout/apply.commit_transition``)
    writes the model's files and the env-wide ones, every other file as on disk: the tree a full
    render with the new state gives before the drift."""
    import dataclasses

    from conftest import copy_example
    from servespec.project import Project
    from servespec.render import read_tree, write_model_change
    from servespec.resolve import build_context
    from servespec.rollout.state import write_state
    from servespec.spec.rollout import ModelState

    other = copy_example(tmp_path / "other")
    state = ModelState(phase="canary", stable="s3://census-income/serving_model", candidate="s3://census-income/v2", step=1,
                       traffic=10, since="2026-01-01T00:00:00Z")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    _bump(example_repo)  # drift: a spec changed, not rendered
    stale = (example_repo / "rendered/prod/models/fraud-detector/inferenceservice.yaml").read_bytes()
    ctx = build_context(Project.load(example_repo, ["prod"]), "prod")
    result = write_model_change(example_repo, dataclasses.replace(ctx, rollout={**ctx.rollout, "census-income": state}), "census-income")
    write_state(other, "prod", "census-income", state)  # the same state, rendered whole without the drift
    assert run_cli("render", "--root", other).exit_code == 0
    assert read_tree(example_repo / "rendered") == read_tree(other / "rendered")
    assert (example_repo / "rendered/prod/models/fraud-detector/inferenceservice.yaml").read_bytes() == stale
    assert result.changed == ["models/census-income/inferenceservice.yaml"]


def test_a_hand_edited_codeowners_block_is_no_noop(tmp_path: Path) -> None:
    from conftest import copy_example
    from servespec.codeowners import LOCATIONS

    assert lastrender.CODEOWNERS == LOCATIONS
    example_repo = copy_example(tmp_path / "repo", policy=True)  # prod names its owners
    (example_repo / ".git").mkdir()  # CODEOWNERS lives at the git repository's top
    assert run_cli("render", "--root", example_repo).stdout.endswith(".github/CODEOWNERS: code owners updated from the overlays\n")
    owners = example_repo / ".github/CODEOWNERS"
    owners.write_text(owners.read_text().replace("@ml-platform/prod-approvers", "@someone/else"))
    check = run_cli("render", "--check", "--root", example_repo)
    assert (check.exit_code, check.stderr) == (1, "servespec: error: .github/CODEOWNERS: not in line with the owners: of the overlays; "
                                                  "`servespec render` rewrites its servespec lines\n")
    assert run_cli("render", "--root", example_repo).stdout.endswith("code owners updated from the overlays\n")
    assert "@someone/else" not in owners.read_text()


@given(st.text(alphabet=st.characters(max_codepoint=0x2100) | st.sampled_from("\u2028\u2029\u202a\u202e\u2066\u2069\x85\x7f\x9f\xa0"), max_size=12))
def test_control_characters_as_the_character_loop_found_them(value: str) -> None:
    """``secretscan.control_characters`` searches with one regex (validate checks every string of
    every object: 60% of a cold validate with the loop); it finds what the loop found."""
    from servespec.secretscan import _BIDI, _NAMES, control_characters

    expected = None
    for index, ch in enumerate(value):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or ch in ("\u2028", "\u2029") or ch in _BIDI:
            what = _NAMES.get(ch, "bidirectional override" if ch in _BIDI else "control character")
            expected = f"contains U+{code:04X} ({what}) at position {index}"
            break
    assert control_characters(value) == expected
