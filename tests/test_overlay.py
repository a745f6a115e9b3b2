"""Overlay precedence, pair by pair: what an environment's value does to the base value under it."""

from __future__ import annotations

import pytest

from provisioner.errors import Diagnostic
from provisioner.manifest import overlay, parse
from provisioner.manifest.models import SECTIONS
from provisioner.manifest.source import Node
from tests.support import checked, manifest, node_at, problems


def root(text: str) -> Node:
    return parse(text, "koyalite.yaml").root


def merge(base: str, over: str) -> tuple[object, list[str]]:
    """`over` merged onto `base` (both YAML mappings) as plain data, and the problems as strings."""
    found: list[Diagnostic] = []
    result = overlay.merge(root(base), root(over), (), found)
    return (result.to_plain() if result is not None else None), [str(d) for d in found]


MERGES = [
    pytest.param("a: {p: 1, q: 2}", "a: {q: 3, r: 4}", {"a": {"p": 1, "q": 3, "r": 4}}, id="mapping+mapping-merges"),
    pytest.param(
        "a: {b: {c: 1, d: 2}, e: 3}", "a: {b: {d: 5}}", {"a": {"b": {"c": 1, "d": 5}, "e": 3}}, id="mapping+mapping-merges-recursively"
    ),
    pytest.param("a: 1\nb: 2", "a: 3", {"a": 3, "b": 2}, id="scalar+scalar-replaces"),
    pytest.param("a: 1", "a: text", {"a": "text"}, id="scalar+scalar-of-another-type-replaces"),
    pytest.param("a: [1, 2, 3]", "a: [4]", {"a": [4]}, id="list+list-replaces"),
    pytest.param("a: [1, 2]", "a: []", {"a": []}, id="list+empty-list-replaces"),
    pytest.param("a: 1\nb: 2", "a: null", {"b": 2}, id="null-deletes-a-scalar"),
    pytest.param("a: {x: 1}\nb: 2", "a: ~", {"b": 2}, id="null-deletes-a-mapping"),
    pytest.param("a: [1]\nb: 2", "a:", {"b": 2}, id="empty-value-deletes-a-list"),
    pytest.param("a: {p: 1, q: 2}", "a: {p: null}", {"a": {"q": 2}}, id="null-deletes-a-nested-key"),
    pytest.param("a: 1", "b: null", {"a": 1}, id="null-for-an-absent-key-is-nothing"),
    pytest.param("a: 1", "b: {c: 1, d: null, e: [1, null]}", {"a": 1, "b": {"c": 1, "e": [1]}}, id="new-value-drops-its-nulls"),
    pytest.param("a: {x: 1}", "a: {$patch: delete}", {}, id="patch-delete-removes-a-mapping"),
    pytest.param("a: 1", "b: {$patch: delete}", {"a": 1}, id="patch-delete-for-an-absent-key-is-nothing"),
]


@pytest.mark.parametrize(("base", "over", "expected"), MERGES)
def test_merge(base: str, over: str, expected: object) -> None:
    assert merge(base, over) == (expected, [])


