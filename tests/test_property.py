"""Property tests: any input gives a valid manifest or positioned diagnostics, never another exception.

Hypothesis runs derandomized (see conftest.py), so every run tries the same examples.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture
from hypothesis_jsonschema import from_schema
from pydantic import ValidationError

from provisioner.cli import main
from provisioner.errors import Diagnostic, ManifestError
from provisioner.manifest import check_all, load, parse
from provisioner.manifest.models import Manifest
from tests.support import REFERENCE, SCHEMA

# --- helpers ----------------------------------------------------------------------------------------


def assert_positioned(diagnostics: list[Diagnostic], text: str) -> None:
    """Every diagnostic points at a real place in `text`."""
    lines = text.count("\n") + text.count("\r") + 2
    for d in diagnostics:
        assert d.position is not None, str(d)
        assert d.position.file == "koyalite.yaml"
        assert 1 <= d.position.line <= lines and d.position.column >= 1, str(d)
        assert d.message, str(d)


def validate_text(text: str) -> list[Diagnostic]:
    """All diagnostics of `text` over every environment; fails the test on any exception but ManifestError."""
    try:
        _, diagnostics = check_all(parse(text, "koyalite.yaml"))
    except ManifestError as exc:
        assert exc.diagnostics
        diagnostics = exc.diagnostics
    assert_positioned(diagnostics, text)
    return diagnostics


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# --- (a) arbitrary YAML-ish text --------------------------------------------------------------------

PUNCTUATION = "ab01 \n\t'\"&*!|>-:#[]{},.~?%@`"
TOKENS = [
    "apiVersion: koyalite.dev/v1\n",
    "project:\n",
    "  name: acme\n",
    "  release: '1.4.0'\n",
    "project: {name: acme, release: '1'}\n",
    "services:\n",
    "  api:\n",
    "    replicas: 2\n",
    "environments:\n",
    "  dev: {target: docker}\n",
    "  prod:\n",
    "    target: kubernetes\n",
    "    protect: true\n",
    "cron:\n",
    "  - name: a\n",
    "    schedule: '@daily'\n",
    "    url: https://x.example.com\n",
    "features: {cron: false}\n",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!tag ",
    "---\n",
    "...\n",
    "no",
    "010",
    "12:30",
    "1.10",
    "null",
    "~",
    "- ",
    ": ",
    "  ",
    "\t",
    "\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    '"',
    "#",
    "|",
    ">",
]

YAMLISH = st.one_of(
    st.text(alphabet=PUNCTUATION, max_size=60),
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
)


@settings(max_examples=500)
@given(YAMLISH)
def test_any_text_is_valid_or_has_positioned_diagnostics(text: str) -> None:
    validate_text(text)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("property")


def test_cli_never_fails_on_any_text(folder: Path) -> None:
    path = folder / "koyalite.yaml"

    @settings(max_examples=100)
    @given(YAMLISH, st.sampled_from(["human", "json", "github"]))
    def run(text: str, fmt: str) -> None:
        path.write_text(text, encoding="utf-8")
        code, out, err = cli(["validate", str(path), "--format", fmt])
        assert code in (0, 2), err
        assert "Traceback" not in err and "internal error" not in err
        if fmt == "json":
            document = json.loads(out)
            assert document["valid"] is (code == 0)
            assert all(isinstance(d["line"], int) and isinstance(d["column"], int) for d in document["diagnostics"])

    run()


# --- (b) mutations of the reference manifest ---------------------------------------------------------

_reference = load(REFERENCE).root.to_plain()
assert isinstance(_reference, dict)
REFERENCE_DATA: dict[str, Any] = _reference

INTERESTING = st.sampled_from(
    ["latest", "512MB", "1Gi", "0 2 * * *", "fra", "iad", "kubernetes", "docker", "1.10", "no", "", "a" * 70, "Acme", "/hello"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70_000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8),
    INTERESTING,
)
KEYS = st.one_of(st.sampled_from(["name", "replicas", "target", "replcias", "env", "secrets", "x"]), st.text(max_size=6))
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=6,
)

Path_ = tuple[str | int, ...]


def paths(node: object, here: Path_ = ()) -> Iterator[Path_]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*here, i))


def mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    where = data.draw(st.sampled_from(list(paths(doc))[1:]), label="path")
    parent: Any = doc
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    operations = ["delete", "replace"] + (["rename"] if isinstance(parent, dict) else [])
    operation = data.draw(st.sampled_from(operations), label="operation")
    if operation == "delete":
        del parent[last]
    elif operation == "replace":
        parent[last] = data.draw(VALUES, label="value")
    else:
        parent[data.draw(KEYS, label="new key")] = parent.pop(last)


def test_the_reference_survives_a_yaml_round_trip() -> None:
    assert validate_text(yaml.safe_dump(REFERENCE_DATA, sort_keys=False, allow_unicode=True)) == []


@settings(max_examples=80)
@given(st.data())
def test_mutated_reference_is_valid_or_has_positioned_diagnostics(data: st.DataObject) -> None:
    doc = copy.deepcopy(REFERENCE_DATA)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        if len(list(paths(doc))) > 1:
            mutate(doc, data)
    validate_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


# --- (c) documents generated from the JSON Schema pass structural validation -------------------------


def _restore_many_more() -> None:
    """hypothesis-jsonschema 0.23 drives Hypothesis's private `many` with `more()`, which newer Hypothesis
    replaced by a with/for protocol; give `many` its old method, implemented with the new protocol."""
    if hasattr(conjecture.many, "more"):
        return
    done = object()

    def more(self: Any) -> bool:
        elements = self.__dict__.get("_more_iterator")
        if elements is None:
            self.__enter__()
            elements = self._more_iterator = iter(self)
        if next(elements, done) is done:
            self.__exit__(None)
            return False
        return True

    setattr(conjecture.many, "more", more)  # noqa: B010 - the attribute is not in the class's type


_restore_many_more()

ANNOTATIONS = {"description", "examples", "title", "default", "$schema", "$id"}


@cache
def schema_strategy(section: str | None) -> st.SearchStrategy[Any]:
    """from_schema of the committed schema (or one top-level section of it), made cheap to draw from:
    refs inlined, annotations dropped and collections capped at two items. Every document it draws
    is valid against the full schema."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema.pop("$defs")

    def simplify(node: Any, under_names: bool = False) -> Any:
        if isinstance(node, list):
            return [simplify(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[1]
            return simplify({**defs[ref], **{k: v for k, v in node.items() if k != "$ref"}}, under_names)
        out = {k: simplify(v, k in ("properties", "patternProperties")) for k, v in node.items() if under_names or k not in ANNOTATIONS}
        if not under_names:
            if out.get("type") == "array":
                out["maxItems"] = min(out.get("maxItems", 2), 2)
            if "patternProperties" in out:
                out["maxProperties"] = min(out.get("maxProperties", 2), 2)
        return out

    flat = simplify(schema)
    return from_schema(flat if section is None else flat["properties"][section])


# Constraints across fields that the JSON Schema does not express; the models refuse them.
NOT_IN_SCHEMA = [
    r"a cron job calls exactly one of function or url",
    r"lease consul needs a consul section",
    r"a static lease has exactly one candidate, not \d+",
    r"autoscale min \d+ is above max \d+",
    r"'.*' is not an HTTP path",  # `//` and `/../` match the schema's pattern
]


def assert_structurally_valid(data: dict[str, Any]) -> None:
    try:
        Manifest.model_validate(data)
    except ValidationError as exc:
        unexplained = [e for e in exc.errors() if not any(re.fullmatch(p, e["msg"]) for p in NOT_IN_SCHEMA)]
        assert unexplained == [], json.dumps(data, default=str)[:2000]


MINIMAL = {"apiVersion": "koyalite.dev/v1", "project": {"name": "acme", "release": "1.4.0"}}
SECTIONS = ["project", "features", "limits", "services", "database", "storage", "search", "functions", "cron", "webhooks", "environments"]


@pytest.mark.parametrize("section", SECTIONS)
def test_schema_sections_pass_the_models(section: str) -> None:
    @settings(max_examples=6)
    @given(schema_strategy(section))
    def run(value: Any) -> None:
        assert_structurally_valid({**MINIMAL, section: value})

    run()


@settings(max_examples=4)
@given(schema_strategy(None))
def test_schema_documents_pass_the_models(data: dict[str, Any]) -> None:
    assert_structurally_valid(data)
