"""The YAML writer: byte-identical to PyYAML, round-trips, and quotes YAML 1.1 look-alikes."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from servespec.yamlwriter import _pyyaml_dump, canonical_order, dump

text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=30),
    st.text(alphabet=st.sampled_from(list(" -?:#'\"\\{}[],&*!|>%@`abc01\n.")), max_size=20),
    st.builds(lambda a, b: a + "\n" + b, st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=20),
              st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=20)),
    st.builds(lambda n: "x " * n, st.integers(400, 700)),
    st.sampled_from(["on", "off", "yes", "no", "y", "n", "true", "False", "null", "~", "0755", "1.10", "1e3",
                     "0x1F", "2026-11-24", "a: b", "- x", "#c", "*a", "&b", "!t", "%p", "@x", "`b", "'q'",
                     '"d"', "line1\nline2\n", "one\n  two\nthree", "para\n\nnext\n", "tail\n\n", "no-newline\nend", " lead", "trail ", "", "-", "?",
                     "http://x.y/z?a=b#f", "${datasource}", "{{ .x }}", "[a]", "{a: b}", "é ü", "\t"]),
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), text, st.floats(allow_nan=False))
data = st.recursive(
    leaves,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(text, kids, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, data, min_size=1, max_size=6))
def test_fast_writer_is_byte_identical_to_pyyaml_and_round_trips(obj: dict) -> None:
    out = dump(obj)
    assert out == _pyyaml_dump(canonical_order(obj))
    assert yaml.safe_load(out) == obj


def test_yaml11_lookalikes_are_double_quoted() -> None:
    out = dump({"a": "on", "b": "no", "c": "y", "d": "true", "e": "1", "f": "plain"})
    assert out == 'a: "on"\nb: "no"\nc: "y"\nd: "true"\ne: "1"\nf: plain\n'


def test_key_order_is_fixed_at_top_and_sorted_below() -> None:
    obj = {"spec": {"b": 1, "a": 2}, "metadata": {"name": "x"}, "kind": "K", "apiVersion": "v1", "data": {}}
    assert dump(obj) == "apiVersion: v1\nkind: K\nmetadata:\n  name: x\nspec:\n  a: 2\n  b: 1\ndata: {}\n"


def test_multiline_strings_are_literal_blocks() -> None:
    assert dump({"k": {"json": "{\n  \"a\": 1\n}\n"}}) == 'k:\n  json: |\n    {\n      "a": 1\n    }\n'
