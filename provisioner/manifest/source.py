"""Load koyalite.yaml into a tree of positioned nodes, refusing YAML's traps with a position each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Union

import yaml

from provisioner.errors import Diagnostic, ManifestError, Position

MAX_BYTES = 4 * 1024 * 1024
"""Manifests larger than this are refused before parsing (a 1,000-function manifest is ~300 KiB)."""

MAX_NODES = 500_000
"""Upper bound on nodes after alias expansion: stops 'billion laughs' documents early."""

Scalar = Union[str, int, float, bool, None]  # noqa: UP007 - used at runtime in isinstance checks

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Plain scalars that YAML 1.1 readers (PyYAML, kubectl's older parsers, many CI tools) read
# differently from YAML 1.2: we refuse them rather than guess which one the author meant.
_YAML11_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_YAML11_OCTAL = re.compile(r"^[-+]?0[0-9_]+$")
_YAML11_UNDERSCORE = re.compile(r"^[-+]?(?:[0-9][0-9_]*_[0-9_]*)(?:\.[0-9_]*)?$")
_YAML11_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_SPECIAL_FIRST = frozenset("~nNtTfFyYoO-+.0123456789\n")
"""Every first character any pattern above can match (`\n`: `$` matches before a final newline): a plain scalar
starting otherwise is a string."""


class Mark(Protocol):
    """A libyaml position (0-based); both PyYAML's pure and C marks fit."""

    line: int
    column: int
    index: int


@dataclass(slots=True, eq=False)
class Node:
    """A value from the manifest and where it was written.

    `value` is a dict of str -> Node, a list of Node, or a scalar. `key_pos` is the position of the
    mapping key that names this node, when there is one. `text` keeps a plain scalar's source text so
    that errors can show what the author typed (`1.10`, not `1.1`).
    """

    value: dict[str, Node] | list[Node] | Scalar
    pos: Position
    key_pos: Position | None = None
    text: str | None = None

    def to_plain(self) -> object:
        """The value as plain Python data (dicts, lists, scalars), for model validation."""
        value = self.value
        if isinstance(value, dict):
            return {k: v.to_plain() for k, v in value.items()}
        if isinstance(value, list):
            return [v.to_plain() for v in value]
        return value

    def find(self, loc: tuple[str | int, ...]) -> Node | None:
        """The node at `loc` (keys and list indexes), or None when the document does not spell it out."""
        node = self
        for step in loc:
            value = node.value
            if isinstance(value, dict) and isinstance(step, str) and step in value:
                node = value[step]
            elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
                node = value[step]
            else:
                return None
        return node


def _position(file: str, mark: Mark | None) -> Position:
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


def _problem(file: str, mark: Mark | None, message: str, hint: str = "", path: str = "") -> ManifestError:
    return ManifestError([Diagnostic(message, path, _position(file, mark), hint, code="yaml")])


def _resolve_plain(text: str) -> Scalar:
    """Resolve an unquoted scalar by the YAML 1.2 core schema; a YAML 1.1 look-alike raises ValueError."""
    if text and text[0] not in _SPECIAL_FIRST:  # most names, paths and URLs: no pattern below can match them
        return text
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    if _YAML11_BOOL.match(text):
        raise ValueError(
            f"`{text}` is a boolean in YAML 1.1 but a string in YAML 1.2",
            f"write '{text}' (quoted) for a string, or true/false for a boolean",
        )
    if _INT.match(text):
        return int(text)
    if _YAML11_OCTAL.match(text) or _YAML11_UNDERSCORE.match(text):
        raise ValueError(
            f"`{text}` is a number in YAML 1.1 (octal or with digit separators) but a string in YAML 1.2",
            f"write '{text}' (quoted) for a string, or the number without leading zeros or underscores",
        )
    if _YAML11_SEXAGESIMAL.match(text):
        raise ValueError(
            f"`{text}` is a base-60 number in YAML 1.1 but a string in YAML 1.2",
            f"write '{text}' (quoted)",
        )
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text) or _INF.match(text) or _NAN.match(text):
        return float(text.lower().replace(".", "", 1) if _INF.match(text) or _NAN.match(text) else text)
    return text


