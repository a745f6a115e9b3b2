"""What the language server knows about a manifest's text: diagnostics, the place under the cursor, completions,
hover, definitions, references and fixes. Pure (no protocol types): positions are 0-based (line, character) as LSP
counts them, the manifest's own are 1-based.

A manifest being edited is often invalid YAML; the cursor's place (`Place`) is read from the text's indentation
and flow brackets, not from a parse, so completion works mid-edit. Names to complete and definitions come from the
last text that parsed (`Snapshot`).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from provisioner import manifest
from provisioner.errors import Diagnostic, KoyaliteError, ManifestError, Position
from provisioner.manifest.models import SECTIONS, Environment, Manifest
from provisioner.manifest.source import Node

Loc = tuple[str, ...]
"""A path of keys; `[]` stands for any item of a list, `*` for any key of a mapping."""

TOKEN_END = re.compile(r"""[^\s,{}\[\]#]*""")


@dataclass(frozen=True, slots=True)
class Span:
    """A range in the text, 0-based, end exclusive."""

    line: int
    start: int
    end: int


def span_of(lines: list[str], position: Position | None) -> Span:
    """The token a manifest position (1-based) points at: a key up to its colon, a scalar up to its end."""
    if position is None:
        return Span(0, 0, 0)
    line, start = position.line - 1, position.column - 1
    text = lines[line] if 0 <= line < len(lines) else ""
    start = min(max(start, 0), len(text))
    if start < len(text) and text[start] in "\"'":
        close = text.find(text[start], start + 1)
        return Span(line, start, close + 1 if close > 0 else len(text))
    match = TOKEN_END.match(text, start)
    end = match.end() if match else start
    while end > start and text[end - 1] == ":":  # a key: the colon is not part of it
        end -= 1
    return Span(line, start, max(end, start + 1) if start < len(text) else start)


# -- diagnostics ---------------------------------------------------------------------------------------------------


def diagnose(text: str, file: str, base_dir: Path | None) -> tuple[list[Diagnostic], manifest.Document | None]:
    """Every problem `koyalite validate` reports for every environment (once each), and the parsed document when
    the text parses. A text the loader refuses gives its diagnostic; nothing raises."""
    try:
        doc = manifest.parse(text, file, base_dir)
    except ManifestError as exc:
        return list(exc.diagnostics), None
    try:
        _, found = manifest.check_all(doc)
    except ManifestError as exc:
        return list(exc.diagnostics), doc
    except KoyaliteError as exc:  # a usage problem the checker raises (not expected for a whole-file check)
        return [Diagnostic(exc.message, "", Position(file, 1, 1))], doc
    return found, doc


# -- the models: what a path may hold -------------------------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _step(annotation: Any, key: str) -> Any:
    """The annotation one key (or `[]`) below `annotation`, or None."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = fields_of(annotation)
        return fields[key].annotation if key in fields else None
    if origin is list and key == "[]":
        return get_args(annotation)[0]
    if origin is dict and key != "[]":
        return get_args(annotation)[1]
    return None


def fields_of(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the name the manifest uses (its alias when it has one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def annotation_at(loc: Loc) -> Any:
    """The annotation of what `loc` holds; environments' sections read as the base's. None when nothing can be there."""
    annotation: Any = Manifest
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "environments":
        annotation, rest = Environment, rest[2:]
        if rest and rest[0] in SECTIONS:
            annotation = fields_of(Manifest)[rest[0]].annotation
            rest = rest[1:]
        elif not rest:
            return Environment
    for key in rest:
        annotation = _step(annotation, key)
        if annotation is None:
            return None
    return annotation


def model_at(loc: Loc) -> type[BaseModel] | None:
    found = _unwrap(annotation_at(loc))
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def literal_values(annotation: Any) -> list[str]:
    """The values an annotation allows when it is an enumeration (Literal, bool)."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    if annotation is bool:
        return ["true", "false"]
    return []


def type_name(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(typing|pydantic\S*|provisioner\.\S+)\.", "", str(annotation))


# -- the place under the cursor -------------------------------------------------------------------------------------

_KEY = re.compile(r"""^(?P<dash>-\s+)?(?P<key>[A-Za-z0-9_.$-]+|"[^"]*"|'[^']*')\s*:(?:\s|$)""")


@dataclass(frozen=True, slots=True)
class Place:
    """Where the cursor is: the mapping it is in (`loc`), and the key whose value it is on, if any."""

    loc: Loc
    key: str | None
    """The key the cursor is after (`key: |`), or on (hover); None when it is where a key goes."""
    prefix: str
    """What is typed of the word under the cursor, up to it."""
    on_key: bool = False
    """The cursor is on the key itself (hover, definition)."""
    word: str = ""
    """The whole word under the cursor."""


def _content(line: str) -> tuple[int, bool, str | None, str]:
    """(indent of the content, whether it starts a list item, its key if it is `key:`, the rest after the key)."""
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    dash = stripped.startswith("- ") or stripped == "-"
    if dash:
        body = stripped[1:].lstrip(" ")
        indent += len(stripped) - len(body)
        stripped = body
    match = _KEY.match(stripped)
    if not match:
        return indent, dash, None, stripped
    return indent, dash, match.group("key").strip("\"'"), stripped[match.end() :]


def _parents(lines: list[str], line_no: int, indent: int) -> list[str]:
    """The keys (and `[]` for list items) above a line's content at `indent`."""
    path: list[str] = []
    target = indent
    for i in range(line_no - 1, -1, -1):
        raw = lines[i]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        content, dash, key, rest = _content(raw)
        dash_at = len(raw) - len(raw.lstrip(" "))
        if dash and dash_at < target and content <= target:  # the cursor's line is inside this item (or its sibling)
            path.insert(0, "[]")
            target = dash_at + 1  # the list's key may sit at the dash's own indent
            continue
        if key is not None and content < target and not rest.strip():
            path.insert(0, key)
            target = content
            if target == 0:
                break
    return path


def _flow_place(loc: list[str], owner: str | None, text: str, start: int, prefix: str, word: str) -> Place | None:
    """The place inside `{...}` / `[...]` on one line (`text` is the line up to the cursor, flow starting at `start`;
    `owner` is the key or `[]` the first bracket belongs to), or None when the cursor is not inside brackets."""
    frames: list[dict[str, Any]] = []
    token = start
    for i in range(start, len(text)):
        ch = text[i]
        if ch in "{[":
            parent = frames[-1] if frames else None
            seg = owner if parent is None else (parent["key"] if parent["kind"] == "{" and parent["value"] else "[]")
            frames.append({"kind": ch, "seg": seg, "key": None, "value": False})
            token = i + 1
        elif ch in "}]" and frames:
            frames.pop()
        elif ch == "," and frames:
            frames[-1]["key"], frames[-1]["value"] = None, False
            token = i + 1
        elif ch == ":" and frames and frames[-1]["kind"] == "{" and (i + 1 == len(text) or text[i + 1] == " "):
            frames[-1]["key"], frames[-1]["value"] = text[token:i].strip().strip("\"'"), True
    if not frames:
        return None
    path = [*loc, *(f["seg"] for f in frames if f["seg"])]
    top = frames[-1]
    if top["kind"] == "[":
        return Place(tuple(path[:-1]), path[-1] if path else None, prefix, False, word)
    if top["value"]:
        return Place(tuple(path), top["key"], prefix, False, word)
    return Place(tuple(path), word or None, prefix, True, word)


def place_at(text: str, line: int, character: int) -> Place:
    """The place of a cursor (0-based line and character) in the text, read from indentation and brackets."""
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    before = current[:character]
    word_start = len(before) - len(re.search(r"[A-Za-z0-9_.$/-]*$", before).group())  # type: ignore[union-attr]
    word_end = character + len(re.match(r"[A-Za-z0-9_.$/-]*", current[character:]).group())  # type: ignore[union-attr]
    word = current[word_start:word_end]
    prefix = before[word_start:]
    content, dash, key, rest = _content(current)
    path = _parents(lines, line, content)
    if dash:
        path.append("[]")
    after_key = len(current) - len(rest) if key is not None else content
    if character >= after_key:
        flow = _flow_place(path, key, current[:character], after_key, prefix, word)
        if flow is not None:
            return flow
    if key is not None:
        key_end = current.index(":", content)
        if character > key_end:
            return Place(tuple(path), key, prefix, False, word)
        return Place(tuple(path), key, prefix, True, word)
    return Place(tuple(path), None, prefix, False, word)


# -- names the manifest defines, and where ------------------------------------------------------------------------


@dataclass
class Names:
    """Every name the last parsed text defines or uses, with where (1-based positions)."""

    defined: dict[str, dict[str, list[Position]]] = field(default_factory=dict)
    """kind (function, stream, webhook, queue, environment, region) -> name -> where it is defined."""
    used: dict[str, dict[str, list[Position]]] = field(default_factory=dict)
    """kind (function, stream, webhook, secret, region) -> name -> where it is used."""
    entrypoints: dict[str, str] = field(default_factory=dict)
    """function name -> its entrypoint."""


REFERENCES: dict[tuple[str, ...], str] = {
    ("cron", "[]", "function"): "function",
    ("events", "queues", "[]", "function"): "function",
    ("events", "queues", "[]", "stream"): "stream",
    ("events", "queues", "[]", "webhook"): "webhook",
    ("webhooks", "[]", "secret"): "secret",
    ("project", "regions", "[]"): "region",
    ("project", "primary_region"): "region",
}
"""Paths (with `[]` for list items, relative to the base or an environment's section) that name something."""
DEFINITIONS: dict[tuple[str, ...], str] = {
    ("functions", "items", "[]", "name"): "function",
    ("events", "streams", "[]", "name"): "stream",
    ("events", "queues", "[]", "name"): "queue",
    ("webhooks", "[]", "name"): "webhook",
}


def _generic(loc: tuple[str | int, ...]) -> tuple[str, ...]:
    """A node's path with list indexes as `[]`, and an environment's sections as the base's."""
    out = tuple("[]" if isinstance(step, int) else step for step in loc)
    if len(out) >= 3 and out[0] == "environments" and out[2] in SECTIONS:
        return out[2:]
    return out


def _walk(node: Node, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Node]]:
    yield loc, node
    if isinstance(node.value, dict):
        for key, child in node.value.items():
            yield from _walk(child, (*loc, key))
    elif isinstance(node.value, list):
        for i, child in enumerate(node.value):
            yield from _walk(child, (*loc, i))


def names(doc: manifest.Document) -> Names:
    found = Names()

    def add(table: dict[str, dict[str, list[Position]]], kind: str, name: object, pos: Position) -> None:
        if isinstance(name, str) and name:
            table.setdefault(kind, {}).setdefault(name, []).append(pos)

    for loc, node in _walk(doc.root):
        generic = _generic(loc)
        if generic in DEFINITIONS:
            add(found.defined, DEFINITIONS[generic], node.value, node.pos)
        if generic in REFERENCES:
            add(found.used, REFERENCES[generic], node.value, node.pos)
        # a `secrets:` mapping (services, functions) names secrets in its values
        if len(generic) >= 2 and generic[-2] == "secrets" and isinstance(node.value, str) and generic[0] != "environments":
            add(found.used, "secret", node.value, node.pos)
        if len(generic) >= 4 and generic[-2] == "secrets" and isinstance(node.value, str) and generic[0] == "environments":
            add(found.used, "secret", node.value, node.pos)
        if len(loc) == 2 and loc[0] == "environments":
            add(found.defined, "environment", loc[1], node.key_pos or node.pos)
        if generic == ("functions", "items", "[]") and isinstance(node.value, dict):
            name, entry = node.value.get("name"), node.value.get("entrypoint")
            if name is not None and entry is not None and isinstance(name.value, str) and isinstance(entry.value, str):
                found.entrypoints[name.value] = entry.value
    for region, where in found.used.get("region", {}).items():
        found.defined.setdefault("region", {}).setdefault(region, where[:1])
    return found


def reference_kind(place: Place) -> str | None:
    """What kind of name the value at a place is (function, secret, …), if it names one."""
    if place.key is None:
        return None
    full = (*place.loc, place.key)
    generic = _generic(full)
    if generic in REFERENCES:
        return REFERENCES[generic]
    if generic in DEFINITIONS:
        return DEFINITIONS[generic]
    if len(place.loc) >= 1 and place.loc[-1] == "secrets":
        return "secret"
    if (place.loc and place.loc[-1] == "regions") or place.key == "regions":
        return "region"
    return None


# -- code actions ---------------------------------------------------------------------------------------------------

FIXES = (
    re.compile(r"did you mean `(?P<fix>[^`]+)`\?$"),
    re.compile(r"^quote it: (?P<fix>'.*')$"),
    re.compile(r"^write (?P<fix>[0-9]+(?:\.[0-9]+)?[A-Za-z]+)$"),
)


def fix_of(diagnostic: Diagnostic) -> str | None:
    """The replacement text when the hint names exactly one fix for the token the diagnostic points at."""
    for pattern in FIXES:
        match = pattern.search(diagnostic.hint)
        if match:
            return match.group("fix")
    return None
