"""One YAML dumper for everything we print: fixed settings, stable key order, block scalars for file contents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

_FIRST = ("apiVersion", "kind", "metadata")
"""Kubernetes objects read best with these keys first; every other key is sorted."""

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Dumper(_Dumper):  # type: ignore[misc,valid-type]
    """Safe dumper that writes multi-line strings as `|` blocks (function sources, config files)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


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


def dumps(value: Any) -> str:
    """One document."""
    return yaml.dump(ordered(value), Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def dumps_all(values: Iterable[Any]) -> str:
    """A stream of documents separated by `---`."""
    return "".join(f"---\n{dumps(v)}" for v in values)