class _Composer:
    """Builds Nodes from libyaml's event stream, checking what PyYAML's own composer lets through."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.expanded = 0

    def pos(self, mark: Mark | None) -> Position:
        return _position(self.file, mark)

    def compose(self, events: list[yaml.Event], start: int) -> tuple[Node, int, int]:
        """Compose the node starting at events[start]; returns (node, next index, expanded size)."""
        event = events[start]
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            if anchor not in self.anchors:
                raise _problem(
                    self.file,
                    event.start_mark,
                    f"alias *{anchor} refers to no finished anchor",
                    "define `&" + anchor + "` before using it, and not inside itself",
                )
            node, size = self.anchors[anchor]
            self.expanded += size
            if self.expanded > MAX_NODES:
                raise _problem(
                    self.file,
                    event.start_mark,
                    f"aliases expand the document past {MAX_NODES:,} nodes",
                    "anchors and aliases may repeat a value, not multiply the document; write it out",
                )
            return node, start + 1, size
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.ScalarEvent):
            node = self.scalar(event)
            nxt, size = start + 1, 1
        elif isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(tag, _SEQ, event.start_mark)
            items: list[Node] = []
            node = Node(items, self.pos(event.start_mark))
            i, size = start + 1, 1
            while not isinstance(events[i], yaml.SequenceEndEvent):
                child, i, child_size = self.compose(events, i)
                items.append(child)
                size += child_size
            nxt = i + 1
        elif isinstance(event, yaml.MappingStartEvent):
            self.check_tag(tag, _MAP, event.start_mark)
            node, nxt, size = self.mapping(events, start)
        else:  # pragma: no cover - libyaml guarantees well-formed event streams
            raise _problem(self.file, event.start_mark, f"unexpected YAML event {type(event).__name__}")
        self.expanded += 1
        defined = getattr(event, "anchor", None)
        if defined is not None:
            self.anchors[str(defined)] = (node, size)
        return node, nxt, size

    def check_tag(self, tag: str | None, default: str, mark: Mark | None) -> None:
        if tag not in (None, "!", default):
            raise _problem(self.file, mark, f"YAML tag {tag} is not supported", "remove the tag; koyalite.yaml is plain data")

    def scalar(self, event: yaml.ScalarEvent) -> Node:
        tag, text = event.tag, str(event.value)
        if tag not in (None, "!", _STR):
            raise _problem(
                self.file, event.start_mark, f"YAML tag {tag} is not supported", "remove the tag; quote the value if you mean a string"
            )
        pos = self.pos(event.start_mark)
        if tag is not None or event.style not in (None, ""):
            return Node(text, pos)
        try:
            return Node(_resolve_plain(text), pos, text=text)
        except ValueError as exc:
            message, hint = exc.args
            raise _problem(self.file, event.start_mark, message, hint) from None

    def mapping(self, events: list[yaml.Event], start: int) -> tuple[Node, int, int]:
        mark = events[start].start_mark
        values: dict[str, Node] = {}
        node = Node(values, self.pos(mark))
        i, size = start + 1, 1
        while not isinstance(events[i], yaml.MappingEndEvent):
            key_event = events[i]
            if not isinstance(key_event, yaml.ScalarEvent):
                raise _problem(
                    self.file,
                    key_event.start_mark,
                    "mapping keys must be plain strings",
                    "use a string key; lists and mappings cannot be keys",
                )
            key_node = self.scalar(key_event)
            key = key_node.value
            if key_event.value == "<<" and key_event.style in (None, ""):
                raise _problem(
                    self.file,
                    key_event.start_mark,
                    "YAML merge keys (`<<`) are not supported",
                    "write the values out, or put differences in an environment overlay",
                )
            if not isinstance(key, str):
                raise _problem(
                    self.file, key_event.start_mark, f"mapping key `{key_event.value}` is not a string", f"quote it: '{key_event.value}'"
                )
            if key in values:
                first = values[key].key_pos
                raise _problem(
                    self.file,
                    key_event.start_mark,
                    f"duplicate key `{key}` (first defined at {first})",
                    "remove one of them; YAML keeps only the last and hides the first",
                )
            shared = isinstance(events[i + 1], yaml.AliasEvent)
            child, i, child_size = self.compose(events, i + 1)
            if shared:  # an alias shares its anchor's node: this occurrence gets its own key position
                child = Node(child.value, child.pos, key_node.pos, child.text)
            else:
                child.key_pos = key_node.pos
            values[key] = child
            size += child_size
        return node, i + 1, size


def _decode(data: bytes, file: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _problem(file, None, "the file is UTF-16", "save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise ManifestError(
            [
                Diagnostic(
                    f"byte 0x{data[exc.start]:02x} is not valid UTF-8",
                    "",
                    Position(file, line, column),
                    "save the file as UTF-8",
                    code="yaml",
                )
            ]
        ) from None


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> ManifestError:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or str(exc)).strip()
    hint = ""
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        problem = "tab character in indentation"
        hint = "indent with spaces; YAML does not allow tabs there"
    elif exc.context:
        hint = f"{exc.context.strip()} started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
    return _problem(file, mark, problem, hint)


def _character_problem(text: str, index: int, file: str, message: str, hint: str) -> ManifestError:
    before = text[:index]
    position = Position(file, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)
    return ManifestError([Diagnostic(message, "", position, hint, code="yaml")])


def parse(text: str, file: str) -> Node:
    """Parse manifest text into a Node tree (a mapping at the top), or raise ManifestError."""
    surrogate = _SURROGATE.search(text)  # text from stdin or an API caller; libyaml cannot encode it
    if surrogate:
        raise _character_problem(text, surrogate.start(), file, "the text is not valid Unicode", "save the file as UTF-8")
    try:
        events = list(yaml.parse(text, Loader=yaml.CBaseLoader))
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, file) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids; libyaml gives its byte offset
        index = len(text.encode("utf-8")[: exc.position].decode("utf-8", errors="ignore"))
        character = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise _character_problem(
            text,
            index,
            file,
            f"character {character} is not allowed in YAML",
            "remove it, or write it as an escape in a double-quoted string",
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml reports marks for all it finds
        raise _problem(file, None, str(exc)) from None
    starts = [i for i, e in enumerate(events) if isinstance(e, yaml.DocumentStartEvent)]
    if not starts:
        raise _problem(file, None, "the manifest is empty", "start from `koyalite init`, or see the README")
    if len(starts) > 1:
        raise _problem(
            file,
            events[starts[1]].start_mark,
            "the file holds more than one YAML document",
            "keep one document; put per-environment differences under `environments`",
        )
    first = events[starts[0] + 1]
    # An explicit document with nothing in it (`---` alone) comes as one empty plain scalar.
    if isinstance(first, yaml.DocumentEndEvent) or (
        isinstance(first, yaml.ScalarEvent) and first.value == "" and first.style in (None, "") and first.tag is None
    ):
        raise _problem(file, None, "the manifest is empty", "start from `koyalite init`, or see the README")
    root, _, _ = _Composer(file).compose(events, starts[0] + 1)
    if not isinstance(root.value, dict):
        kind = "a list" if isinstance(root.value, list) else "a single value"
        raise ManifestError(
            [
                Diagnostic(
                    f"the manifest must be a mapping, not {kind}",
                    "",
                    root.pos,
                    "start with `apiVersion: koyalite.dev/v1` and the project's sections",
                    code="yaml",
                )
            ]
        )
    return root


def load(path: Path, display: str | None = None) -> Node:
    """Read and parse a manifest file, refusing files over MAX_BYTES and files that are not UTF-8."""
    file = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _problem(
                file, None, f"the file is {size:,} bytes; the limit is {MAX_BYTES:,}", "split generated content out of the manifest"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(
            [
                Diagnostic(
                    f"cannot read the manifest: {exc.strerror}",
                    "",
                    Position(file, 1, 1),
                    "check the path, or run `koyalite init`",
                    code="io",
                )
            ]
        ) from None
    return parse(_decode(data, file), file)
