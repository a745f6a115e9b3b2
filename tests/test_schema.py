"""Schema drift: the committed JSON Schema is the models' schema, and the reference manifest passes both."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from provisioner.cli import scaffold
from provisioner.manifest import check_all, load, overlay, parse
from provisioner.manifest.models import SECTIONS
from provisioner.manifest.schema import MODELINE, SCHEMA_ID, dumps, json_schema
from tests.support import REFERENCE, SCHEMA


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(validator: Draft202012Validator, data: object) -> list[str]:
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data))


def test_committed_schema_is_generated_from_the_models() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == dumps(), "run `make schema` and commit schema/koyalite.schema.json"


def test_schema_header() -> None:
    schema = json_schema()
    assert (schema["$schema"], schema["$id"], schema["title"]) == (
        "https://json-schema.org/draft/2020-12/schema",
        SCHEMA_ID,
        "koyalite.yaml",
    )
    assert schema["required"] == ["apiVersion", "project"]
    assert schema["additionalProperties"] is False


def test_reference_manifest_starts_with_the_modeline() -> None:
    first = REFERENCE.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE.format("./schema/koyalite.schema.json")


def test_reference_manifest_passes_the_json_schema(validator: Draft202012Validator) -> None:
    data = load(REFERENCE).root.to_plain()
    assert schema_errors(validator, data) == []


def test_every_effective_environment_passes_the_json_schema(validator: Draft202012Validator) -> None:
    doc = load(REFERENCE)
    for env in doc.environments:
        assert schema_errors(validator, overlay.apply(doc.root, env, SECTIONS).to_plain()) == [], env


def test_reference_manifest_is_valid_for_every_environment_without_warnings() -> None:
    results, diagnostics = check_all(load(REFERENCE))
    assert [str(d) for d in diagnostics] == []
    assert [r.environment for r in results] == ["dev", "staging", "prod"]


def test_scaffold_manifest_passes_the_json_schema(validator: Draft202012Validator) -> None:
    data = parse(scaffold.MANIFEST.format(name="acme")).root.to_plain()
    assert schema_errors(validator, data) == []


def test_the_schema_catches_what_the_models_catch(validator: Draft202012Validator) -> None:
    # An editor with the schema flags these before `koyalite validate` runs.
    data = {
        "apiVersion": "koyalite.dev/v1",
        "project": {"name": "Acme", "release": 1.1},
        "services": {"api": {"replcias": 2}},
        "features": {"experimental.graphql": "yes", "beta.flag": True},
        "environments": {"dev": {"target": "kuberntes"}},
    }
    assert schema_errors(validator, data) == [
        "environments.dev.target: 'kuberntes' is not one of ['docker', 'kubernetes']",
        "features.experimental.graphql: 'yes' is not of type 'boolean'",
        "features: 'beta.flag' does not match any of the regexes: '^(experimental|enterprise)\\\\.[a-z][a-z0-9_]*$'",
        "project.name: 'Acme' does not match '^[a-z]([-a-z0-9]*[a-z0-9])?$'",
        "project.release: 1.1 is not of type 'string'",
        "services.api: Additional properties are not allowed ('replcias' was unexpected)",
    ]
