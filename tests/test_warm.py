"""What one process keeps between commands (``cache/warm.py``; ``servespec daemon`` runs many
commands in one process): a second render in the same process resolves, lays out and serializes
only what changed, and writes exactly what a cold render computes (``test_render_cache.py``'s
property test runs its sequences of edits in one process too, against a cold render made with
every memo off)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import servespec.emit.layout as layout
import servespec.resolve as resolve
from conftest import run_cli
from servespec.cache import warm
from servespec.cache.fingerprint import read_framed, write_framed
from servespec.project import Project
from servespec.render import read_tree, render_project


def _sub(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


def test_a_scope_keeps_its_entries_for_the_same_key_only() -> None:
    model = object()
    memo = warm.scope(("t", "keep"), ("overlay", model))
    memo.put("a", 1)
    assert warm.scope(("t", "keep"), ("overlay", model)).hit("a") == 1  # equal strings, the very object
    assert warm.scope(("t", "keep"), ("overlay", object())).hit("a") is None  # another object: emptied
    assert warm.scope(("t", "keep"), ("other", model)).hit("a") is None


def test_entries_unused_by_a_command_are_forgotten_by_the_next() -> None:
    memo = warm.scope(("t", "sweep"), 1)
    memo.put("used", 1)
    memo.put("gone", 2)
    memo = warm.scope(("t", "sweep"), 1)  # the next command uses only "used"
    assert memo.hit("used") == 1
    memo = warm.scope(("t", "sweep"), 1)
    assert (memo.hit("used"), memo.hit("gone")) == (1, None)
    for name in range(100):
        memo.put(name, name)
    memo = warm.scope(("t", "sweep"), 1)
    for name in range(95):  # 5 of 101 unused: kept a while (an eighth of the memo may be)
        memo.hit(name)
    memo = warm.scope(("t", "sweep"), 1)
    assert len(memo) == 101 and memo.get(99) == 99
    for name in range(80):  # 21 unused: every unused one forgotten
        memo.hit(name)
    memo = warm.scope(("t", "sweep"), 1)
    assert sorted(memo) == list(range(80))


def test_off_keeps_nothing_and_the_number_of_scopes_is_bounded() -> None:
    warm.scope(("t", "off"), 1).put("a", 1)
    with warm.off():
        inside = warm.scope(("t", "off"), 1)
        assert inside.hit("a") is None
        inside.put("b", 2)
    assert (warm.scope(("t", "off"), 1).hit("a"), warm.scope(("t", "off"), 1).hit("b")) == (1, None)
    for i in range(200):
        warm.scope(("t", "many", i), 1)
    assert len(warm._SCOPES) <= warm._MOST


def test_a_second_render_in_one_process_redoes_only_the_changed_model(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warm.clear()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0  # the edited module's models are new objects once
    resolved: list[str] = []
    laid: list[str] = []
    real_resolve, real_lay = resolve.resolve_model, layout._lay
    monkeypatch.setattr(resolve, "resolve_model", lambda model, env, **kw: resolved.append(f"{env.name}/{model.name}") or real_resolve(model, env, **kw))
    monkeypatch.setattr(layout, "_lay", lambda ctx, unit, parts: laid.append(f"{ctx.env.name}/{unit}") or real_lay(ctx, unit, parts))
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=7", "max_replicas=8")
    result = run_cli("render", "--root", example_repo)
    assert result.exit_code == 0, result.stderr
    assert sorted(resolved) == ["dev/fraud-detector", "prod/fraud-detector", "staging/fraud-detector"]
    assert "prod/models/fraud-detector" in laid and not any(unit.endswith("census-income") for unit in laid)
    cold = render_project(Project.load(example_repo), cache=None)
    assert read_tree(example_repo / "rendered") == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}
    assert b"maxReplicas: 8" in (example_repo / "rendered/dev/models/fraud-detector/inferenceservice.yaml").read_bytes()


def test_a_one_model_change_walks_no_other_model(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The env's context, its environment-wide objects and the other models' outputs are the last
    render's, patched (``resolve._patched``, ``emit._env_outputs``, ``RenderCache.groups``): no other
    model is checked or asked for its files, no environment emitter runs unless what it reads of
    the model changed (``emit.env_view``), and the files are the cold render's."""
    import servespec.cache.render as render_cache
    import servespec.emit as emit

    warm.clear()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    checked: list[str] = []
    asked: list[str] = []
    env_emitted: list[str] = []
    real_checked, real_keyer = resolve._checked, render_cache.RenderCache._keyer

    def keyer(self: render_cache.RenderCache, ctx: resolve.EnvContext):  # type: ignore[no-untyped-def]
        key, memo = real_keyer(self, ctx)
        return (lambda m: asked.append(f"{ctx.env.name}/{m.name}") or key(m)), memo

    monkeypatch.setattr(resolve, "_checked", lambda ctx, m, memo: checked.append(f"{ctx.env.name}/{m.name}") or real_checked(ctx, m, memo))
    monkeypatch.setattr(render_cache.RenderCache, "_keyer", keyer)
    monkeypatch.setattr(emit, "ENV_EMITTERS", [lambda ctx, e=e: env_emitted.append(ctx.env.name) or e(ctx) for e in emit.ENV_EMITTERS])
    fraud = ["dev/fraud-detector", "prod/fraud-detector", "staging/fraud-detector"]
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=7", "max_replicas=8")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert (sorted(checked), sorted(asked), env_emitted) == (fraud, fraud, [])
    _sub(example_repo / "specs/fraud_detector.py", 'deployment_mode="Standard"', 'deployment_mode="Knative"')  # the overview dashboard reads it
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert sorted(set(env_emitted)) == ["dev", "prod", "staging"] and sorted(checked) == sorted(fraud + fraud)
    cold = render_project(Project.load(example_repo), cache=None)
    assert read_tree(example_repo / "rendered") == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}


