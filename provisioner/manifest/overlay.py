"""Environment overlays: merge an environment's overrides over the base sections, keeping positions.

The rules, each tested pair by pair in tests/test_overlay.py:
- mappings merge recursively;
- scalars and lists replace;
- lists of named items (`functions.items`, `cron`, `webhooks`, `events.streams`, `events.queues`) merge by `name`; an item with
  `$patch: delete` removes the base item of that name;
- an explicit `null` deletes the key;
- changing a value's kind (mapping, list, scalar) is an error naming both positions.
Every node of the result keeps the position it was written at, so an error caused by an overlay
value points at the overlay's line.
"""

from __future__ import annotations

from provisioner.errors import Diagnostic, ManifestError
from provisioner.manifest.source import Node

NAMED_LISTS = frozenset({("functions", "items"), ("cron",), ("webhooks",), ("events", "streams"), ("events", "queues")})
"""Paths of lists whose items merge by `name`."""

PATCH_KEY = "$patch"


def _kind(node: Node) -> str:
    if isinstance(node.value, dict):
        return "mapping"
    if isinstance(node.value, list):
        return "list"
    return "value"


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _strip_directives(node: Node) -> Node | None:
    """An overlay value with nothing under it to merge into: nulls and `$patch` markers drop out."""
    if node.value is None:
        return None
    if isinstance(node.value, dict):
        if node.value.get(PATCH_KEY) is not None and node.value[PATCH_KEY].value == "delete":
            return None
        kept = {k: s for k, v in node.value.items() if k != PATCH_KEY and (s := _strip_directives(v)) is not None}
        return Node(kept, node.pos, node.key_pos)
    if isinstance(node.value, list):
        return Node([s for v in node.value if (s := _strip_directives(v)) is not None], node.pos, node.key_pos)
    return node


def _item_name(item: Node) -> str | None:
    if isinstance(item.value, dict):
        name = item.value.get("name")
        if name is not None and isinstance(name.value, str):
            return name.value
    return None


def _merge_named(base: Node, over: Node, path: tuple[str, ...], problems: list[Diagnostic]) -> Node:
    assert isinstance(base.value, list) and isinstance(over.value, list)
    merged: list[Node] = list(base.value)
    index = {name: i for i, item in enumerate(merged) if (name := _item_name(item)) is not None}
    deleted: set[int] = set()
    for item in over.value:
        name = _item_name(item)
        if name is None:
            problems.append(
                Diagnostic(
                    "an overlay item of a named list needs a `name`",
                    _dotted(path),
                    item.pos,
                    "name the item it overrides or adds: `- name: hello`",
                    code="overlay",
                )
            )
            continue
        if name in index:
            result = merge(merged[index[name]], item, (*path, name), problems)
            if result is None:
                deleted.add(index[name])
            else:
                merged[index[name]] = result
        else:
            added = _strip_directives(item)
            if added is not None:
                index[name] = len(merged)
                merged.append(added)
    return Node([item for i, item in enumerate(merged) if i not in deleted], over.pos, base.key_pos or over.key_pos)


def merge(base: Node | None, over: Node, path: tuple[str, ...], problems: list[Diagnostic]) -> Node | None:
    """`over` merged onto `base`; None when the overlay deletes the value. Problems are appended."""
    if over.value is None:
        return None
    if base is None:
        return _strip_directives(over)
    if isinstance(over.value, dict) and PATCH_KEY in over.value:
        if over.value[PATCH_KEY].value == "delete":
            return None
        problems.append(
            Diagnostic(
                f"unknown `$patch` directive {over.value[PATCH_KEY].value!r}",
                _dotted((*path, PATCH_KEY)),
                over.value[PATCH_KEY].pos,
                "the only directive is `$patch: delete`",
                code="overlay",
            )
        )
        return base
    if _kind(base) != _kind(over):
        problems.append(
            Diagnostic(
                f"the overlay sets a {_kind(over)} where the base has a {_kind(base)} (at {base.pos})",
                _dotted(path),
                over.pos,
                f"write a {_kind(base)} here, or set it to null first to replace the whole value",
                code="overlay",
            )
        )
        return base
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        result: dict[str, Node] = dict(base.value)
        for key, value in over.value.items():
            merged = merge(base.value.get(key), value, (*path, key), problems)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        return Node(result, base.pos, base.key_pos or over.key_pos)
    if isinstance(base.value, list) and path in NAMED_LISTS:
        return _merge_named(base, over, path, problems)
    return _strip_directives(over)


def apply(root: Node, environment: str, sections: tuple[str, ...]) -> Node:
    """The effective document for one environment: base sections with the environment's overrides.

    Raises ManifestError when the overlay itself is inconsistent (a kind change, an unnamed item).
    """
    assert isinstance(root.value, dict)
    envs = root.value["environments"]
    assert isinstance(envs.value, dict)
    env = envs.value[environment]
    assert isinstance(env.value, dict)
    overrides = {key: value for key, value in env.value.items() if key in sections}
    problems: list[Diagnostic] = []
    merged = merge(root, Node(overrides, env.pos, env.key_pos), (), problems)
    if problems:
        raise ManifestError(problems)
    assert merged is not None and isinstance(merged.value, dict)
    return merged
