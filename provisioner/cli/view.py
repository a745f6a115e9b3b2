"""Print an effective manifest as YAML, optionally with where each value came from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from provisioner.manifest.source import Node


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()


def _origin(root: Node, loc: tuple[str | int, ...]) -> str:
    node = root.find(loc)
    return str(node.pos) if node is not None else "default"


def _lines(data: Any, root: Node, loc: tuple[str | int, ...], indent: int) -> Iterator[str]:
    pad = "  " * indent
    items: list[tuple[str, Any, tuple[str | int, ...]]]
    if isinstance(data, dict):
        items = [(f"{_scalar(k)}:", v, (*loc, k)) for k, v in data.items()]
    else:
        items = [("-", v, (*loc, i)) for i, v in enumerate(data)]
    for head, value, child in items:
        if isinstance(value, dict | list) and value:
            yield f"{pad}{head}"
            yield from _lines(value, root, child, indent + 1)
        else:
            yield f"{pad}{head} {_scalar(value)}  # {_origin(root, child)}"


def with_origins(data: dict[str, Any], root: Node) -> str:
    """YAML of `data` with a `# file:line:col` (or `# default`) comment on every value."""
    return "\n".join(_lines(data, root, (), 0)) + "\n"


def plain(data: dict[str, Any]) -> str:
    """YAML of `data` in manifest order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