def test_an_overlay_edit_resolves_every_model_of_that_env_again(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warm.clear()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert run_cli("render", "--root", example_repo, "--env", "prod").exit_code == 0
    resolved: list[str] = []
    real = resolve.resolve_model
    monkeypatch.setattr(resolve, "resolve_model", lambda model, env, **kw: resolved.append(env.name) or real(model, env, **kw))
    _sub(example_repo / "overlays/prod.yaml", "  minReplicas: 3\n", "  minReplicas: 4\n")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert set(resolved) == {"prod"} and len(resolved) == len(Project.load(example_repo).specs.models)
    cold = render_project(Project.load(example_repo), cache=None)
    assert read_tree(example_repo / "rendered/prod") == cold["prod"]


def test_a_kept_manifest_is_the_one_its_file_holds(tmp_path: Path) -> None:
    from servespec.cache import manifest as manifest_mod
    from servespec.cache.manifest import Manifest, load_manifest, save_manifest

    path = str(tmp_path / "manifest-dev")
    assert save_manifest(path, Manifest({"": (1, 2, 3, 4, 5)}, {"a.yaml": ((1, 2, 3, 4, 6), b"x")}, "t1"))
    first = load_manifest(path)
    assert first is not None and first.token == "t1"
    assert load_manifest(path) is first  # shared, not copied: a manifest is never changed once made (16,000 entries at 10,000 models)
    assert save_manifest(path, Manifest({"": (1, 2, 3, 4, 5)}, {}, "t2"))
    assert load_manifest(path).token == "t2"  # type: ignore[union-attr]
    os.rename(path, path + "-moved")  # servespec moves the live manifest to the spare's
    assert load_manifest(path + "-moved").token == "t2"  # type: ignore[union-attr]
    Path(path + "-moved").write_bytes(b"damaged")
    assert load_manifest(path + "-moved") is None
    assert save_manifest(path, Manifest({"": (1, 2, 3, 4, 5)}, {}, "t3"))
    warm.clear()  # forgets kept files too: the manifest is read from its file again
    assert manifest_mod._KEPT.kept == {} and load_manifest(path).token == "t3"  # type: ignore[union-attr]


def test_schemas_compiled_once_are_used_again_while_the_crds_are_the_same(tmp_path: Path) -> None:
    from servespec.validate import schema_registry

    warm.clear()
    assert schema_registry(None, True) is schema_registry(None, True)
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    first = schema_registry(crds, True)
    assert schema_registry(crds, True) is first and schema_registry(crds, False) is not first
    (crds / "a.yaml").write_text("kind: CustomResourceDefinition\n# changed\n")
    assert schema_registry(crds, True) is not first


def test_a_process_that_defers_its_cache_writes_makes_them_at_its_flush_in_order(tmp_path: Path) -> None:
    path = str(tmp_path / "cache" / "table")
    done: list[str] = []
    assert write_framed(path, {"a": 1}, lambda: done.append("then")) and done == ["then"]  # not deferring: at once
    before = Path(path).read_bytes()
    warm.defer_writes()
    try:
        assert write_framed(path, {"a": 2}, lambda: done.append("second"))  # True: it will be written
        assert warm.later(lambda: done.append("third"))
        assert Path(path).read_bytes() == before and done == ["then"]  # nothing yet
        child = os.fork()
        if child == 0:  # a forked worker writes its own at once: it ends without a flush
            os._exit(0 if not warm.later(lambda: None) else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
        assert read_framed(path) == {"a": 2} and done == ["then", "second"]  # reading the file makes its writes first
        warm.later(lambda: (_ for _ in ()).throw(OSError("disk full")))
        assert warm.flush() == ["OSError: disk full"]  # reported; the writes after it still made
        assert done == ["then", "second", "third"]
        blocked = str(tmp_path / "file" / "table")
        (tmp_path / "file").write_text("a file where a folder must be")
        assert write_framed(blocked, {"a": 3}, lambda: done.append("never"))
        assert warm.flush() == [] and done[-1] == "third"  # a write that fails runs no `then`
    finally:
        warm.defer_writes(False)
    assert not write_framed(blocked, {"a": 3}) and warm.later(lambda: done.append("now")) is False and done[-1] == "now"


def test_a_late_write_that_never_happens_costs_time_never_a_wrong_render(example_repo: Path) -> None:
    """A daemon killed between its reply and its flush: the cache describes the tree before the
    last render (or nothing); the next render proves the tree and writes what a cold one does."""
    warm.clear()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=6", "max_replicas=7")
    warm.defer_writes()
    try:
        assert run_cli("render", "--root", example_repo).exit_code == 0
        warm._LATER.clear()  # killed before its flush
    finally:
        warm.defer_writes(False)
    warm.clear()
    rendered = read_tree(example_repo / "rendered")
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=7", "max_replicas=8")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert read_tree(example_repo / "rendered") != rendered
    with warm.off():
        cold = render_project(Project.load(example_repo))
    assert {f"{env}/{rel}": data for env, files in cold.items() for rel, data in files.items()} == read_tree(example_repo / "rendered")


def test_a_warm_one_model_render_looks_at_that_models_files_only_and_writes_what_a_cold_one_does(
        example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import servespec.envtree as envtree

    warm.clear()
    assert run_cli("render", "--root", example_repo).exit_code == 0
    for value in ("7", "8"):  # the second change also finds the spare one change behind, at known paths
        _sub(example_repo / "specs/fraud_detector.py", f"max_replicas={int(value) - 1}", f"max_replicas={value}")
        assert run_cli("render", "--root", example_repo).exit_code == 0
    looked: list[list[str]] = []
    lags: list[set[str] | None] = []
    real_compare_at, real_lag = envtree._compare_at, envtree.EnvTree._lag
    monkeypatch.setattr(envtree, "_compare_at", lambda files, wanted, paths: looked.append(paths) or real_compare_at(files, wanted, paths))
    monkeypatch.setattr(envtree.EnvTree, "_lag", lambda self, spare: lags.append(real_lag(self, spare)) or lags[-1])
    monkeypatch.setattr(envtree, "compare", lambda old, new: pytest.fail("every file compared"))
    # a render that fails writes nothing, but lays sklearn-iris out anew: the next one must still write it
    _sub(example_repo / "specs/sklearn_iris.py", "max_replicas=4", "max_replicas=5")
    (example_repo / "specs/broken.py").write_text("from servespec.spec import Model\nBROKEN = Model(name='Not_A_DNS_name')\n")
    assert run_cli("render", "--root", example_repo).exit_code == 2
    (example_repo / "specs/broken.py").unlink()
    _sub(example_repo / "specs/fraud_detector.py", "max_replicas=8", "max_replicas=9")
    assert run_cli("render", "--root", example_repo).exit_code == 0
    assert len(looked) == 3 and all(any(p.startswith("models/fraud-detector/") for p in paths) for paths in looked)
    assert all(any(p.startswith("models/sklearn-iris/") for p in paths) for paths in looked)
    # the files of a model laid out as last written are not looked at (LLM units are emitted anew each time)
    assert not [p for paths in looked for p in paths if p.startswith(("models/census-income/", "models/text-embedder/"))]
    assert lags and all(lag is not None for lag in lags)
    cold = render_project(Project.load(example_repo), cache=None)
    assert read_tree(example_repo / "rendered") == {f"{env}/{p}": data for env, files in cold.items() for p, data in files.items()}


def test_a_second_write_of_an_env_in_one_command_sees_what_the_first_left_for_later(tmp_path: Path) -> None:
    """A command that writes one env twice (``promote --all``) in a process that defers its cache
    writes: the second write reads the manifest and the spare's state the first one left for
    later (``warm.settle``), so it proves the tree from that manifest and uses the spare; after
    the flush the files on disk describe the trees as they are."""
    from servespec.cache.fingerprint import file_digest
    from servespec.cache.manifest import load_manifest
    from servespec.envtree import EnvTree

    root = tmp_path / "repo"
    (root / "rendered").mkdir(parents=True)

    def files(version: str) -> dict[str, tuple[bytes, bytes | None]]:
        data = {"a/one.yaml": f"one: {version}\n".encode(), "b/two.yaml": b"two: 1\n"}
        return {rel: (file_digest(d), d) for rel, d in data.items()}

    EnvTree(root, "dev").write(files("1"))
    EnvTree(root, "dev").write(files("2"))  # the spare exists from here on
    warm.defer_writes()
    try:
        first = EnvTree(root, "dev")
        assert first.write(files("3")).spare
        assert warm._LATER  # its manifest and the spare's state wait for the flush
        second = EnvTree(root, "dev")
        change = second.write(files("4"))
        assert second._from_known and change.spare and change.changed == ["a/one.yaml"]
    finally:
        warm.defer_writes(False)  # flushes
    assert (root / "rendered/dev/a/one.yaml").read_bytes() == b"one: 4\n"
    kept = load_manifest(second.manifest_path)
    assert kept is not None and kept.token == second.token and kept.unchanged(str(root / "rendered/dev"))
    third = EnvTree(root, "dev")  # a fresh look: manifest and spare as the second write left them
    assert third.write(files("5")).spare and third._from_known
    assert (root / "rendered/dev/a/one.yaml").read_bytes() == b"one: 5\n"
