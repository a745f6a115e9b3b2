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
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def dumps() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
