"""One YAML dumper for everything we print: fixed settings, stable key order, block scalars for file contents."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_FIRST = ("apiVersion", "kind", "metadata")
"""Kubernetes objects read best with these keys first; every other key is sorted."""

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class Dumper(_Dumper):  # type: ignore[misc,valid-type]
    """Safe dumper that writes multi-line strings as `|` blocks (function sources, config files)."""

    tags: dict[tuple[str, Any], Any] | None = None
    """Implicit tags already resolved in this render: (text, implicit) -> tag; None resolves every time."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        # The serializer asks twice per scalar, and PyYAML answers with a regex scan each time: a large share of a
        # big render. Without path resolvers (we add none) the answer depends on the text alone, so a render keeps it.
        if kind is ScalarNode and self.tags is not None and not self.yaml_path_resolvers:
            key = (value, implicit)
            tag = self.tags.get(key)
            if tag is None:
                tag = self.tags[key] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" "):
        return dumper.represent_scalar(_STR, value, style="|")
    return dumper.represent_scalar(_STR, value)


Dumper.add_representer(str, _str)


def ordered(value: Any, top: bool = True) -> Any:
    """A copy with mapping keys in output order: Kubernetes' first keys at the top level, the rest sorted."""
    if isinstance(value, dict):
        first = [k for k in _FIRST if k in value] if top else []
        rest = sorted(k for k in value if k not in first)
        return {k: ordered(value[k], top=False) for k in (*first, *rest)}
    if isinstance(value, list):
        return [ordered(v, top=False) for v in value]
    return value


def _node(dumper: yaml.SafeDumper, value: Any, top: bool = False) -> Node:
    """The node PyYAML's representer would make of `ordered(value)`, built directly.

    Equivalent to `dumper.represent(ordered(value))` for the plain data translators produce (dicts, lists, str,
    int, bool, None): same tags, styles and key order, and no aliases (ordered() copies every container, so the
    representer never saw one twice). Anything else goes through the representer itself. This skips the copy and
    the representer's per-value dispatch, which dominate rendering a large plan.
    """
    kind = type(value)
    if kind is str:
        if "\n" in value and "\r" not in value and "\t" not in value and value == value.rstrip(" "):
            return ScalarNode(_STR, value, style="|")
        return ScalarNode(_STR, value)
    if kind is dict:
        if top:
            first = [k for k in _FIRST if k in value]
            keys = [*first, *sorted(k for k in value if k not in first)]
        else:
            keys = sorted(value)
        return MappingNode(_MAP, [(_node(dumper, k), _node(dumper, value[k])) for k in keys], flow_style=False)
    if kind is list:
        return SequenceNode(_SEQ, [_node(dumper, v) for v in value], flow_style=False)
    if kind is bool:
        return ScalarNode(_BOOL, "true" if value else "false")
    if kind is int:
        return ScalarNode(_INT, str(value))
    if value is None:
        return ScalarNode(_NULL, "null")
    node: Node = dumper.represent_data(value)
    return node


def dumps(value: Any, tags: dict[tuple[str, Any], Any] | None = None) -> str:
    """One document; `tags` shares resolved scalar tags between the documents of one stream."""
    stream = io.StringIO()
    dumper = Dumper(stream, default_flow_style=False, allow_unicode=True, width=120, sort_keys=False)
    dumper.tags = {} if tags is None else tags
    try:
        dumper.open()
        dumper.serialize(_node(dumper, value, top=True))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


def dumps_all(values: Iterable[Any]) -> str:
    """A stream of documents separated by `---`."""
    tags: dict[tuple[str, Any], Any] = {}
    return "".join(f"---\n{dumps(v, tags)}" for v in values)
