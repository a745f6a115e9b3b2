"""Golden files for `koyalite validate` on bad manifests: the human text (stderr) and the JSON (stdout).

Inputs are tests/golden/errors/<case>.yaml; expected outputs <case>.human.txt and <case>.json.
Run `pytest tests/test_errors_golden.py --update-golden` to rewrite them, then review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden" / "errors"
CASES = sorted(path.stem for path in GOLDEN.glob("*.yaml"))
SUFFIX = {"human": "human.txt", "json": "json"}


def validate(case: str, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(GOLDEN)  # relative paths in the output: no machine paths in the golden files
    monkeypatch.delenv("KOYALITE_DEBUG", raising=False)
    code = main(["validate", f"{case}.yaml", "--format", fmt])
    out, err = capsys.readouterr()
    return code, out, err


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("fmt", ["human", "json"])
@pytest.mark.parametrize("case", CASES)
def test_error_output_matches_golden(
    case: str, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, update_golden: bool
) -> None:
    code, out, err = validate(case, fmt, capsys, monkeypatch)
    actual, other = (err, out) if fmt == "human" else (out, err)
    expected = GOLDEN / f"{case}.{SUFFIX[fmt]}"
    if update_golden:
        expected.write_text(actual, encoding="utf-8")
    assert expected.is_file(), f"{expected.name} is missing: run pytest with --update-golden"
    assert code == 2
    assert other == ""
    assert actual == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_json_output_shape(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = validate(case, "json", capsys, monkeypatch)
    document = json.loads(out)
    assert sorted(document) == ["diagnostics", "environments", "file", "valid"]
    assert (document["file"], document["valid"]) == (f"{case}.yaml", False)
    assert document["diagnostics"], "a bad manifest reports at least one problem"
    for d in document["diagnostics"]:
        assert sorted(d) == ["code", "column", "file", "hint", "line", "message", "path", "severity"]
        assert d["file"] == f"{case}.yaml"
        assert isinstance(d["line"], int) and isinstance(d["column"], int) and d["line"] >= 1 and d["column"] >= 1
    keys = [(d["line"], d["column"], d["path"], d["message"]) for d in document["diagnostics"]]
    assert keys == sorted(keys)


def test_golden_files_hold_no_machine_paths() -> None:
    for path in GOLDEN.iterdir():
        text = path.read_text(encoding="utf-8")
        assert str(Path.home()) not in text and "/tmp/" not in text and str(GOLDEN) not in text, path.name


def test_every_expected_file_has_an_input() -> None:
    expected = {p.name for p in GOLDEN.iterdir() if not p.name.endswith(".yaml")}
    assert expected == {f"{case}.{suffix}" for case in CASES for suffix in SUFFIX.values()}
