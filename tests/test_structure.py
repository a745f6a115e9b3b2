"""Structural errors: pydantic's validation errors as positioned diagnostics with a message and a hint."""

from __future__ import annotations

import pytest

from provisioner.manifest.diagnose import keys_at
from provisioner.manifest.models import Manifest
from tests.support import errors, manifest, problems

HEAD = 'apiVersion: koyalite.dev/v1\nproject: {name: acme, release: "1.4.0"}\n'

STRUCTURE = {
    # unknown keys: positioned on the key, with the closest known key
    "unknown-key-did-you-mean": (
        "services:\n  api:\n    replcias: 2\n",
        "koyalite.yaml:5:5: error: services.api.replcias: unknown key `replcias` (did you mean `replicas`?)",
    ),
    "unknown-top-level-key": (
        "servics: {}\n",
        "koyalite.yaml:3:1: error: servics: unknown key `servics` (did you mean `services`?)",
    ),
    "unknown-key-lists-the-allowed-keys": (
        "services:\n  api: {bogus: 1}\n",
        "koyalite.yaml:4:9: error: services.api.bogus: unknown key `bogus`"
        " (allowed keys: autoscale, env, health, image, metrics_port, port, replicas, resources, secrets, tag)",
    ),
    "unknown-key-in-a-list-item": (
        "functions:\n  items:\n    - {name: hello, entrypoint: hello.ts, rutes: [/hello]}\n",
        "koyalite.yaml:5:43: error: functions.items.hello.rutes: unknown key `rutes` (did you mean `routes`?)",
    ),
    "unknown-key-in-an-environment": (
        "environments:\n  prod:\n    target: kubernetes\n    kubernetes: {namespce: acme}\n",
        "koyalite.yaml:6:18: error: environments.prod.kubernetes.namespce: unknown key `namespce` (did you mean `namespace`?)",
    ),
    "unknown-feature-flag": (
        "features: {search: true, serch: false}\n",
        "koyalite.yaml:3:26: error: features.serch: unknown key `serch` (did you mean `search`?)",
    ),
    "feature-flag-outside-the-namespaces": (
        "features: {beta.graphql: true}\n",
        "koyalite.yaml:3:12: error: features.beta.graphql: unknown key `beta.graphql`"
        " (allowed keys: cron, edge_functions, email, events, search, storage, studio, webhooks)",
    ),
    "namespaced-flag-must-be-a-boolean": (
        'features: {experimental.graphql: "true"}\n',
        "koyalite.yaml:3:1: error: features: flag 'experimental.graphql' must be true or false"
        " (write `experimental.graphql: true` or `experimental.graphql: false`)",
    ),
    # missing required fields: positioned on the mapping that lacks them
    "missing-target": (
        "environments:\n  dev:\n    protect: false\n",
        "koyalite.yaml:5:5: error: environments.dev.target: `target` is required (add `target:` here)",
    ),
    "missing-entrypoint": (
        "functions:\n  items:\n    - name: hello\n      routes: [/hello]\n",
        "koyalite.yaml:5:7: error: functions.items.hello.entrypoint: `entrypoint` is required (add `entrypoint:` here)",
    ),
    # wrong types
    "string-for-a-number": (
        'services:\n  api: {replicas: "2"}\n',
        "koyalite.yaml:4:19: error: services.api.replicas: expected a whole number, got '2' (write the number without quotes)",
    ),
    "float-for-a-number": (
        "services:\n  api: {replicas: 2.0}\n",
        "koyalite.yaml:4:19: error: services.api.replicas: expected a whole number, got the number 2.0",
    ),
    "boolean-for-a-number": (
        "services:\n  api: {replicas: true}\n",
        "koyalite.yaml:4:19: error: services.api.replicas: expected a whole number, got the boolean true",
    ),
    "quoted-boolean": (
        'storage: {s3: "false"}\n',
        "koyalite.yaml:3:15: error: storage.s3: expected true or false, got 'false' (write true or false without quotes)",
    ),
    "number-for-a-string": (
        "services:\n  api:\n    resources: {limits: {cpu: 1.5}}\n",
        "koyalite.yaml:5:31: error: services.api.resources.limits.cpu: expected a string, got the number 1.5 (quote it: '1.5')",
    ),
    "scalar-for-a-list": (
        "search: {modules: backup-s3}\n",
        "koyalite.yaml:3:19: error: search.modules: expected a list, got 'backup-s3'",
    ),
    "list-for-a-mapping": (
        "services: [api, auth]\n",
        "koyalite.yaml:3:1: error: services: expected a mapping, got a list",
    ),
    "null-for-a-mapping": (
        "limits: ~\n",
        "koyalite.yaml:3:9: error: limits: expected a mapping, got nothing (null)",
    ),
    "mapping-for-a-list": (
        "functions:\n  items:\n    hello: {entrypoint: hello.ts}\n",
        "koyalite.yaml:4:3: error: functions.items: expected a list, got a mapping",
    ),
    "union-value-is-one-diagnostic": (
        "services:\n  api:\n    env: {LEVELS: [info, debug]}\n",
        "koyalite.yaml:5:11: error: services.api.env.LEVELS: expected a string, a whole number or true or false, got a list",
    ),
    "union-value-keeps-the-quote-hint": (
        "services:\n  api:\n    env: {RATIO: 1.50}\n",
        "koyalite.yaml:5:18: error: services.api.env.RATIO: expected a string, a whole number or true or false,"
        " got the number 1.5 (written 1.50) (quote it: '1.50')",
    ),
    # ranges
    "below-minimum": (
        "services:\n  api: {replicas: -1}\n",
        "koyalite.yaml:4:19: error: services.api.replicas: Input should be greater than or equal to 0",
    ),
    "above-maximum": (
        "services:\n  api: {port: 70000}\n",
        "koyalite.yaml:4:15: error: services.api.port: Input should be less than or equal to 65535",
    ),
    "empty-events": (
        'webhooks:\n  - {name: signup, events: [], url: "https://hooks.example.com/x", secret: hook_key}\n',
        "koyalite.yaml:4:20: error: webhooks.signup.events: needs at least 1 item(s) (add an item)",
    ),
    # literals
    "target-typo": (
        "environments:\n  prod: {target: kuberntes}\n",
        "koyalite.yaml:4:18: error: environments.prod.target: 'kuberntes' is not one of docker, kubernetes (did you mean `kubernetes`?)",
    ),
    "target-unrelated": (
        "environments:\n  prod: {target: nomad}\n",
        "koyalite.yaml:4:18: error: environments.prod.target: 'nomad' is not one of docker, kubernetes (write one of docker, kubernetes)",
    ),
    "lease-typo": (
        "database: {lease: consol}\n",
        "koyalite.yaml:3:19: error: database.lease: 'consol' is not one of static, consul (did you mean `consul`?)",
    ),
    # quantities
    "megabytes": (
        "services:\n  api:\n    resources: {limits: {memory: 512MB}}\n",
        "koyalite.yaml:5:34: error: services.api.resources.limits.memory: '512MB' is not a byte quantity (write 512Mi)",
    ),
    "lower-case-g": (
        "database: {volume: 1g}\n",
        "koyalite.yaml:3:20: error: database.volume: '1g' is not a byte quantity (write 1Gi)",
    ),
    "kilobytes": (
        "limits: {max_upload_size: 100kb}\n",
        "koyalite.yaml:3:27: error: limits.max_upload_size: '100kb' is not a byte quantity (write 100Ki)",
    ),
    "space-before-unit": (
        "limits: {storage_quota: 2 GB}\n",
        "koyalite.yaml:3:25: error: limits.storage_quota: '2 GB' is not a byte quantity (write 2Gi)",
    ),
    "no-unit-at-all": (
        "database: {volume: lots}\n",
        "koyalite.yaml:3:20: error: database.volume: 'lots' is not a byte quantity (write a number with a binary suffix, like 512Mi or 10Gi)",
    ),
    "cpu-cores-as-words": (
        "services:\n  api:\n    resources: {requests: {cpu: 2 cores}}\n",
        "koyalite.yaml:5:33: error: services.api.resources.requests.cpu: '2 cores' is not a CPU quantity"
        " (write millicores like 500m, or cores like 1 or 0.5)",
    ),
    "duration-with-a-fraction": (
        "services:\n  api:\n    health: {timeout: 1.5s}\n",
        "koyalite.yaml:5:23: error: services.api.health.timeout: '1.5s' is not a duration (write a whole number with ms, s, m or h, like 30s or 5m)",
    ),
    # names and other forms
    "function-name-not-dns": (
        "functions:\n  items:\n    - {name: Hello_World, entrypoint: hello.ts}\n",
        "koyalite.yaml:5:14: error: functions.items.Hello_World.name: 'Hello_World' is not a valid name"
        " (use lowercase letters, digits and '-', starting with a letter, at most 63 characters: hello-world)",
    ),
    "environment-name-not-dns": (
        'environments:\n  "Prod EU!": {target: kubernetes}\n',
        "koyalite.yaml:4:3: error: environments.Prod EU!: 'Prod EU!' is not a valid name"
        " (use lowercase letters, digits and '-', starting with a letter, at most 63 characters: prod-eu)",
    ),
    "name-too-long": (
        f"functions:\n  items:\n    - {{name: {'f' * 64}, entrypoint: hello.ts}}\n",
        f"koyalite.yaml:5:14: error: functions.items.{'f' * 64}.name: '{'f' * 64}' is not a valid name"
        f" (use lowercase letters, digits and '-', starting with a letter, at most 63 characters: {'f' * 63})",
    ),
    "domain-not-dns": (
        "environments:\n  prod:\n    target: kubernetes\n    kubernetes: {ingress: {host: Api.Example.com}}\n",
        "koyalite.yaml:6:34: error: environments.prod.kubernetes.ingress.host: 'Api.Example.com' is not a DNS name"
        " (use lowercase labels separated by dots, like api.example.com)",
    ),
    "route-not-a-path": (
        "functions:\n  items:\n    - {name: hello, entrypoint: hello.ts, routes: [hello, /a/../b]}\n",
        "koyalite.yaml:5:52: error: functions.items.hello.routes.0: 'hello' is not an HTTP path"
        " (start with '/' and use URL path characters, like /hello)",
        "koyalite.yaml:5:59: error: functions.items.hello.routes.1: '/a/../b' is not an HTTP path"
        " (start with '/' and use URL path characters, like /hello)",
    ),
    "env-var-name-points-at-the-key": (
        "services:\n  api:\n    env: {1ST_RUN: yes-please}\n",
        "koyalite.yaml:5:11: error: services.api.env.1ST_RUN: '1ST_RUN' is not an environment variable name"
        " (use letters, digits and '_', not starting with a digit)",
    ),
    "region-key-not-dns": (
        "database: {replicas: {IAD: 1}}\n",
        "koyalite.yaml:3:23: error: database.replicas.IAD: 'IAD' is not a valid name"
        " (use lowercase letters, digits and '-', starting with a letter, at most 63 characters: iad)",
    ),
    "pattern-mismatch": (
        'webhooks:\n  - {name: signup, events: [Auth.User], url: "ftp://hooks.example.com", secret: hook_key}\n',
        "koyalite.yaml:4:29: error: webhooks.signup.events.0: 'Auth.User' does not have the expected form"
        " (match the pattern ^[a-z]+(\\.[a-z_]+)+$)",
        "koyalite.yaml:4:46: error: webhooks.signup.url: 'ftp://hooks.example.com' does not have the expected form"
        " (match the pattern ^https?://[^\\s/$.?#][^\\s]*$)",
    ),
    # cross-field checks inside one model
    "cron-with-function-and-url": (
        'cron:\n  - {name: ping, schedule: "@hourly", function: ping, url: "https://ops.example.com/ping"}\n',
        "koyalite.yaml:4:5: error: cron.ping: a cron job calls exactly one of function or url"
        " (set `function: NAME` or `url: https://...`, not both)",
    ),
    "cron-with-neither": (
        'cron:\n  - name: ping\n    schedule: "@hourly"\n',
        "koyalite.yaml:4:5: error: cron.ping: a cron job calls exactly one of function or url"
        " (set `function: NAME` or `url: https://...`, not both)",
    ),
    "autoscale-min-above-max": (
        "services:\n  api:\n    autoscale: {min: 5, max: 2}\n",
        "koyalite.yaml:5:5: error: services.api.autoscale: autoscale min 5 is above max 2 (set min <= max)",
    ),
    "consul-lease-without-consul": (
        "database:\n  lease: consul\n",
        "koyalite.yaml:3:1: error: database: lease consul needs a consul section"
        " (add `consul: {url: http://consul:8500}` or use `lease: static`)",
    ),
    "static-lease-with-candidates": (
        "database:\n  candidates: 3\n",
        "koyalite.yaml:3:1: error: database: a static lease has exactly one candidate, not 3"
        " (set `candidates: 1`, or `lease: consul` for failover)",
    ),
}


