"""The rollout state file read and edited by lines (``rollout/statetext.py``) gives exactly what
ruamel's round trip gives: the same states, lines and errors when read, the same bytes when
written, for files servespec wrote and hand-edited ones; what it does not know is left to ruamel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servespec.errors import PromoteError
from servespec.rollout import state, statetext
from servespec.rollout.state import load_state, remove_entry, state_path, write_state
from servespec.spec.rollout import LastGate, ModelState

ASCII = st.characters(min_codepoint=32, max_codepoint=126)
NAMES = st.sampled_from(["a", "census-income", "fraud-detector", "m-01", "on-call", "x_y", "zeta.v2", "yes"])
URIS = st.sampled_from(["s3://b/v1", "s3://b/v2", "gs://bucket/m/1.0/model", "hf://Qwen/Qwen2.5-0.5B-Instruct", "pvc://vol/x: y"])


@st.composite
def states(draw: st.DrawFn) -> ModelState:
    phase = draw(st.sampled_from(["stable", "canary", "rolled-back"]))
    gate = draw(st.none() | st.builds(LastGate, result=st.sampled_from(["passed", "skipped"]),
                                      at=st.just("2026-11-24T18:00:00Z"), summary=st.text(ASCII, max_size=16)))
    return ModelState(phase=phase, stable=draw(URIS), candidate=draw(URIS) if phase == "canary" else None,
                      step=draw(st.integers(0, 4)) if phase == "canary" else None, traffic=draw(st.integers(0, 100)),
                      since=draw(st.sampled_from(["2026-11-24T18:00:00Z", "2026-01-01T00:00:00Z"])), last_gate=gate,
                      rolled_back=draw(URIS) if phase == "rolled-back" else None, spec_uri=draw(st.none() | URIS))


@contextmanager
def ruamel_only() -> Iterator[None]:
    """statetext refuses everything: the state file is read and written by ruamel alone, as before."""
    real = statetext.parse
    statetext.parse = lambda text: None  # type: ignore[assignment]
    try:
        yield
    finally:
        statetext.parse = real


def _read(root: Path) -> tuple[object, object]:
    try:
        return load_state(root, "prod")
    except PromoteError as exc:
        return "error", str(exc)


def _same_reading(root: Path, text: str) -> tuple[object, object]:
    state_path(root, "prod").write_text(text)
    fast = _read(root)
    with ruamel_only():
        assert _read(root) == fast
    return fast


OPS = st.lists(st.tuples(st.sampled_from(["write", "write", "remove"]), NAMES, states()), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_writes_give_the_bytes_of_the_round_trip(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str, ModelState]]) -> None:
    fast, slow = (tmp_path_factory.mktemp(n) for n in ("fast", "slow"))
    for root in (fast, slow):
        (root / "overlays").mkdir()
    for op, name, entry in ops:
        for root in (fast, slow):
            with ruamel_only() if root == slow else nullcontext():
                if op == "write":
                    write_state(root, "prod", name, entry)
                elif name in load_state(root, "prod")[0]:
                    remove_entry(root, "prod", name)
        if not state_path(fast, "prod").is_file():
            continue  # nothing written yet
        text = state_path(fast, "prod").read_text()
        assert text == state_path(slow, "prod").read_text()
        assert _same_reading(fast, text)[0] != "error"


def test_a_file_servespec_wrote_is_read_and_edited_by_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "overlays").mkdir()
    gate = LastGate(result="skipped", at="2026-11-24T18:00:00Z", summary="--skip-gates")
    for i in range(5):
        write_state(tmp_path, "prod", f"m-{i}", ModelState(phase="canary", stable="s3://b/v1", candidate="s3://b/v2", step=1,
                                                         traffic=10, since="2026-11-24T18:00:00Z", last_gate=gate))
    text = state_path(tmp_path, "prod").read_text()
    parsed = statetext.parse(text)
    assert parsed is not None and parsed.canonical and [e.name for e in parsed.entries] == [f"m-{i}" for i in range(5)]
    assert parsed.entries[1].value == {"phase": "canary", "stable": "s3://b/v1", "candidate": "s3://b/v2", "step": 1, "traffic": 10,
                                       "since": "2026-11-24T18:00:00Z",
                                       "lastGate": {"result": "skipped", "at": "2026-11-24T18:00:00Z", "summary": "--skip-gates"}}
    states, lines = load_state(tmp_path, "prod")
    assert lines == {f"m-{i}": 4 + 11 * i for i in range(5)} and states["m-3"].last_gate == gate
    assert text.splitlines()[lines["m-3"] - 1] == "  m-3:"
    edited: list[str] = []
    real = state._edit
    monkeypatch.setattr(state, "_edit", lambda text, model, after: edited.append(text) or real(text, model, after))
    write_state(tmp_path, "prod", "m-3", states["m-3"].model_copy(update={"traffic": 50, "step": 2}))
    old = text.splitlines(keepends=True)
    at = lines["m-3"] - 1
    assert edited == ["models:\n" + "".join(old[at:at + 11])]  # that entry alone, round-tripped
    assert state_path(tmp_path, "prod").read_text() == "".join([*old[:at + 4], "    step: 2\n    traffic: 50\n", *old[at + 6:]])


HAND_EDITED = """\
# kept
models:   # the managed models
    census-income:       # hand-indented, commented
        phase: canary            # stable | canary | rolled-back
        stable: "s3://census-income/v1"
        candidate: 's3://census-income/it''s'

        step: 2
        traffic: 25
        since: "2026-11-24T18:00:00Z"
        lastGate:
           result: passed
           at: '2026-11-24T18:00:00Z'
           summary: error-rate=0.0021 latency-p99=85#no-comment
    # a comment between entries
    fraud-detector:
      phase: stable
      stable: gs://b/x
      since: '2026-11-24T18:00:00Z'
