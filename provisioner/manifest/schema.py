"""The JSON Schema of koyalite.yaml, generated from the models (committed as schema/koyalite.schema.json)."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://koyalite.dev/schema/koyalite.schema.json"
MODELINE = "# yaml-language-server: $schema={}"


def json_schema() -> dict[str, Any]:
    """The schema editors and CI use: draft 2020-12, aliases as keys (`apiVersion`, `class`)."""
    from provisioner.manifest.models import Manifest

    schema = Manifest.model_json_schema(by_alias=True)
    _close_pattern_maps(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _close_pattern_maps(node: Any) -> None:
    """Refuse keys outside a map's key pattern, as the models do.

    Pydantic writes a constrained key type (`dict[DnsLabel, ...]`) as `patternProperties` alone, which
    JSON Schema reads as "other keys may hold anything": `environments: {Prod: 1}` would pass.
    """
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1 and "propertyNames" in node and "additionalProperties" not in node:
            node["propertyNames"] = {**node["propertyNames"], "pattern": next(iter(patterns))}
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def dumps() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