@pytest.mark.parametrize(("body", "expected"), [(b, list(e)) for b, *e in STRUCTURE.values()], ids=STRUCTURE.keys())
def test_structural_errors(body: str, expected: list[str]) -> None:
    assert problems(HEAD + body) == expected


WHOLE_DOCUMENT = {
    "missing-everything": (
        "features: {}\n",
        [
            "koyalite.yaml:1:1: error: apiVersion: `apiVersion` is required (add `apiVersion:` here)",
            "koyalite.yaml:1:1: error: project: `project` is required (add `project:` here)",
        ],
    ),
    "missing-project-fields": (
        "apiVersion: koyalite.dev/v1\nproject:\n  domain: acme.example.com\n",
        [
            "koyalite.yaml:3:3: error: project.name: `name` is required (add `name:` here)",
            "koyalite.yaml:3:3: error: project.release: `release` is required (add `release:` here)",
        ],
    ),
    "api-version-typo": (
        'apiVersion: koyalite.dev/v2\nproject: {name: acme, release: "1"}\n',
        ["koyalite.yaml:1:13: error: apiVersion: 'koyalite.dev/v2' is not one of koyalite.dev/v1 (did you mean `koyalite.dev/v1`?)"],
    ),
    "project-name-not-dns": (
        'apiVersion: koyalite.dev/v1\nproject: {name: My Project!, release: "1"}\n',
        [
            "koyalite.yaml:2:17: error: project.name: 'My Project!' is not a valid name"
            " (use lowercase letters, digits and '-', starting with a letter, at most 63 characters: my-project)"
        ],
    ),
    "release-1.10": (
        "apiVersion: koyalite.dev/v1\nproject: {name: acme, release: 1.10}\n",
        ["koyalite.yaml:2:32: error: project.release: expected a string, got the number 1.1 (written 1.10) (quote it: '1.10')"],
    ),
    "release-with-a-space": (
        "apiVersion: koyalite.dev/v1\nproject: {name: acme, release: 1.4 beta}\n",
        [
            "koyalite.yaml:2:32: error: project.release: '1.4 beta' does not have the expected form"
            " (match the pattern ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$)"
        ],
    ),
    "region-listed-twice": (
        'apiVersion: koyalite.dev/v1\nproject: {name: acme, release: "1", regions: [fra, iad, fra]}\n',
        ["koyalite.yaml:2:1: error: project: region 'fra' is listed twice (list each region once)"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), WHOLE_DOCUMENT.values(), ids=WHOLE_DOCUMENT.keys())
def test_whole_document_errors(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


LONG_SECRET = "8f3kq9ZxP2mLw7vRt4YbQ1"


def test_literal_looking_secret_reference_is_not_echoed() -> None:
    text = manifest(f"services:\n  auth:\n    secrets: {{JWT_SECRET: {LONG_SECRET}, SMTP_PASSWORD: smtp_password}}\n")
    found = problems(text)
    assert found == [
        "koyalite.yaml:5:27: error: services.auth.secrets.JWT_SECRET: the value is not a secret name; it looks like a secret value"
        " (name the secret here (like jwt_secret) and set its value with `koyalite secrets set NAME --env ENV`"
        " or `pulumi config set --secret NAME`)"
    ]
    assert LONG_SECRET not in found[0]


SECRET_FIELDS = {
    "function-secrets": ("functions:\n  items:\n    - {name: pay, entrypoint: pay.ts, secrets: {STRIPE_KEY: %s}}\n", "5:61"),
    "webhook-secret": ('webhooks:\n  - {name: signup, events: [auth.user.created], url: "https://h.example.com", secret: %s}\n', "4:87"),
    "weaviate-api-key": ("search: {api_key_secret: %s}\n", "3:26"),
}


@pytest.mark.parametrize(("body", "position"), SECRET_FIELDS.values(), ids=SECRET_FIELDS.keys())
def test_every_secret_reference_refuses_values(body: str, position: str) -> None:
    found = errors(manifest(body % LONG_SECRET))
    assert [(str(d.position), d.message) for d in found] == [
        (f"koyalite.yaml:{position}", "the value is not a secret name; it looks like a secret value")
    ]
    assert LONG_SECRET not in str(found[0])


def test_short_secret_value_is_shown() -> None:
    # a value of 8 characters or fewer is too short to be a real secret; showing it helps find the typo
    assert problems(manifest("services:\n  auth:\n    secrets: {JWT_SECRET: Jwt}\n")) == [
        "koyalite.yaml:5:27: error: services.auth.secrets.JWT_SECRET: 'Jwt' is not a secret name; it looks like a secret value"
        " (name the secret here (like jwt_secret) and set its value with `koyalite secrets set NAME --env ENV`"
        " or `pulumi config set --secret NAME`)"
    ]


def test_structural_errors_are_all_reported_sorted_by_position() -> None:
    text = manifest("""\
        storage: {s3: "yes", masters: 0}
        services:
          api: {replcias: 2, resources: {limits: {memory: 512MB}}}
        environments:
          dev: {target: dockr}
        """)
    assert [f"{d.position} {d.path}" for d in errors(text)] == [
        "koyalite.yaml:3:15 storage.s3",
        "koyalite.yaml:3:31 storage.masters",
        "koyalite.yaml:5:9 services.api.replcias",
        "koyalite.yaml:5:51 services.api.resources.limits.memory",
        "koyalite.yaml:7:17 environments.dev.target",
    ]


def test_keys_at_follows_fields_dicts_and_lists() -> None:
    assert keys_at(Manifest, ("functions", "items", 0))[:3] == ["name", "entrypoint", "routes"]
    assert "class" in keys_at(Manifest, ("environments", "prod", "kubernetes", "ingress"))
    assert keys_at(Manifest, ("project", "name")) == []
