"""Reference docs: docs/*.md are what `koyalite docs` generates, and they name every field of the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from provisioner.gitops.docs import GENERATED, generate
from provisioner.manifest.catalog import EVENTS
from tests.support import REPO, SCHEMA, Capture, run

DOCS = REPO / "docs"


def sections(text: str) -> dict[str, list[str]]:
    """`## Title` -> the lines under it."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line.removeprefix("## "), [])
        else:
            current.append(line)
    return found


def rows(lines: list[str]) -> dict[str, list[str]]:
    """A section's table: first cell (without backticks) -> every cell."""
    found = {}
    for line in lines:
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            found[cells[0].strip("`").replace("\\|", "|")] = cells
    return found


@pytest.mark.parametrize("name", ["manifest.md", "events.md"])
def test_committed_docs_are_what_koyalite_docs_generates(name: str) -> None:
    assert (DOCS / name).read_text(encoding="utf-8") == generate()[name], f"docs/{name} is stale: run `koyalite docs`"


def test_docs_check_passes_on_the_repository(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert run(capsys, "docs", "--check") == (0, "", "")


def test_every_schema_field_has_a_row_in_its_section() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    found = sections((DOCS / "manifest.md").read_text(encoding="utf-8"))
    nodes = {"Top level": schema, **schema["$defs"]}
    assert set(nodes) <= set(found), sorted(set(nodes) - set(found))
    missing = [f"{name}.{key}" for name, node in nodes.items() for key in node.get("properties", {}) if key not in rows(found[name])]
    assert missing == []
    assert len([key for node in nodes.values() for key in node.get("properties", {})]) > 150  # the whole manifest, not a stub


def test_rows_say_type_default_and_description() -> None:
    found = sections((DOCS / "manifest.md").read_text(encoding="utf-8"))
    assert rows(found["Top level"])["apiVersion"] == [
        "`apiVersion`",
        "`koyalite.dev/v1` (fixed)",
        "**required**",
        "",
        "Manifest format version.",
    ]
    assert rows(found["Limits"])["storage_quota"] == [
        "`storage_quota`",
        "[byte quantity](#value-types)",
        "unset",
        "`500Gi`",
        "Upper bound on all persistent volumes the environment claims; unset means no bound.",
    ]
    assert rows(found["Storage"])["replication"][1:4] == ["string", "`'000'`", "`'001'`"]
    assert rows(found["Features"])["(experimental|enterprise)\\.[a-z][a-z0-9_]*"][1] == "boolean"
    # every link to a section points at a heading that exists (GitHub's anchors: lowercase, spaces to dashes)
    text = (DOCS / "manifest.md").read_text(encoding="utf-8")
    anchors = {"#" + title.lower().replace(" ", "-") for title in found}
    assert set(re.findall(r"\]\((#[a-z0-9-]+)\)", text)) <= anchors


def test_every_webhook_event_is_listed() -> None:
    listed = rows((DOCS / "events.md").read_text(encoding="utf-8").splitlines())
    assert list(listed) == list(EVENTS)
    assert listed["auth.user.created"][1] == EVENTS["auth.user.created"]


def test_docs_writes_both_files_and_check_finds_a_stale_one(capsys: Capture, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    assert run(capsys, "docs", "-o", str(out)) == (0, "", f"wrote {out / 'manifest.md'}, {out / 'events.md'}\n")
    assert sorted(p.name for p in out.iterdir()) == ["events.md", "manifest.md"]  # no temporary file left
    assert GENERATED in (out / "manifest.md").read_text(encoding="utf-8")
    assert run(capsys, "docs", "-o", str(out), "--check") == (0, "", "")
    (out / "events.md").write_text("# hand-edited\n", encoding="utf-8")
    (out / "manifest.md").unlink()
    assert run(capsys, "docs", "-o", str(out), "--check") == (
        1,
        "",
        f"{out / 'manifest.md'} is out of date; run `koyalite docs -o {out}`\n{out / 'events.md'} is out of date; run `koyalite docs -o {out}`\n",
    )
    assert not (out / "manifest.md").exists()  # --check writes nothing


def test_docs_output_must_be_a_folder(capsys: Capture, tmp_path: Path) -> None:
    assert run(capsys, "docs", "-o", str(tmp_path / "manifest.md")) == (
        64,
        "",
        f"error: -o takes a folder, not a file: {tmp_path / 'manifest.md'}\n  hint: pass -o {tmp_path}\n",
    )
