"""`koyalite lsp`: a Language Server Protocol server over stdio (pygls) for koyalite.yaml.

It keeps each open manifest and re-checks it on every change (debounced; a newer change cancels the check of an
older one, and a check runs off the protocol's loop, so completion and hover answer meanwhile), publishing what
`koyalite validate` reports for every environment at the same positions, with the hint. It completes keys and
values from the models and names the manifest defines, shows a field's description, type and default (and, in an
environment, the effective value and where it comes from), goes to a name's definition or a function's file, finds
a name's uses, and offers the fix when a hint names exactly one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from provisioner import manifest
from provisioner.errors import Diagnostic, KoyaliteError, Severity
from provisioner.lsp import analysis
from provisioner.lsp.analysis import Names, Place
from provisioner.manifest.models import SECTIONS

DEBOUNCE_S = 0.03
"""Typing pauses shorter than this coalesce into one check."""
SOURCE = "koyalite"


@dataclass
class Open:
    """What the server keeps of an open manifest."""

    uri: str
    version: int = -1
    pending: asyncio.Task[None] | None = None
    doc: manifest.Document | None = None
    """The last text that parsed (names, hover, definitions read it while the current one does not parse)."""
    names: Names = field(default_factory=Names)
    effective: dict[str, manifest.Checked | None] = field(default_factory=dict)
    """Environment -> its checked manifest, for hover; computed on demand, dropped on change."""


class ManifestServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("koyalite", "1", text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.open: dict[str, Open] = {}

    # -- checking ------------------------------------------------------------------------------------------------

    def schedule(self, uri: str, version: int) -> None:
        state = self.open.setdefault(uri, Open(uri))
        state.version = version
        if state.pending is not None and not state.pending.done():
            state.pending.cancel()  # a newer text: the older check is stale
        state.pending = asyncio.ensure_future(self._check_later(uri, version))

    async def _check_later(self, uri: str, version: int) -> None:
        await asyncio.sleep(DEBOUNCE_S)
        text = self.workspace.get_text_document(uri).source
        path = to_fs_path(uri)
        base = Path(path).parent if path else None
        found, doc = await asyncio.get_running_loop().run_in_executor(None, analysis.diagnose, text, path or uri, base)
        state = self.open.get(uri)
        if state is None or state.version != version:
            return  # the text changed while this ran: its own check publishes
        if doc is not None:
            state.doc, state.names, state.effective = doc, analysis.names(doc), {}
        lines = text.split("\n")
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=[to_lsp(d, lines) for d in found])
        )

    def effective(self, state: Open, environment: str) -> manifest.Checked | None:
        if environment not in state.effective:
            try:
                state.effective[environment] = manifest.check(state.doc, environment) if state.doc else None
            except KoyaliteError:  # an invalid environment (or one just removed): no effective value to show
                state.effective[environment] = None
        return state.effective[environment]


def to_lsp(d: Diagnostic, lines: list[str]) -> lsp.Diagnostic:
    span = analysis.span_of(lines, d.position)
    fix = analysis.fix_of(d)
    message = f"{d.path}: {d.message}" if d.path else d.message
    return lsp.Diagnostic(
        range=_range(span),
        message=f"{message} ({d.hint})" if d.hint else message,
        severity=lsp.DiagnosticSeverity.Error if d.severity is Severity.ERROR else lsp.DiagnosticSeverity.Warning,
        source=SOURCE,
        code=d.code or None,
        data={"fix": fix} if fix else None,
    )


def _range(span: analysis.Span) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=span.line, character=span.start), end=lsp.Position(line=span.line, character=span.end))


def _location(uri: str, lines: list[str], pos: Any) -> lsp.Location:
    return lsp.Location(uri=uri, range=_range(analysis.span_of(lines, pos)))


server = ManifestServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ManifestServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: ManifestServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: ManifestServer, params: lsp.DidSaveTextDocumentParams) -> None:
    state = ls.open.get(params.text_document.uri)
    ls.schedule(params.text_document.uri, state.version if state else 0)  # function files may have changed


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ManifestServer, params: lsp.DidCloseTextDocumentParams) -> None:
    state = ls.open.pop(params.text_document.uri, None)
    if state and state.pending:
        state.pending.cancel()
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


def _place(ls: ManifestServer, uri: str, position: lsp.Position) -> tuple[Place, list[str], Open]:
    text = ls.workspace.get_text_document(uri).source
    state = ls.open.setdefault(uri, Open(uri))
    return analysis.place_at(text, position.line, position.character), text.split("\n"), state


# -- completion -----------------------------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ":"]))
def completion(ls: ManifestServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    place, _, state = _place(ls, params.text_document.uri, params.position)
    items: list[lsp.CompletionItem] = []
    if place.key is None or place.on_key:
        if place.loc == ("environments",):
            items += [_name(name, "environment") for name in state.names.defined.get("environment", {})]
        model = analysis.model_at(place.loc)
        if model is not None:
            for key, info in analysis.fields_of(model).items():
                items.append(
                    lsp.CompletionItem(
                        label=key,
                        kind=lsp.CompletionItemKind.Property,
                        detail=analysis.type_name(info.annotation),
                        documentation=_doc(info),
                        insert_text=f"{key}: ",
                    )
                )
    else:
        annotation = analysis.annotation_at((*place.loc, place.key))
        items += [lsp.CompletionItem(label=v, kind=lsp.CompletionItemKind.EnumMember) for v in analysis.literal_values(annotation)]
        kind = analysis.reference_kind(place)
        if kind is not None:
            table = state.names.defined if kind in state.names.defined and kind != "secret" else state.names.used
            items += [_name(name, kind) for name in sorted(table.get(kind, {}))]
    return lsp.CompletionList(is_incomplete=False, items=[i for i in items if i.label.startswith(place.prefix)])


def _name(name: str, kind: str) -> lsp.CompletionItem:
    return lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Reference, detail=kind)


def _doc(info: Any) -> lsp.MarkupContent:
    parts = [info.description or ""]
    if not info.is_required():
        default = info.get_default(call_default_factory=True)
        if hasattr(default, "model_dump"):
            default = default.model_dump(mode="json")
        parts.append(f"Default: `{json.dumps(default)}`")
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(p for p in parts if p))


# -- hover ----------------------------------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: ManifestServer, params: lsp.HoverParams) -> lsp.Hover | None:
    place, _, state = _place(ls, params.text_document.uri, params.position)
    if place.key is None:
        return None
    model = analysis.model_at(place.loc)
    info = analysis.fields_of(model).get(place.key) if model else None
    lines = [f"**{place.key}**" + (f" — `{analysis.type_name(info.annotation)}`" if info else "")]
    if info is not None:
        lines.append(_doc(info).value)
    loc = (*place.loc, place.key)
    if len(loc) >= 3 and loc[0] == "environments":
        environment, rest = loc[1], loc[2:]
        # an overlay's section reads as the base's; the environment's own settings (target, kubernetes, …) stay there
        lines.append(_effective(ls, state, environment, rest if rest[0] in SECTIONS else loc))
    elif loc and loc[0] in SECTIONS and "[]" not in loc:
        for environment in list(state.names.defined.get("environment", {}))[:6]:
            lines.append(_effective(ls, state, environment, loc))
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(x for x in lines if x)))


def _effective(ls: ManifestServer, state: Open, environment: str, loc: tuple[str, ...]) -> str:
    """`In <environment>: <value> (from file:line:col | default)`: what `koyalite config --show-origin` says."""
    checked = ls.effective(state, environment)
    if checked is None or "[]" in loc:
        return ""
    value: Any = checked.manifest.model_dump(mode="json", by_alias=True)
    for key in loc:
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    node = checked.source.find(loc)
    origin = f"{Path(node.pos.file).name}:{node.pos.line}:{node.pos.column}" if node is not None else "default"
    return f"In `{environment}`: `{json.dumps(value)}` ({origin})"


# -- definitions and references ------------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: ManifestServer, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
    uri = params.text_document.uri
    place, lines, state = _place(ls, uri, params.position)
    if place.key == "entrypoint" and not place.on_key and state.doc and state.doc.base_dir:
        target = state.doc.base_dir / place.word
        if target.is_file():
            return [lsp.Location(uri=from_fs_path(str(target)) or "", range=_range(analysis.Span(0, 0, 0)))]
    kind = analysis.reference_kind(place)
    if kind is None or not place.word:
        return None
    if kind == "function" and place.key == "name" and place.loc[-2:] == ("items", "[]"):  # on the function's own name
        entry = state.names.entrypoints.get(place.word)
        if entry and state.doc and state.doc.base_dir and (state.doc.base_dir / entry).is_file():
            return [lsp.Location(uri=from_fs_path(str(state.doc.base_dir / entry)) or "", range=_range(analysis.Span(0, 0, 0)))]
    where = state.names.defined.get(kind, {}).get(place.word) or state.names.used.get(kind, {}).get(place.word, [])[:1]
    return [_location(uri, lines, p) for p in where] or None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def references(ls: ManifestServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    uri = params.text_document.uri
    place, lines, state = _place(ls, uri, params.position)
    kind = analysis.reference_kind(place)
    if kind is None or not place.word:
        return None
    found: Iterable[Any] = state.names.used.get(kind, {}).get(place.word, [])
    if params.context.include_declaration:
        found = [*state.names.defined.get(kind, {}).get(place.word, []), *found]
    return [_location(uri, lines, p) for p in found] or None


# -- code actions ---------------------------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
def code_action(ls: ManifestServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    actions = []
    for d in params.context.diagnostics:
        fix = d.data.get("fix") if isinstance(d.data, dict) and d.source == SOURCE else None
        if not fix:
            continue
        edit = lsp.WorkspaceEdit(changes={params.text_document.uri: [lsp.TextEdit(range=d.range, new_text=fix)]})
        actions.append(
            lsp.CodeAction(title=f"Replace with {fix}", kind=lsp.CodeActionKind.QuickFix, diagnostics=[d], edit=edit, is_preferred=True)
        )
    return actions


def serve() -> None:
    """Serve on stdin/stdout until the client exits."""
    server.start_io()
