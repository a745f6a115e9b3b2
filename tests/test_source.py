"""The loader refuses YAML's traps, each with file:line:col, and reads the valid edge cases right."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from provisioner.errors import ManifestError
from provisioner.manifest import check, load, parse, source
from tests.support import checked, manifest, node_at, problems

VALID = manifest()

LAUGHS = "".join(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi", strict=True))
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + LAUGHS
"""Nine aliases per level, nine levels: 9**9 (387 million) strings from a 400-byte file."""


def parse_errors(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse(text, "koyalite.yaml")
    return [str(d) for d in caught.value.diagnostics]


def load_errors(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(path, path.name)
    return [str(d) for d in caught.value.diagnostics]


YAML_ERRORS = [
    pytest.param(
        "a: 1\nb: 2\na: 3\n",
        "koyalite.yaml:3:1: error: duplicate key `a` (first defined at koyalite.yaml:1:1)"
        " (remove one of them; YAML keeps only the last and hides the first)",
        id="duplicate-key",
    ),
    pytest.param(
        "project:\n  name: a\n  release: '1'\n  name: b\n",
        "koyalite.yaml:4:3: error: duplicate key `name` (first defined at koyalite.yaml:2:3)"
        " (remove one of them; YAML keeps only the last and hides the first)",
        id="duplicate-nested-key",
    ),
    pytest.param(
        "a: 1\n---\nb: 2\n",
        "koyalite.yaml:2:1: error: the file holds more than one YAML document"
        " (keep one document; put per-environment differences under `environments`)",
        id="multiple-documents",
    ),
    pytest.param(
        "project:\n  name: acme\n\trelease: '1'\n",
        "koyalite.yaml:3:1: error: tab character in indentation (indent with spaces; YAML does not allow tabs there)",
        id="tab-indentation",
    ),
    pytest.param(
        "regions:\n  - fra\n\t- iad\n",
        "koyalite.yaml:3:1: error: tab character in indentation (indent with spaces; YAML does not allow tabs there)",
        id="tab-before-list-item",
    ),
    pytest.param(
        "a: {b: 1\n",
        "koyalite.yaml:2:1: error: did not find expected ',' or '}' (while parsing a flow mapping started at line 1)",
        id="unclosed-flow-mapping",
    ),
    pytest.param(
        "a:\n  b: 1\n c: 2\n",
        "koyalite.yaml:3:2: error: did not find expected key (while parsing a block mapping started at line 1)",
        id="bad-indentation",
    ),
    pytest.param(
        "a: b: c\n",
        "koyalite.yaml:1:5: error: mapping values are not allowed in this context",
        id="colon-in-plain-value",
    ),
    pytest.param(
        "",
        "koyalite.yaml:1:1: error: the manifest is empty (start from `koyalite init`, or see the README)",
        id="empty-file",
    ),
    pytest.param(
        "# nothing\n\n# but comments\n",
        "koyalite.yaml:1:1: error: the manifest is empty (start from `koyalite init`, or see the README)",
        id="comments-only",
    ),
    pytest.param(
        "---\n",
        "koyalite.yaml:1:1: error: the manifest is empty (start from `koyalite init`, or see the README)",
        id="document-marker-only",
    ),
    pytest.param(
        "--- # nothing yet\n...\n",
        "koyalite.yaml:1:1: error: the manifest is empty (start from `koyalite init`, or see the README)",
        id="empty-document-with-end-marker",
    ),
    pytest.param(
        "- apiVersion: koyalite.dev/v1\n",
        "koyalite.yaml:1:1: error: the manifest must be a mapping, not a list"
        " (start with `apiVersion: koyalite.dev/v1` and the project's sections)",
        id="top-level-list",
    ),
    pytest.param(
        "koyalite\n",
        "koyalite.yaml:1:1: error: the manifest must be a mapping, not a single value"
        " (start with `apiVersion: koyalite.dev/v1` and the project's sections)",
        id="top-level-scalar",
    ),
    pytest.param(
        "~\n",
        "koyalite.yaml:1:1: error: the manifest must be a mapping, not a single value"
        " (start with `apiVersion: koyalite.dev/v1` and the project's sections)",
        id="top-level-null",
    ),
    pytest.param(
        "base: &base {replicas: 2}\napi:\n  <<: *base\n",
        "koyalite.yaml:3:3: error: YAML merge keys (`<<`) are not supported"
        " (write the values out, or put differences in an environment overlay)",
        id="merge-key",
    ),
    pytest.param(
        "a: !secret value\n",
        "koyalite.yaml:1:4: error: YAML tag !secret is not supported (remove the tag; quote the value if you mean a string)",
        id="custom-tag",
    ),
    pytest.param(
        "a: !!python/object/apply:os.system [ls]\n",
        "koyalite.yaml:1:4: error: YAML tag tag:yaml.org,2002:python/object/apply:os.system is not supported"
        " (remove the tag; koyalite.yaml is plain data)",
        id="python-tag",
    ),
    pytest.param(
        "a: !!set {x: null}\n",
        "koyalite.yaml:1:4: error: YAML tag tag:yaml.org,2002:set is not supported (remove the tag; koyalite.yaml is plain data)",
        id="set-tag",
    ),
    pytest.param(
        "a: !!int 3\n",
        "koyalite.yaml:1:4: error: YAML tag tag:yaml.org,2002:int is not supported (remove the tag; quote the value if you mean a string)",
        id="core-tag",
    ),
    pytest.param(
        "a: 1\n8080: api\n",
        "koyalite.yaml:2:1: error: mapping key `8080` is not a string (quote it: '8080')",
        id="integer-key",
    ),
    pytest.param(
        "true: a\n",
        "koyalite.yaml:1:1: error: mapping key `true` is not a string (quote it: 'true')",
        id="boolean-key",
    ),
    pytest.param(
        "~: a\n",
        "koyalite.yaml:1:1: error: mapping key `~` is not a string (quote it: '~')",
        id="null-key",
    ),
    pytest.param(
        "? [a, b]\n: c\n",
        "koyalite.yaml:1:3: error: mapping keys must be plain strings (use a string key; lists and mappings cannot be keys)",
        id="list-key",
    ),
    pytest.param(
        "a: &x [1, *x]\n",
        "koyalite.yaml:1:11: error: alias *x refers to no finished anchor (define `&x` before using it, and not inside itself)",
        id="recursive-alias",
    ),
    pytest.param(
        "a: *nowhere\n",
        "koyalite.yaml:1:4: error: alias *nowhere refers to no finished anchor (define `&nowhere` before using it, and not inside itself)",
        id="undefined-alias",
    ),
    pytest.param(
        "project:\n  name: ac\x07me\n",
        "koyalite.yaml:2:11: error: character U+0007 is not allowed in YAML (remove it, or write it as an escape in a double-quoted string)",
        id="control-character",
    ),
    pytest.param(
        "project:\n  name: \u00e9\u00e9\u00e9\x00\n",
        "koyalite.yaml:2:12: error: character U+0000 is not allowed in YAML (remove it, or write it as an escape in a double-quoted string)",
        id="nul-after-multibyte-characters",
    ),
    pytest.param(
        "project:\n  name: a\ud800b\n",
        "koyalite.yaml:2:10: error: the text is not valid Unicode (save the file as UTF-8)",
        id="lone-surrogate",
    ),
    pytest.param(
        BILLION_LAUGHS,
        "koyalite.yaml:6:32: error: aliases expand the document past 500,000 nodes"
        " (anchors and aliases may repeat a value, not multiply the document; write it out)",
        id="billion-laughs",  # the 7th `*e` (66,430 nodes each) crosses the limit
    ),
]


@pytest.mark.parametrize(("text", "expected"), YAML_ERRORS)
def test_yaml_errors(text: str, expected: str) -> None:
    assert parse_errors(text) == [expected]


YAML11 = [
    pytest.param("no", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="no"),
    pytest.param("No", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="No"),
    pytest.param("yes", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="yes"),
    pytest.param("on", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="on"),
    pytest.param("OFF", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="OFF"),
    pytest.param("y", "a boolean in YAML 1.1 but a string in YAML 1.2", "for a string, or true/false for a boolean", id="y"),
    pytest.param(
        "010",
        "a number in YAML 1.1 (octal or with digit separators) but a string in YAML 1.2",
        "for a string, or the number without leading zeros or underscores",
        id="octal",
    ),
    pytest.param(
        "+010",
        "a number in YAML 1.1 (octal or with digit separators) but a string in YAML 1.2",
        "for a string, or the number without leading zeros or underscores",
        id="signed-octal",
    ),
    pytest.param(
        "1_000",
        "a number in YAML 1.1 (octal or with digit separators) but a string in YAML 1.2",
        "for a string, or the number without leading zeros or underscores",
        id="underscores",
    ),
    pytest.param(
        "1_000.5",
        "a number in YAML 1.1 (octal or with digit separators) but a string in YAML 1.2",
        "for a string, or the number without leading zeros or underscores",
        id="underscores-float",
    ),
    pytest.param("12:30", "a base-60 number in YAML 1.1 but a string in YAML 1.2", "", id="sexagesimal"),
    pytest.param("190:20:30", "a base-60 number in YAML 1.1 but a string in YAML 1.2", "", id="sexagesimal-three"),
]


@pytest.mark.parametrize(("plain", "problem", "hint_tail"), YAML11)
@pytest.mark.parametrize("layout", ["block", "flow"])
def test_yaml11_lookalikes_are_refused(plain: str, problem: str, hint_tail: str, layout: str) -> None:
    text, column = (f"cron:\n  - schedule: {plain}\n", 15) if layout == "block" else (f"cron: [{{schedule: {plain}}}]\n", 19)
    hint = f"write '{plain}' (quoted)" + (f" {hint_tail}" if hint_tail else "")
    assert parse_errors(text) == [f"koyalite.yaml:{2 if layout == 'block' else 1}:{column}: error: `{plain}` is {problem} ({hint})"]


def test_yaml11_lookalike_key_is_refused() -> None:
    assert parse_errors("on: push\n") == [
        "koyalite.yaml:1:1: error: `on` is a boolean in YAML 1.1 but a string in YAML 1.2"
        " (write 'on' (quoted) for a string, or true/false for a boolean)"
    ]


def test_release_1_10_says_quote_it() -> None:
    text = "apiVersion: koyalite.dev/v1\nproject:\n  name: acme\n  release: 1.10\n"
    assert problems(text) == [
        "koyalite.yaml:4:12: error: project.release: expected a string, got the number 1.1 (written 1.10) (quote it: '1.10')"
    ]


def test_alias_bomb_stops_at_max_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_NODES", 40)
    # 9 + 1 nodes for `a`, then each `*a` adds 10: the fourth alias of line 2 crosses 40.
    assert parse_errors(BILLION_LAUGHS) == [
        "koyalite.yaml:2:20: error: aliases expand the document past 40 nodes"
        " (anchors and aliases may repeat a value, not multiply the document; write it out)"
    ]


def test_aliases_within_the_limit_are_shared_values() -> None:
    doc = parse("a: &x {b: 1}\nc: *x\nd: *x\n")
    assert doc.root.to_plain() == {"a": {"b": 1}, "c": {"b": 1}, "d": {"b": 1}}
    # each use keeps the position of its own key, so errors about `d` point at `d`
    assert [str(node_at(doc.root, k).key_pos) for k in "acd"] == ["koyalite.yaml:1:1", "koyalite.yaml:2:1", "koyalite.yaml:3:1"]


# --- files: encodings and size -------------------------------------------------------------------


def test_non_utf8_byte_is_positioned(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"apiVersion: koyalite.dev/v1\nproject:\n  name: caf\xe9\n")
    assert load_errors(path) == ["latin1.yaml:3:12: error: byte 0xe9 is not valid UTF-8 (save the file as UTF-8)"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "wide.yaml"
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path.write_bytes(bom + VALID.encode(encoding))
    assert load_errors(path) == ["wide.yaml:1:1: error: the file is UTF-16 (save it as UTF-8)"]


def test_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_BYTES", 64)
    path = tmp_path / "big.yaml"
    path.write_text(VALID + "# padding\n" * 10, encoding="utf-8")
    assert load_errors(path) == [
        f"big.yaml:1:1: error: the file is {len(VALID) + 100} bytes; the limit is 64 (split generated content out of the manifest)"
    ]


def test_file_at_the_size_cap_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "koyalite.yaml"
    path.write_text(VALID, encoding="utf-8")
    monkeypatch.setattr(source, "MAX_BYTES", len(VALID))
    assert load(path).root.to_plain() == {"apiVersion": "koyalite.dev/v1", "project": {"name": "acme", "release": "1.4.0"}}


def test_missing_file(tmp_path: Path) -> None:
    assert load_errors(tmp_path / "nope.yaml") == [
        "nope.yaml:1:1: error: cannot read the manifest: No such file or directory (check the path, or run `koyalite init`)"
    ]


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "koyalite.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    doc = load(path, "koyalite.yaml")
    assert str(node_at(doc.root, "apiVersion").key_pos) == "koyalite.yaml:1:1"
    assert check(doc).manifest.project.name == "acme"


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "koyalite.yaml"
    path.write_bytes((VALID + "features:\n  cron: false\n  search: no\n").replace("\n", "\r\n").encode())
    # the position of the YAML 1.1 trap proves lines are counted once per CRLF
    assert load_errors(path) == [
        "koyalite.yaml:5:11: error: `no` is a boolean in YAML 1.1 but a string in YAML 1.2"
        " (write 'no' (quoted) for a string, or true/false for a boolean)"
    ]
    path.write_bytes((VALID + "features:\n  cron: false\n").replace("\n", "\r\n").encode())
    doc = load(path, "koyalite.yaml")
    cron = node_at(doc.root, "features", "cron")
    assert (str(cron.pos), cron.value) == ("koyalite.yaml:4:9", False)


# --- values: YAML 1.2 core schema ----------------------------------------------------------------


SCALARS = [
    pytest.param("'no'", "no", id="quoted-no"),
    pytest.param('"on"', "on", id="double-quoted-on"),
    pytest.param("'1.10'", "1.10", id="quoted-version"),
    pytest.param("'010'", "010", id="quoted-octal"),
    pytest.param("!!str 010", "010", id="str-tag"),
    pytest.param("0x1F", 31, id="hex"),
    pytest.param("0o17", 15, id="octal-1.2"),
    pytest.param("0", 0, id="zero"),
    pytest.param("-12", -12, id="negative"),
    pytest.param("1.5", 1.5, id="float"),
    pytest.param("1e3", 1000.0, id="exponent"),
    pytest.param(".inf", math.inf, id="inf"),
    pytest.param("-.Inf", -math.inf, id="minus-inf"),
    pytest.param("true", True, id="true"),
    pytest.param("False", False, id="False"),
    pytest.param("~", None, id="tilde"),
    pytest.param("null", None, id="null"),
    pytest.param("", None, id="nothing"),
    pytest.param("Yes please", "Yes please", id="yes-in-a-sentence"),
    pytest.param("12:30:99", "12:30:99", id="not-sexagesimal"),
    pytest.param("0o8", "0o8", id="not-octal"),
    pytest.param("1.4.0", "1.4.0", id="version"),
]


@pytest.mark.parametrize(("written", "value"), SCALARS)
def test_scalars_follow_yaml_1_2(written: str, value: object) -> None:
    node = node_at(parse(f"a: {written}\n").root, "a")
    assert node.value == value
    assert type(node.value) is type(value)


def test_nan_is_a_float() -> None:
    node = node_at(parse("a: .nan\n").root, "a")
    assert isinstance(node.value, float) and math.isnan(node.value)


def test_plain_text_is_kept_for_messages() -> None:
    node = node_at(parse("a: 1.10\n").root, "a")
    assert (node.value, node.text) == (1.1, "1.10")


def test_valid_manifest_parses_to_plain_data() -> None:
    result = checked(manifest("features: {cron: false}\n"))
    assert result.manifest.features.cron is False