NAMED = [
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u}, {name: b, schedule: '@hourly', url: v}]",
        "cron: [{name: b, schedule: '@weekly'}]",
        {"cron": [{"name": "a", "schedule": "@daily", "url": "u"}, {"name": "b", "schedule": "@weekly", "url": "v"}]},
        id="override-a-field",
    ),
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u}]",
        "cron: [{name: c, schedule: '@hourly', url: w, timezone: null}]",
        {"cron": [{"name": "a", "schedule": "@daily", "url": "u"}, {"name": "c", "schedule": "@hourly", "url": "w"}]},
        id="add-an-item-at-the-end",
    ),
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u}, {name: b, schedule: '@hourly', url: v}]",
        "cron: [{name: a, $patch: delete}]",
        {"cron": [{"name": "b", "schedule": "@hourly", "url": "v"}]},
        id="patch-delete-removes-an-item",
    ),
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u}]",
        "cron: [{name: z, $patch: delete}]",
        {"cron": [{"name": "a", "schedule": "@daily", "url": "u"}]},
        id="patch-delete-of-an-unknown-item-is-nothing",
    ),
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u, timezone: Europe/Berlin}]",
        "cron: [{name: a, timezone: null}]",
        {"cron": [{"name": "a", "schedule": "@daily", "url": "u"}]},
        id="null-deletes-a-field-of-an-item",
    ),
    pytest.param(
        "cron: [{name: a, schedule: '@daily', url: u}]",
        "cron: []",
        {"cron": [{"name": "a", "schedule": "@daily", "url": "u"}]},
        id="empty-list-keeps-every-item",
    ),
    pytest.param(
        "webhooks: [{name: a, events: [p, q], url: u}]",
        "webhooks: [{name: a, events: [r]}]",
        {"webhooks": [{"name": "a", "events": ["r"], "url": "u"}]},
        id="webhooks-merge-by-name-and-their-lists-replace",
    ),
    pytest.param(
        "functions: {items: [{name: a, entrypoint: a.ts}, {name: b, entrypoint: b.ts}]}",
        "functions: {items: [{name: b, memory: 1Gi}, {name: c, entrypoint: c.ts}, {name: a, $patch: delete}]}",
        {"functions": {"items": [{"name": "b", "entrypoint": "b.ts", "memory": "1Gi"}, {"name": "c", "entrypoint": "c.ts"}]}},
        id="functions-items-merge-by-name",
    ),
    pytest.param(
        "project: {regions: [{name: a}, {name: b}]}",
        "project: {regions: [{name: b}]}",
        {"project": {"regions": [{"name": "b"}]}},
        id="other-lists-of-named-items-replace",
    ),
]


@pytest.mark.parametrize(("base", "over", "expected"), NAMED)
def test_named_lists_merge_by_name(base: str, over: str, expected: object) -> None:
    assert merge(base, over) == (expected, [])


KIND_CHANGES = [
    pytest.param(
        "a:\n  x: 1",
        "a: [1]",
        "koyalite.yaml:1:4: error: a: the overlay sets a list where the base has a mapping (at koyalite.yaml:2:3)"
        " (write a mapping here, or set it to null first to replace the whole value)",
        id="mapping->list",
    ),
    pytest.param(
        "a: [1]",
        "a: 2",
        "koyalite.yaml:1:4: error: a: the overlay sets a value where the base has a list (at koyalite.yaml:1:4)"
        " (write a list here, or set it to null first to replace the whole value)",
        id="list->scalar",
    ),
    pytest.param(
        "a: {b: text}",
        "a: {b: {c: 1}}",
        "koyalite.yaml:1:8: error: a.b: the overlay sets a mapping where the base has a value (at koyalite.yaml:1:8)"
        " (write a value here, or set it to null first to replace the whole value)",
        id="scalar->mapping",
    ),
    pytest.param(
        "a: 1",
        "a: {$patch: remove}",
        "koyalite.yaml:1:13: error: a.$patch: unknown `$patch` directive 'remove' (the only directive is `$patch: delete`)",
        id="unknown-patch-directive",
    ),
    pytest.param(
        "cron: [{name: a}]",
        "cron: [{schedule: '@daily'}]",
        "koyalite.yaml:1:8: error: cron: an overlay item of a named list needs a `name` (name the item it overrides or adds: `- name: hello`)",
        id="named-item-without-name",
    ),
    pytest.param(
        "cron: [{name: a}]",
        "cron: [hourly]",
        "koyalite.yaml:1:8: error: cron: an overlay item of a named list needs a `name` (name the item it overrides or adds: `- name: hello`)",
        id="named-item-not-a-mapping",
    ),
]


@pytest.mark.parametrize(("base", "over", "expected"), KIND_CHANGES)
def test_inconsistent_overlays_are_errors_with_both_positions(base: str, over: str, expected: str) -> None:
    result, found = merge(base, over)
    assert found == [expected]
    assert result == root(base).to_plain()  # the base value stands; the error is reported once


