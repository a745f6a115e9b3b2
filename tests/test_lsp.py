"""`koyalite lsp` through a real LSP client over stdio (pytest-lsp, on pygls's client): the reference manifest opened,
edited, diagnosed, completed, hovered, navigated and fixed, and bad input of every kind the loader refuses never
stopping the server. Random texts never make the analysis raise (hypothesis)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from provisioner.lsp import analysis

REPO = Path(__file__).resolve().parent.parent
KOYALITE = REPO / ".venv" / "bin" / "koyalite"
REFERENCE = (REPO / "koyalite.yaml").read_text()
LINES = REFERENCE.split("\n")


def at(needle: str, offset: int = 0, after: str = "") -> lsp.Position:
    """The position of `needle` in the reference manifest (the first line holding it after a line holding `after`)."""
    started = not after
    for i, line in enumerate(LINES):
        started = started or after in line
        if started and needle in line:
            return lsp.Position(line=i, character=line.index(needle) + offset)
    raise AssertionError(f"{needle!r} is not in the reference manifest")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lsp")
    shutil.copy(REPO / "koyalite.yaml", folder / "koyalite.yaml")
    shutil.copytree(REPO / "functions", folder / "functions")
    return folder


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[str(KOYALITE), "lsp"]))
async def client(lsp_client: LanguageClient, project: Path):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=project.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def opened(client: LanguageClient, project: Path, text: str = REFERENCE) -> str:
    uri = (project / "koyalite.yaml").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)))
    await published(client, uri, 1)
    return uri


async def published(client: LanguageClient, uri: str, version: int) -> list[lsp.Diagnostic]:
    """The diagnostics the server publishes for this version of the document."""
    while True:
        params = await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)


async def edited(client: LanguageClient, uri: str, version: int, start: lsp.Position, end: lsp.Position, text: str) -> list[lsp.Diagnostic]:
    change = lsp.TextDocumentContentChangePartial(range=lsp.Range(start=start, end=end), text=text)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
        )
    )
    return await published(client, uri, version)


def expected(text: str, project: Path) -> list[tuple[int, int, str]]:
    found, _ = analysis.diagnose(text, str(project / "koyalite.yaml"), project)
    return sorted((d.position.line - 1, d.position.column - 1, d.message) for d in found if d.position)


@pytest.mark.asyncio
async def test_the_reference_manifest_gets_what_validate_reports(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    shown = client.diagnostics[uri]
    assert not [d for d in shown if d.severity == lsp.DiagnosticSeverity.Error]
    got = sorted((d.range.start.line, d.range.start.character, d.message.split(": ", 1)[1].rsplit(" (", 1)[0]) for d in shown)
    assert got == expected(REFERENCE, project)
    assert all(d.source == "koyalite" for d in shown)


@pytest.mark.asyncio
async def test_an_error_appears_with_its_fix_and_goes_when_fixed(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    where = at("replicas: 2", after="  api:")
    end = lsp.Position(line=where.line, character=where.character + len("replicas"))
    shown = await edited(client, uri, 2, where, end, "repliocas")
    (error,) = [d for d in shown if d.severity == lsp.DiagnosticSeverity.Error]
    assert error.message == "services.api.repliocas: unknown key `repliocas` (did you mean `replicas`?)"
    assert error.range == lsp.Range(start=where, end=lsp.Position(line=where.line, character=where.character + len("repliocas")))
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), range=error.range, context=lsp.CodeActionContext(diagnostics=[error])
        )
    )
    assert actions is not None
    (action,) = actions
    assert isinstance(action, lsp.CodeAction) and action.title == "Replace with replicas"
    assert action.edit is not None and action.edit.changes is not None
    (fix,) = action.edit.changes[uri]
    shown = await edited(client, uri, 3, fix.range.start, fix.range.end, fix.new_text)
    assert not [d for d in shown if d.severity == lsp.DiagnosticSeverity.Error]


@pytest.mark.asyncio
async def test_an_overlay_error_points_at_the_overlay_and_a_quantity_gets_its_fix(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    where = at("namespace: acme-staging")
    shown = await edited(client, uri, 2, where, where, "storage_class: 5\n      ")
    (error,) = [d for d in shown if d.severity == lsp.DiagnosticSeverity.Error]
    assert error.range.start.line == where.line and error.message.startswith("environments.staging.kubernetes.storage_class:")
    memory = at("limits: {cpu: 250m, memory: 256Mi}")
    start = lsp.Position(line=memory.line, character=memory.character + len("limits: {cpu: 250m, memory: "))
    end = lsp.Position(line=start.line, character=start.character + len("256Mi"))
    shown = await edited(client, uri, 3, start, end, "512MB")
    fixes = [d.data for d in shown if d.range.start == start]
    assert fixes == [{"fix": "512Mi"}]


@pytest.mark.asyncio
async def test_completion_of_keys_values_and_names(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    # a function name where a cron job calls one
    where = at("function: cleanup", offset=len("function: "))
    result = await client.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=where))
    assert result is not None and not isinstance(result, list)
    assert {i.label for i in result.items} == {"cleanup", "hello", "send-digest", "thumbnail"}
    # a key of a service, documented
    key = at("replicas: 2", after="  api:")
    result = await client.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=key))
    assert result is not None and not isinstance(result, list)
    labels = {i.label: i for i in result.items}
    assert {"replicas", "resources", "autoscale", "env", "secrets"} <= set(labels)
    documentation = labels["replicas"].documentation
    assert isinstance(documentation, lsp.MarkupContent) and "Default: `1`" in documentation.value
    # an enumeration's values
    target = at("target: kubernetes", offset=len("target: "))
    result = await client.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=target))
    assert result is not None and not isinstance(result, list)
    assert {i.label for i in result.items} == {"docker", "kubernetes"}


@pytest.mark.asyncio
async def test_hover_says_what_a_field_is_and_its_effective_value(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    hover = await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=at("namespace: acme-staging", offset=2)))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    text = hover.contents.value
    assert text.startswith("**namespace** — `str`") and "Namespace; defaults to <project>-<environment>." in text
    line = at("namespace: acme-staging").line + 1
    assert f'In `staging`: `"acme-staging"` (koyalite.yaml:{line}:18)' in text
    hover = await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=at("replicas: 2", offset=1, after="  api:")))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    base = at("replicas: 2", after="  api:")
    # dev's overlay sets 1 (the origin is the overlay's line); staging and prod keep the base's 2
    assert "In `dev`: `1` (koyalite.yaml:" in hover.contents.value
    assert f"In `staging`: `2` (koyalite.yaml:{base.line + 1}:{base.character + 11})" in hover.contents.value


@pytest.mark.asyncio
async def test_definitions_and_references(client: LanguageClient, project: Path) -> None:
    uri = await opened(client, project)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    found = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc, position=at("function: cleanup", offset=12))
    )
    assert isinstance(found, list) and [(f.uri, f.range.start) for f in found] == [(uri, at("- name: cleanup", offset=8))]
    found = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc, position=at("entrypoint: functions/hello/index.ts", offset=15))
    )
    assert isinstance(found, list) and [f.uri for f in found] == [(project / "functions" / "hello" / "index.ts").as_uri()]
    uses = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc,
            position=at("SERVICE_ROLE_KEY: service_role_key}", offset=len("SERVICE_ROLE_KEY: ") + 2),
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert uses is not None
    lines = {u.range.start.line for u in uses}
    assert lines == {i for i, line in enumerate(LINES) if ": service_role_key" in line}


BAD = {
    "duplicate-key": "apiVersion: koyalite.dev/v1\nproject: {name: acme}\nproject: {name: other}\n",
    "yaml-1.1-boolean": "apiVersion: koyalite.dev/v1\nproject: {name: acme}\nfeatures: {search: no}\n",
    "tab-indent": "apiVersion: koyalite.dev/v1\nproject:\n\tname: acme\n",
    "not-yaml": "apiVersion: [koyalite\n",
    "empty": "",
    "a-list": "- a\n- b\n",
    "merge-key": "apiVersion: koyalite.dev/v1\nbase: &b {name: acme}\nproject: {<<: *b}\n",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
async def test_what_the_loader_refuses_is_a_diagnostic_and_the_server_goes_on(client: LanguageClient, project: Path, text: str) -> None:
    uri = await opened(client, project, text)
    shown = client.diagnostics[uri]
    assert [d.severity for d in shown][:1] == [lsp.DiagnosticSeverity.Error]
    assert sorted((d.range.start.line, d.range.start.character) for d in shown) == sorted(
        (line, col) for line, col, _ in expected(text, project)
    )
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 0))
    )
    assert hover is None or isinstance(hover, lsp.Hover)  # it answers


@pytest.mark.asyncio
async def test_random_edits_never_stop_the_server(client: LanguageClient, project: Path) -> None:
    import random

    uri = await opened(client, project)
    rng, text = random.Random(14), REFERENCE
    for version in range(2, 42):
        lines = text.split("\n")
        line = rng.randrange(len(lines))
        start = rng.randrange(len(lines[line]) + 1)
        end = min(len(lines[line]), start + rng.randrange(6))
        insert = rng.choice(["", ":", "{", "- ", "  ", "\n", "x", "\t", "'", "&a", "*a", "1.10", "no", "#", "]"])
        lines[line] = lines[line][:start] + insert + lines[line][end:]
        text = "\n".join(lines)
        await edited(client, uri, version, lsp.Position(line, start), lsp.Position(line, end), insert)
        position = lsp.Position(line=line, character=start)
        await client.text_document_completion_async(
            lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=position)
        )
        await client.text_document_hover_async(lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=position))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789 :-{}[],'\"#&*!|>\n\t.")), max_size=300), data=st.data()
)
def test_the_analysis_never_raises_on_any_text(text: str, data: st.DataObject) -> None:
    analysis.diagnose(text, "koyalite.yaml", None)
    lines = text.split("\n")
    line = data.draw(st.integers(0, len(lines) - 1))
    analysis.place_at(text, line, data.draw(st.integers(0, len(lines[line]))))


def test_a_mid_edit_text_still_places_the_cursor() -> None:
    text = "services:\n  api:\n    repl\n"
    assert analysis.place_at(text, 2, 8) == analysis.Place(("services", "api"), None, "repl", False, "repl")
    text = 'cron:\n  - {name: a, schedule: "@daily", function: cl}\n'
    place = analysis.place_at(text, 1, text.split("\n")[1].index("cl}") + 2)
    assert (place.loc, place.key, place.prefix) == (("cron", "[]"), "function", "cl")
