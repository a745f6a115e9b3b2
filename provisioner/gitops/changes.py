"""Structural differences between two plain values (mappings, lists, scalars), as paths with old and new values."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class Op(enum.StrEnum):
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Named:
    """A step into a list of named items, by the item's `name` (stable when items are added or reordered)."""

    name: str


Step = str | int | Named
Loc = tuple[Step, ...]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: `old` is None for an added value, `new` is None for a removed one."""

    loc: Loc
    op: Op
    old: Any = None
    new: Any = None


def _name(item: Any) -> str | None:
    """An item's `name`, or its `metadata.name` (a StatefulSet's claim templates)."""
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    if name is None and isinstance(item.get("metadata"), dict):
        name = item["metadata"].get("name")
    return name if isinstance(name, str) else None


def _named(items: list[Any]) -> dict[str, Any] | None:
    """The items by name when every item has a distinct name; None otherwise."""
    found: dict[str, Any] = {}
    for item in items:
        name = _name(item)
        if name is None or name in found:
            return None
        found[name] = item
    return found


def _keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The old keys in their order, then the keys only the new value has, in its order."""
    return [*old, *(k for k in new if k not in old)]


def compare(old: Any, new: Any, *, whole_lists: bool = False, loc: Loc = ()) -> Iterator[Change]:
    """Every difference from `old` to `new`, in document order.

    Mappings recurse key by key; lists of named items recurse by name; other lists recurse item by item when
    both have the same length, and otherwise (or always, with `whole_lists`) change as one value.
    """
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in _keys(old, new):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a is _MISSING:
                yield Change((*loc, key), Op.ADDED, new=b)
            elif b is _MISSING:
                yield Change((*loc, key), Op.REMOVED, old=a)
            else:
                yield from compare(a, b, whole_lists=whole_lists, loc=(*loc, key))
        return
    if isinstance(old, list) and isinstance(new, list):
        a_named, b_named = _named(old), _named(new)
        if a_named is not None and b_named is not None and (a_named or b_named):
            yield from _by_name(a_named, b_named, whole_lists, loc)
            return
        if not whole_lists and len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from compare(a, b, whole_lists=whole_lists, loc=(*loc, i))
            return
    yield Change(loc, Op.CHANGED, old, new)


def _by_name(old: dict[str, Any], new: dict[str, Any], whole_lists: bool, loc: Loc) -> Iterator[Change]:
    for name in _keys(old, new):
        a, b = old.get(name, _MISSING), new.get(name, _MISSING)
        step = (*loc, Named(name))
        if a is _MISSING:
            yield Change(step, Op.ADDED, new=b)
        elif b is _MISSING:
            yield Change(step, Op.REMOVED, old=a)
        else:
            yield from compare(a, b, whole_lists=whole_lists, loc=step)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def dotted(loc: Loc) -> str:
    """A manifest path as diagnostics write it: `functions.items.hello.memory` (list items by name)."""
    return ".".join(s.name if isinstance(s, Named) else str(s) for s in loc)


def json_path(loc: Loc) -> str:
    """A JSON path for an object field: `spec.template.spec.containers[name=api].image`, `metadata.labels['a.b/c']`."""
    out = ""
    for step in loc:
        if isinstance(step, Named):
            out += f"[name={step.name}]"
        elif isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += "['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out