def test_merged_nodes_keep_the_position_they_were_written_at() -> None:
    base = root("a:\n  p: 1\n  q: 2\nb: 3\n")
    result = overlay.merge(base, root("\n\n\n\na: {q: 5}\n"), (), [])
    assert result is not None
    positions = {".".join(map(str, loc)): str(node_at(result, *loc).pos) for loc in [("a", "p"), ("a", "q"), ("b",)]}
    assert positions == {"a.p": "koyalite.yaml:2:6", "a.q": "koyalite.yaml:5:8", "b": "koyalite.yaml:4:4"}


# --- through check(doc, env): the effective manifest of an environment ----------------------------

ENVIRONMENTS = """\
services:
  api:
    replicas: 3
    autoscale: {min: 2, max: 5}
    env: {LOG_LEVEL: info, REGION: fra}
  auth: {replicas: 2}
cron:
  - {name: nightly, schedule: "0 2 * * *", url: "https://ops.example.com/nightly"}
  - {name: hourly, schedule: "@hourly", url: "https://ops.example.com/hourly"}
limits: {storage_quota: 1Ti}
environments:
  dev:
    target: docker
    services:
      api: {replicas: 1, autoscale: null, env: {LOG_LEVEL: debug}}
    cron:
      - {name: nightly, schedule: "*/5 * * * *"}
      - {name: hourly, $patch: delete}
      - {name: adhoc, schedule: "@daily", url: "https://ops.example.com/adhoc"}
    limits: {storage_quota: null}
  prod:
    target: kubernetes
"""


def test_environment_overlay_through_check() -> None:
    dev = checked(manifest(ENVIRONMENTS), "dev").manifest
    assert (dev.services.api.replicas, dev.services.api.autoscale) == (1, None)
    assert dev.services.api.env == {"LOG_LEVEL": "debug", "REGION": "fra"}
    assert dev.services.auth.replicas == 2
    assert [(c.name, c.schedule) for c in dev.cron] == [("nightly", "*/5 * * * *"), ("adhoc", "@daily")]
    assert dev.cron[0].url == "https://ops.example.com/nightly"
    assert dev.limits.storage_quota is None  # the overlay's null gives the model default back


def test_other_environments_and_the_base_are_untouched() -> None:
    for env in (None, "prod"):
        m = checked(manifest(ENVIRONMENTS), env).manifest
        assert (m.services.api.replicas, m.services.api.autoscale is not None, m.limits.storage_quota) == (3, True, "1Ti")
        assert [c.name for c in m.cron] == ["nightly", "hourly"]


def test_null_deletes_and_the_model_default_applies() -> None:
    text = manifest("""\
        services:
          api: {port: 9000, replicas: 3}
        environments:
          dev:
            target: docker
            services: {api: {port: null}}
            functions: {runtime: {port: null}}
        """)
    api = checked(text, "dev").manifest.services.api
    assert (api.port, api.replicas) == (8000, 3)


def test_effective_source_points_at_the_overlay() -> None:
    result = checked(manifest(ENVIRONMENTS), "dev")
    assert str(node_at(result.source, "services", "api", "replicas").pos) == "koyalite.yaml:17:23"
    assert str(node_at(result.source, "services", "auth", "replicas").pos) == "koyalite.yaml:8:20"


