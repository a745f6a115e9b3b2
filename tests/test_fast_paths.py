"""The speed work's fast paths (bench/REPORT.md) give exactly what the plain paths they replace give."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.manifest import source
from provisioner.render import dump
from provisioner.targets.json_file import json_file

KEYS = st.one_of(st.sampled_from(["apiVersion", "kind", "metadata", "name", "spec", "data", "a: b", "-", "", "null"]), st.text(max_size=12))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "yes", "no", "~", "1.0", "0x1f", "1e3", "a\nb", "a\nb ", "a\n", "\ttab\n", "#x", "- a", "12:30", "'q'"]),
    st.text(max_size=40),
)
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=40)


def reference_dump(value: Any) -> str:
    """How dump.dumps printed before it built nodes directly: the representer over a key-ordered copy."""
    text: str = yaml.dump(dump.ordered(value), Dumper=dump.Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return text


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, DOCUMENTS, max_size=6))
def test_dumps_equals_the_representer_over_an_ordered_copy(document: dict[str, Any]) -> None:
    assert dump.dumps(document) == reference_dump(document)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dictionaries(KEYS, DOCUMENTS, max_size=6), max_size=4))
def test_a_stream_shares_tags_without_changing_a_byte(documents: list[dict[str, Any]]) -> None:
    assert dump.dumps_all(documents) == "".join(f"---\n{reference_dump(d)}" for d in documents)


def test_shared_objects_are_printed_twice_not_aliased() -> None:
    labels = {"app": "api"}
    document = {"kind": "Deployment", "metadata": {"labels": labels}, "spec": {"selector": {"matchLabels": labels}}}
    assert "&" not in dump.dumps(document)
    assert dump.dumps(document) == reference_dump(document)


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_json_file_equals_json_dumps(value: Any) -> None:
    assert json_file(value) == json.dumps(value, indent=2, sort_keys=True) + "\n"


def test_json_file_leaves_other_keys_and_types_to_json() -> None:
    value = {"numbered": {2: "two", 1: "one"}, "nested": [{"x": float("nan")}]}
    assert json_file(value) == json.dumps(value, indent=2, sort_keys=True) + "\n"


PATTERNS = [
    source._NULL,
    source._TRUE,
    source._FALSE,
    source._YAML11_BOOL,
    source._INT,
    source._YAML11_OCTAL,
    source._YAML11_UNDERSCORE,
    source._YAML11_SEXAGESIMAL,
    source._OCT,
    source._HEX,
    source._FLOAT,
    source._INF,
    source._NAN,
]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=10), st.sampled_from(["null", "True", "yes", "Off", "0o7", "0x1F", "1_0", "1:30", ".inf", "\n", "~"])))
def test_a_plain_scalar_skips_the_patterns_only_when_none_can_match(text: str) -> None:
    if text and text[0] not in source._SPECIAL_FIRST:
        assert not any(p.match(text) for p in PATTERNS)
        assert source._resolve_plain(text) == text