"""


def test_a_hand_edited_file_reads_as_ruamel_reads_it(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    assert statetext.parse(HAND_EDITED) is not None
    states, lines = _same_reading(tmp_path, HAND_EDITED)
    assert lines == {"census-income": 3, "fraud-detector": 16}
    assert states["census-income"].candidate == "s3://census-income/it's"  # type: ignore[index]
    assert states["census-income"].last_gate.summary == "error-rate=0.0021 latency-p99=85#no-comment"  # type: ignore[index]
    write_state(tmp_path, "prod", "fraud-detector", states["fraud-detector"].model_copy(update={"traffic": 0}))  # type: ignore[index]
    with ruamel_only():
        state_path(tmp_path, "other").write_text(HAND_EDITED)
        write_state(tmp_path, "other", "fraud-detector", states["fraud-detector"].model_copy(update={"traffic": 0}))  # type: ignore[index]
    assert state_path(tmp_path, "prod").read_text() == state_path(tmp_path, "other").read_text()  # not canonical: by ruamel


ENTRY = "models:\n  m:\n    phase: stable\n    stable: s3://b/v1\n    since: '2026-11-24T18:00:00Z'\n"


@pytest.mark.parametrize("text", [
    ENTRY.replace("phase: stable", "phase: {a: b}"),  # flow style
    "models: {}\n",
    ENTRY.replace("s3://b/v1", "&anchor s3://b/v1"),
    ENTRY.replace("s3://b/v1", "!!str s3://b/v1"),
    ENTRY.replace("    phase", "\tphase"),
    ENTRY.replace("'2026-11-24T18:00:00Z'", "2026-11-24T18:00:00Z"),  # a timestamp to YAML
    ENTRY.replace("phase: stable", "phase: on"),  # a boolean to YAML 1.1
    ENTRY.replace("phase: stable", "phase: -.inf"),
    ENTRY.replace("phase: stable", "phase: 007"),
    ENTRY.replace("s3://b/v1", "s3://b/é"),
    ENTRY.replace("s3://b/v1", '"s3://b/\\x41"'),
    ENTRY + "  m:\n    phase: stable\n",  # a duplicate key
    ENTRY + "other: 1\n",
    ENTRY.replace("s3://b/v1", "s3://b/\n      v1"),  # a multi-line scalar
    ENTRY.replace("    since: '2026-11-24T18:00:00Z'\n", "    since:\n"),  # null
    "---\n" + ENTRY,
    ENTRY.replace("\n", "\r\n"),
])
def test_what_is_not_in_the_subset_is_left_to_ruamel(tmp_path: Path, text: str) -> None:
    (tmp_path / "overlays").mkdir()
    assert statetext.parse(text) is None
    _same_reading(tmp_path, text)


def test_a_bad_entry_is_reported_as_before(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    text = ENTRY + "  bad:\n    phase: canary\n    stable: s3://b/v1\n    step: two\n    since: '2026-11-24T18:00:00Z'\n"
    assert statetext.parse(text) is not None  # read by lines, then located by ruamel
    assert _same_reading(tmp_path, text) == ("error", "overlays/prod.rollout.yaml:9: models.bad.step: expected an integer, found 'two'")


def test_a_state_file_of_ten_thousand_models_is_read_and_written(tmp_path: Path) -> None:
    """10,000 managed models in one env (~1.7 MB) are past the 1 MiB cap of hand-written YAML:
    read and edited by lines; a file past ``STATE_MAX_BYTES`` is refused with its size."""
    (tmp_path / "overlays").mkdir()
    entry = "  model-{i:05d}:\n    phase: stable\n    stable: s3://models/model-{i:05d}/v1\n    since: '2026-11-24T18:00:00Z'\n"
    text = "models:\n" + "".join(entry.format(i=i) for i in range(10_000))
    path = state_path(tmp_path, "prod")
    path.write_text(text)
    assert len(text) > 1 << 20
    states, lines = load_state(tmp_path, "prod")
    assert len(states) == 10_000 and lines["model-09999"] == 1 + 4 * 9_999 + 1
    assert states["model-09999"].stable == "s3://models/model-09999/v1"
    write_state(tmp_path, "prod", "model-00042", ModelState(phase="stable", stable="s3://models/model-00042/v2", since="2026-11-25T09:00:00Z"))
    assert load_state(tmp_path, "prod")[0]["model-00042"].stable == "s3://models/model-00042/v2"
    assert path.read_text().replace("model-00042/v2", "model-00042/v1").replace("2026-11-25T09:00:00Z", "2026-11-24T18:00:00Z") == text
    path.write_text("models:\n" + "#" * state.STATE_MAX_BYTES + "\n")
    with pytest.raises(PromoteError) as err:
        load_state(tmp_path, "prod")
    assert str(err.value) == (f"overlays/prod.rollout.yaml: expected a file of at most 16 MiB ({state.STATE_MAX_BYTES} bytes), "
                              f"found {state.STATE_MAX_BYTES + 9} bytes")