OVERLAY_ERRORS = [
    pytest.param(
        """\
        services:
          api: {replicas: 2}
        environments:
          prod:
            target: kubernetes
            services:
              api: {replicas: two}
        """,
        "koyalite.yaml:9:23: error: services.api.replicas: expected a whole number, got 'two' (write the number without quotes)",
        id="bad-value-points-at-the-overlay",
    ),
    pytest.param(
        """\
        services:
          api: {replicas: 2}
        environments:
          prod:
            target: kubernetes
            services:
              api: {replicas: -1}
        """,
        "koyalite.yaml:9:23: error: services.api.replicas: Input should be greater than or equal to 0",
        id="out-of-range-value-points-at-the-overlay",
    ),
    pytest.param(
        """\
        storage: {masters: 3}
        environments:
          prod:
            target: kubernetes
            storage:
              masters: 4
        """,
        "koyalite.yaml:8:16: error: storage.masters: 4 masters cannot hold a Raft majority safely (use an odd number: 3 or 5)",
        id="rule-error-points-at-the-overlay",
    ),
    pytest.param(
        """\
        environments:
          prod:
            target: kubernetes
            services: {api: {replcias: 5}}
        """,
        "koyalite.yaml:6:22: error: services.api.replcias: unknown key `replcias` (did you mean `replicas`?)",
        id="unknown-key-in-the-overlay",
    ),
    pytest.param(
        """\
        services:
          api:
            replicas: 2
        environments:
          prod:
            target: kubernetes
            services:
              api: [2]
        """,
        "koyalite.yaml:10:12: error: services.api: the overlay sets a list where the base has a mapping (at koyalite.yaml:5:5)"
        " (write a mapping here, or set it to null first to replace the whole value)",
        id="kind-change-mapping->list",
    ),
    pytest.param(
        """\
        search: {modules: [backup-s3]}
        environments:
          prod:
            target: kubernetes
            search: {modules: backup-s3}
        """,
        "koyalite.yaml:7:23: error: search.modules: the overlay sets a value where the base has a list (at koyalite.yaml:3:19)"
        " (write a list here, or set it to null first to replace the whole value)",
        id="kind-change-list->scalar",
    ),
    pytest.param(
        """\
        database: {volume: 10Gi}
        environments:
          prod:
            target: kubernetes
            database: {volume: {size: 20Gi}}
        """,
        "koyalite.yaml:7:24: error: database.volume: the overlay sets a mapping where the base has a value (at koyalite.yaml:3:20)"
        " (write a value here, or set it to null first to replace the whole value)",
        id="kind-change-scalar->mapping",
    ),
    pytest.param(
        """\
        cron:
          - {name: nightly, schedule: "0 2 * * *", url: "https://ops.example.com/nightly"}
        environments:
          prod:
            target: kubernetes
            cron:
              - schedule: "0 3 * * *"
        """,
        "koyalite.yaml:9:9: error: cron: an overlay item of a named list needs a `name` (name the item it overrides or adds: `- name: hello`)",
        id="overlay-item-without-name",
    ),
]


@pytest.mark.parametrize(("body", "expected"), OVERLAY_ERRORS)
def test_overlay_errors_point_at_the_overlay(body: str, expected: str) -> None:
    assert problems(manifest(body), "prod") == [expected]


def test_overlay_problems_are_all_reported_at_once() -> None:
    text = manifest("""\
        services: {api: {replicas: 2}}
        cron: [{name: a, schedule: "@daily", url: "https://x.example.com/a"}]
        environments:
          prod:
            target: kubernetes
            services: {api: [2]}
            cron: [{schedule: "@hourly"}]
        """)
    assert problems(text, "prod") == [
        "koyalite.yaml:8:21: error: services.api: the overlay sets a list where the base has a mapping (at koyalite.yaml:3:17)"
        " (write a mapping here, or set it to null first to replace the whole value)",
        "koyalite.yaml:9:12: error: cron: an overlay item of a named list needs a `name` (name the item it overrides or adds: `- name: hello`)",
    ]


def test_only_the_override_sections_are_merged() -> None:
    text = manifest("""\
        environments:
          dev:
            target: docker
            protect: true
            policy: {min_replicas: 0, resource_limits: false}
        """)
    effective = overlay.apply(parse(text).root, "dev", SECTIONS).to_plain()
    assert isinstance(effective, dict)
    assert sorted(effective) == ["apiVersion", "environments", "project"]
    assert "target" not in effective
