"""Turn pydantic's validation errors into positioned diagnostics with a message and a hint."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from provisioner.errors import Diagnostic, Position
from provisioner.manifest.source import Node

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "float_type": "a number",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def describe(value: object, text: str | None = None) -> str:
    """How a loaded value reads in a message: `the number 1.1 (written 1.10)`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        written = f" (written {text})" if text is not None and text != str(value) else ""
        return f"the number {value}{written}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def path_of(root: Node, loc: tuple[str | int, ...], keep_missing: bool = False) -> tuple[str, Node]:
    """The dotted manifest path of `loc` (list items named by their `name`) and its deepest written node.

    Steps not in the document are skipped (pydantic's union tags), or kept in the path with
    `keep_missing` (a rule about a default value still names the field it is about).
    """
    node, parts, found = root, [], True
    for step in loc:
        value = node.value
        if found and isinstance(value, dict) and isinstance(step, str) and step in value:
            node = value[step]
            parts.append(step)
        elif found and isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            node = value[step]
            name = node.value.get("name") if isinstance(node.value, dict) else None
            parts.append(name.value if isinstance(name, Node) and isinstance(name.value, str) else str(step))
        elif keep_missing:
            found = False
            parts.append(str(step))
    return ".".join(str(p) for p in parts), node


def locate(root: Node, path: str) -> Position | None:
    """The position of a dotted manifest path (`functions.items.hello.memory`), or of its deepest written part.

    List items are found by `name`; keys containing dots (`experimental.graphql`) match whole.
    """
    node, rest = root, path.split(".") if path else []
    while rest:
        value = node.value
        if isinstance(value, dict):
            for size in range(len(rest), 0, -1):
                key = ".".join(rest[:size])
                if key in value:
                    node, rest = value[key], rest[size:]
                    break
            else:
                break
        elif isinstance(value, list):
            named = [item for item in value if isinstance(item.value, dict) and getattr(item.value.get("name"), "value", None) == rest[0]]
            if not named:
                break
            node, rest = named[0], rest[1:]
        else:
            break
    return None if node is root else position_of(node)


def position_of(node: Node) -> Position:
    """Where to point for a node: a scalar's value, a mapping's or list's key (its first line otherwise)."""
    if isinstance(node.value, dict | list) and node.key_pos is not None:
        return node.key_pos
    return node.pos


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys a mapping at `loc` accepts, following fields, dict values and list items."""
    candidates: list[Any] = [model]
    for step in loc:
        following: list[Any] = []
        for candidate in candidates:
            origin = typing.get_origin(candidate)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(step, str):
                for name, field in candidate.model_fields.items():
                    if step in (name, field.alias):
                        following.extend(_unwrap(field.annotation))
            elif origin is dict:
                following.extend(_unwrap(typing.get_args(candidate)[1]))
            elif origin is list and isinstance(step, int):
                following.extend(_unwrap(typing.get_args(candidate)[0]))
        candidates = following
    keys: list[str] = []
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            keys.extend(field.alias or name for name, field in candidate.model_fields.items())
    return keys


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"allowed keys: {', '.join(sorted(options))}" if options else "remove it"


def from_validation_error(exc: ValidationError, root: Node, model: type[BaseModel], prefix: str = "") -> list[Diagnostic]:
    """One diagnostic per pydantic error, positioned on the node that caused it."""
    found: list[Diagnostic] = []
    unions: dict[tuple[str, Position | None], tuple[int, list[str]]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        ctx = error.get("ctx") or {}
        path, node = path_of(root, loc)
        pos: Position | None = position_of(node)
        if loc and loc[-1] == "[key]" and node.key_pos is not None:
            pos = node.key_pos  # a bad mapping key (an env var or region name): point at the key, not its value
        message, hint = error["msg"], str(ctx.get("hint", ""))
        if kind == "extra_forbidden":
            key = str(ctx.get("key", loc[-1]))
            parent_loc = loc if "key" in ctx else loc[:-1]
            parent_path, parent = path_of(root, parent_loc)
            child = parent.value.get(key) if isinstance(parent.value, dict) else None
            pos = (child.key_pos if child else None) or parent.pos
            path = f"{parent_path}.{key}" if parent_path else key
            message, hint = f"unknown key `{key}`", _did_you_mean(key, keys_at(model, parent_loc))
        elif kind == "missing":
            field = str(loc[-1])
            parent_path, parent = path_of(root, loc[:-1])
            path, pos = (f"{parent_path}.{field}" if parent_path else field), parent.pos
            message, hint = f"`{field}` is required", f"add `{field}:` here"
        elif kind in _TYPE_NAMES:
            message = f"expected {_TYPE_NAMES[kind]}, got {describe(node.value, node.text)}"
            if kind == "string_type" and node.text is not None:
                hint = f"quote it: '{node.text}'"
            elif kind == "bool_type" and isinstance(node.value, str):
                hint = "write true or false without quotes"
            elif kind in ("int_type", "float_type") and isinstance(node.value, str):
                hint = "write the number without quotes"
        elif kind == "literal_error":
            expected = str(ctx.get("expected", ""))
            options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
            message = f"{describe(node.value, node.text)} is not one of {', '.join(options)}"
            close = difflib.get_close_matches(str(node.value), options, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"write one of {', '.join(options)}"
        elif kind == "string_pattern_mismatch":
            message = f"{describe(node.value)} does not have the expected form"
            hint = f"match the pattern {ctx.get('pattern')}"
        elif kind == "too_short" and isinstance(node.value, list):
            message = f"needs at least {ctx.get('min_length')} item(s)"
            hint = "add an item"
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        if kind in _TYPE_NAMES:
            # The members of a union (`str | int | bool`) each reject the value: one value, one diagnostic.
            if (path, pos) in unions:
                index, names = unions[(path, pos)]
                if _TYPE_NAMES[kind] not in names:
                    names.append(_TYPE_NAMES[kind])
                expected = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
                first = found[index]
                found[index] = replace(
                    first, message=f"expected {expected}, got {describe(node.value, node.text)}", hint=first.hint or hint
                )
                continue
            unions[(path, pos)] = (len(found), [_TYPE_NAMES[kind]])
        found.append(Diagnostic(message, path, pos, hint, code=kind))
    return found
