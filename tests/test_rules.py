"""Every semantic rule, table-driven: the exact message, manifest path, position and hint of each finding."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from provisioner.manifest.rules import RULES
from provisioner.manifest.rules.schedules import cron_problem
from tests.support import checked, errors, manifest, problems

URL = '"https://ops.example.com/hook"'


def case(body: str, *expected: str, env: str | None = None, **project: str) -> Any:
    """One table row: a manifest body (after the two-line minimal head) and the findings it gives."""
    return pytest.param(manifest(body, **project), env, list(expected))


def run(text: str, env: str | None, expected: list[str]) -> None:
    assert problems(text, env) == expected


# --- naming: names stay valid Kubernetes names once prefixed ----------------------------------------

NAMING = {
    "cron-job-name-too-long": case(
        f"""\
        cron:
          - name: nightly-cleanup-of-every-expired-upload-and-session
            schedule: "@daily"
            url: {URL}
        """,
        "koyalite.yaml:4:11: error: cron.nightly-cleanup-of-every-expired-upload-and-session.name:"
        " the CronJob name `acme-cron-nightly-cleanup-of-every-expired-upload-and-session` is 61 characters; the limit is 52"
        " (shorten this name (or the project or environment name) by 9 characters)",
    ),
    "function-name-too-long-with-the-environment": case(
        """\
        functions:
          items:
            - {name: resize-every-uploaded-image-to-thumbnails, entrypoint: functions/resize.ts}
        environments:
          production-eu-west: {target: kubernetes}
        """,
        "koyalite.yaml:5:14: error: functions.items.resize-every-uploaded-image-to-thumbnails.name:"
        " the ConfigMap name `acme-production-eu-west-fn-resize-every-uploaded-image-to-thumbnails` is 68 characters;"
        " the limit is 63 (shorten this name (or the project or environment name) by 5 characters)",
        env="production-eu-west",
    ),
    "region-name-too-long": case(
        "storage: {volume_servers: 1}\n",
        "koyalite.yaml:2:51: error: project.regions.0: the StatefulSet name"
        " `acme-seaweedfs-volume-europe-west-frankfurt-zone-a-12` is 53 characters; the limit is 52"
        " (shorten this name (or the project or environment name) by 1 character)",
        regions="[europe-west-frankfurt-zone-a-12]",
    ),
    "project-name-too-long-names-every-statefulset": case(
        "",
        "koyalite.yaml:2:1: error: project.regions.0: the StatefulSet name"
        " `acme-analytics-platform-for-all-teams-seaweedfs-volume-local` is 60 characters; the limit is 52"
        " (shorten this name (or the project or environment name) by 8 characters)",
        "koyalite.yaml:2:17: error: project.name: the StatefulSet name `acme-analytics-platform-for-all-teams-seaweedfs-master`"
        " is 54 characters; the limit is 52 (shorten this name (or the project or environment name) by 2 characters)",
        name="acme-analytics-platform-for-all-teams",
    ),
    "disabled-storage-has-no-seaweedfs-names": case(
        "features: {storage: false}\n",
        name="acme-analytics-platform-for-all-teams",
    ),
    "disabled-cron-has-no-cronjob-names": case(
        f"""\
        features: {{cron: false}}
        cron:
          - {{name: nightly-cleanup-of-every-expired-upload-and-session, schedule: "@daily", url: {URL}}}
        """,
        "koyalite.yaml:4:1: warning: cron: ignored because features.cron is false (remove this section, or set `features.cron: true`)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), NAMING.values(), ids=NAMING.keys())
def test_naming(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_service_deployment_names_too_long() -> None:
    # Deployment names (limit 63) only overflow with names that already overflow the StatefulSets (limit 52).
    text = manifest("environments:\n  prod: {target: kubernetes}\n", name="a" * 51)
    deployments = [p for p in problems(text, "prod") if "Deployment" in p]
    assert deployments == [
        f"koyalite.yaml:4:3: error: services.project: the Deployment name `{'a' * 51}-prod-project` is 64 characters; the limit is 63"
        " (shorten this name (or the project or environment name) by 1 character)"
    ]


# --- references: unique names, routes, entrypoints, cron -> function, webhook events, regions -------

REFERENCES = {
    "duplicate-function-cron-and-webhook-names": case(
        f"""\
        functions:
          items:
            - {{name: hello, entrypoint: functions/hello.ts}}
            - {{name: hello, entrypoint: functions/hello2.ts}}
        cron:
          - {{name: ping, schedule: "@hourly", url: {URL}}}
          - {{name: ping, schedule: "@daily", url: {URL}}}
        webhooks:
          - {{name: signup, events: [auth.user.created], url: {URL}, secret: hook_key}}
          - {{name: signup, events: [auth.user.deleted], url: {URL}, secret: hook_key}}
        """,
        "koyalite.yaml:6:14: error: functions.items.hello.name: `hello` is defined twice (give each item its own name)",
        "koyalite.yaml:9:12: error: cron.ping.name: `ping` is defined twice (give each item its own name)",
        "koyalite.yaml:12:12: error: webhooks.signup.name: `signup` is defined twice (give each item its own name)",
    ),
    "duplicate-route": case(
        """\
        functions:
          items:
            - {name: hello, entrypoint: functions/hello.ts, routes: [/hello, /hi]}
            - {name: greet, entrypoint: functions/greet.ts, routes: [/greet, /hello]}
        """,
        "koyalite.yaml:6:70: error: functions.items.greet.routes.1: route /hello is already served by function `hello`"
        " (give each route to one function)",
    ),
    "entrypoint-leaves-the-project": case(
        """\
        functions:
          items:
            - name: hello
              entrypoint: functions/../../etc/hello.ts
        """,
        "koyalite.yaml:6:19: error: functions.items.hello.entrypoint: entrypoint functions/../../etc/hello.ts leaves the project folder"
        " (keep functions inside the project, without `..`)",
    ),
    "cron-calls-an-unknown-function": case(
        """\
        functions:
          items:
            - {name: cleanup, entrypoint: functions/cleanup.ts}
        cron:
          - {name: nightly, schedule: "@daily", function: cleanpu}
          - {name: weekly, schedule: "@weekly", function: report}
        """,
        "koyalite.yaml:7:51: error: cron.nightly.function: calls function `cleanpu`, which is not defined (did you mean `cleanup`?)",
        "koyalite.yaml:8:51: error: cron.weekly.function: calls function `report`, which is not defined"
        " (add it under functions.items, or call a url)",
    ),
    "webhook-unknown-event": case(
        f"""\
        webhooks:
          - name: signup
            events: [auth.user.created, auth.user.singup, billing.invoice.paid]
            url: {URL}
            secret: hook_key
        """,
        "koyalite.yaml:5:33: error: webhooks.signup.events.1: `auth.user.singup` is not a KoyaLite event"
        " (did you mean `auth.user.updated`?)",
        "koyalite.yaml:5:51: error: webhooks.signup.events.2: `billing.invoice.paid` is not a KoyaLite event"
        " (see docs/events.md for the catalog)",
    ),
    "database-regions-not-in-project": case(
        "database: {primary_region: frankfurt, replicas: {iad: 1, ams: 2}}\n",
        "koyalite.yaml:3:28: error: database.primary_region: region `frankfurt` is not in project.regions (use one of fra, iad)",
        "koyalite.yaml:3:63: error: database.replicas.ams: region `ams` is not in project.regions (use one of fra, iad)",
        regions="[fra, iad]",
    ),
    "database-region-typo": case(
        "database: {primary_region: fra, replicas: {iadd: 1}}\n",
        "koyalite.yaml:3:50: error: database.replicas.iadd: region `iadd` is not in project.regions (did you mean `iad`?)",
        regions="[fra, iad]",
    ),
    "database-default-region": case(
        "database: {primary_region: fra}\n",
        "koyalite.yaml:3:28: error: database.primary_region: region `fra` is not in project.regions (use one of local)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), REFERENCES.values(), ids=REFERENCES.keys())
def test_references(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


FUNCTIONS = """\
functions:
  items:
    - {name: hello, entrypoint: functions/hello/index.ts}
    - {name: gone, entrypoint: functions/gone/index.ts}
"""


def test_entrypoints_must_exist_next_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "functions" / "hello").mkdir(parents=True)
    (tmp_path / "functions" / "hello" / "index.ts").write_text("export default {};\n", encoding="utf-8")
    assert problems(manifest(FUNCTIONS), base_dir=tmp_path) == [
        "koyalite.yaml:6:32: error: functions.items.gone.entrypoint: entrypoint functions/gone/index.ts does not exist"
        " (create it, or run `koyalite init` for an example function)"
    ]


def test_entrypoints_are_not_looked_up_without_a_folder() -> None:
    assert problems(manifest(FUNCTIONS)) == []


def test_an_entrypoint_that_is_a_folder_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "functions" / "hello" / "index.ts").mkdir(parents=True)
    (tmp_path / "functions" / "gone" / "index.ts").mkdir(parents=True)
    assert len(problems(manifest(FUNCTIONS), base_dir=tmp_path)) == 2


# --- features: disabled sections are ignored with a warning; depending on them is an error ------------

DISABLED = f"""\
features: {{edge_functions: false, storage: false, search: false, email: false, studio: false, cron: false, webhooks: false}}
functions:
  items: [{{name: cleanup, entrypoint: functions/cleanup.ts}}]
storage: {{masters: 2}}
search: {{replicas: 1, replication_factor: 3}}
services:
  api: {{replicas: 2}}
  search: {{replicas: 1}}
  email: {{replicas: 1}}
  studio: {{replicas: 1}}
cron: [{{name: nightly, schedule: "@daily", url: {URL}}}]
webhooks: [{{name: signup, events: [auth.user.created], url: {URL}, secret: hook_key}}]
"""

FEATURES = {
    "disabled-sections-warn": case(
        DISABLED,
        *(
            f"koyalite.yaml:{line}: warning: {path}: ignored because features.{flag} is false"
            f" (remove this section, or set `features.{flag}: true`)"
            for line, path, flag in [
                ("4:1", "functions", "edge_functions"),
                ("6:1", "storage", "storage"),  # and its even master count is not checked
                ("7:1", "search", "search"),  # nor its replication factor
                ("10:3", "services.search", "search"),
                ("11:3", "services.email", "email"),
                ("12:3", "services.studio", "studio"),
                ("13:1", "cron", "cron"),
                ("14:1", "webhooks", "webhooks"),
            ]
        ),
    ),
    "empty-disabled-lists-are-fine": case("features: {cron: false, webhooks: false}\ncron: []\nwebhooks: []\n"),
    "cron-calls-a-function-with-edge-functions-off": case(
        f"""\
        features: {{edge_functions: false}}
        cron:
          - {{name: nightly, schedule: "@daily", function: cleanup}}
          - {{name: ping, schedule: "@hourly", url: {URL}}}
        """,
        "koyalite.yaml:5:51: error: cron.nightly.function: calls function `cleanup`, but features.edge_functions is false"
        " (enable edge_functions, or call a url)",
        "koyalite.yaml:5:51: error: cron.nightly.function: calls function `cleanup`, which is not defined"
        " (add it under functions.items, or call a url)",
    ),
    "cron-off-and-edge-functions-off": case(
        """\
        features: {edge_functions: false, cron: false}
        cron:
          - {name: nightly, schedule: "@daily", function: cleanup}
        """,
        "koyalite.yaml:5:51: error: cron.nightly.function: calls function `cleanup`, which is not defined"
        " (add it under functions.items, or call a url)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), FEATURES.values(), ids=FEATURES.keys())
def test_features(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


# --- schedules ------------------------------------------------------------------------------------

SCHEDULE_HINT = "(write five fields like `0 2 * * *`, or @hourly/@daily/@weekly/@monthly/@yearly)"

BAD_SCHEDULES = {
    "four-fields": ("* * * *", "has 4 fields; a schedule has 5 (minute hour day-of-month month day-of-week)"),
    "six-fields": ("0 0 2 * * *", "has 6 fields; a schedule has 5 (minute hour day-of-month month day-of-week)"),
    "one-field": ("daily", "has 1 field; a schedule has 5 (minute hour day-of-month month day-of-week)"),
    "empty": ("", "has 0 fields; a schedule has 5 (minute hour day-of-month month day-of-week)"),
    "minute-60": ("60 * * * *", "minute field `60` is out of range 0-59"),
    "hour-24": ("0 24 * * *", "hour field `24` is out of range 0-23"),
    "day-of-month-0": ("0 2 0 * *", "day-of-month field `0` is out of range 1-31"),
    "month-13": ("0 2 * 13 *", "month field `13` is out of range 1-12"),
    "day-of-week-8": ("0 2 * * 8", "day-of-week field `8` is out of range 0-7"),
    "month-full-name": ("0 2 * JANUARY *", "month field `JANUARY` is out of range 1-12"),
    "day-name-as-month": ("0 2 * MON *", "month field `MON` is out of range 1-12"),
    "out-of-range-in-a-list": ("0 2,25 * * *", "hour field `2,25` is out of range 0-23"),
    "backwards-range": ("0 5-2 * * *", "hour field `5-2` has a range that runs backwards"),
    "backwards-day-names": ("0 2 * * FRI-MON", "day-of-week field `FRI-MON` has a range that runs backwards"),
    "step-0": ("*/0 * * * *", "minute field `*/0` has a step of 0"),
    "question-mark-in-minutes": ("? 2 * * *", "`?` is only allowed in day-of-month and day-of-week, not in minute"),
    "negative": ("-5 2 * * *", "minute field `-5` is not a cron expression"),
    "three-part-range": ("1-2-3 2 * * *", "minute field `1-2-3` is not a cron expression"),
    "bad-macro": ("@every-day", "unknown macro `@every-day`"),
    "upper-case-macro": ("@DAILY", "unknown macro `@DAILY`"),
    "tz-prefix": ("TZ=Europe/Berlin 0 2 * * *", "a time zone inside the schedule is not allowed"),
    "cron-tz-prefix": ("CRON_TZ=UTC 0 2 * * *", "a time zone inside the schedule is not allowed"),
}


@pytest.mark.parametrize(("schedule", "problem"), BAD_SCHEDULES.values(), ids=BAD_SCHEDULES.keys())
def test_bad_schedules(schedule: str, problem: str) -> None:
    text = manifest(f'cron:\n  - name: job\n    schedule: "{schedule}"\n    url: {URL}\n')
    assert problems(text) == [f"koyalite.yaml:5:15: error: cron.job.schedule: schedule `{schedule}` {problem} {SCHEDULE_HINT}"]


GOOD_SCHEDULES = [
    "*/5 * * * *",
    "0 8 * * MON",
    "0 2 * * *",
    "@daily",
    "@hourly",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
    "@midnight",
    "0 2 1,15 * MON-FRI",
    "0-59/15 * * * 7",
    "5/15 * * * *",
    "0 2 ? * *",
    "0 2 * * ?",
    "0 2 * jan-mar sun",
    "0 2 31 12 0",
    "  0 2 * * *  ",
]


@pytest.mark.parametrize("schedule", GOOD_SCHEDULES)
def test_good_schedules(schedule: str) -> None:
    assert cron_problem(schedule) is None
    assert problems(manifest(f'cron:\n  - name: job\n    schedule: "{schedule}"\n    url: {URL}\n')) == []


@pytest.mark.parametrize("timezone", ["Europe/Berln", "CET/Berlin", "../../etc/passwd", "/etc/passwd", "Europe/", "", "UTC+1"])
def test_bad_timezones(timezone: str) -> None:
    text = manifest(f'cron:\n  - name: job\n    schedule: "@daily"\n    timezone: "{timezone}"\n    url: {URL}\n')
    assert problems(text) == [
        f"koyalite.yaml:6:15: error: cron.job.timezone: `{timezone}` is not an IANA time zone (write a name like UTC or Europe/Berlin)"
    ]


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_good_timezones(timezone: str) -> None:
    text = manifest(f'cron:\n  - name: job\n    schedule: "@daily"\n    timezone: "{timezone}"\n    url: {URL}\n')
    assert checked(text).manifest.cron[0].timezone == timezone


def test_bad_schedule_and_timezone_of_one_job_are_both_reported() -> None:
    text = manifest(f'cron:\n  - {{name: job, schedule: "0 2 * *", timezone: Mars/Olympus, url: {URL}}}\n')
    assert problems(text) == [
        f"koyalite.yaml:4:27: error: cron.job.schedule: schedule `0 2 * *` has 4 fields; a schedule has 5"
        f" (minute hour day-of-month month day-of-week) {SCHEDULE_HINT}",
        "koyalite.yaml:4:48: error: cron.job.timezone: `Mars/Olympus` is not an IANA time zone (write a name like UTC or Europe/Berlin)",
    ]


# --- limits --------------------------------------------------------------------------------------

LIMITS = {
    "counts-above-limits": case(
        f"""\
        limits: {{max_functions: 1, max_cron_jobs: 0, max_webhooks: 1}}
        functions:
          items:
            - {{name: a, entrypoint: functions/a.ts}}
            - {{name: b, entrypoint: functions/b.ts}}
        cron:
          - {{name: a, schedule: "@daily", function: a}}
        webhooks:
          - {{name: w, events: [auth.user.created], url: {URL}, secret: hook_key}}
        """,
        "koyalite.yaml:5:3: error: functions.items: 2 items exceed limits.max_functions (1) (remove 1, or raise limits.max_functions)",
        "koyalite.yaml:8:1: error: cron: 1 item exceeds limits.max_cron_jobs (0) (remove 1, or raise limits.max_cron_jobs)",
    ),
    "disabled-sections-do-not-count": case(
        """\
        limits: {max_functions: 0}
        features: {edge_functions: false}
        functions:
          items: [{name: a, entrypoint: functions/a.ts}]
        """,
        "koyalite.yaml:5:1: warning: functions: ignored because features.edge_functions is false"
        " (remove this section, or set `features.edge_functions: true`)",
    ),
    "storage-quota-with-breakdown": case(
        "limits: {storage_quota: 100Gi}\ndatabase: {replicas: {local: 2}}\n",
        "koyalite.yaml:3:25: error: limits.storage_quota: volumes claim 183Gi, above the quota of 100Gi"
        " (LiteFS nodes 3x10Gi, SeaweedFS masters 1x1Gi, SeaweedFS volume servers 1x100Gi, SeaweedFS filers 1x10Gi,"
        " Weaviate nodes 1x32Gi, NATS servers 1x10Gi; shrink them or raise the quota)",
    ),
    "storage-quota-counts-enabled-parts-only": case(
        "limits: {storage_quota: 40Gi}\nfeatures: {storage: false, events: false}\nsearch: {volume: 31Gi}\n",
        "koyalite.yaml:3:25: error: limits.storage_quota: volumes claim 41Gi, above the quota of 40Gi"
        " (LiteFS nodes 1x10Gi, Weaviate nodes 1x31Gi; shrink them or raise the quota)",
    ),
    "storage-quota-exactly-met": case("limits: {storage_quota: 52Gi}\nfeatures: {storage: false}\n"),
    "requests-above-limits": case(
        """\
        services:
          api:
            resources:
              requests: {cpu: "2", memory: 1Gi}
              limits: {cpu: 1500m, memory: 512Mi}
        functions:
          runtime:
            resources: {requests: {cpu: 100m}, limits: {cpu: 50m}}
        database:
          resources: {requests: {memory: 2G}, limits: {memory: 1Gi}}
        storage:
          resources: {requests: {cpu: "0.5"}, limits: {cpu: 499m}}
        search:
          resources: {requests: {memory: 1Gi}, limits: {memory: 1024Mi}}
        """,
        "koyalite.yaml:6:23: error: services.api.resources.requests.cpu: CPU request 2 is above the limit 1500m"
        " (lower the request or raise the limit)",
        "koyalite.yaml:6:36: error: services.api.resources.requests.memory: memory request 1Gi is above the limit 512Mi"
        " (lower the request or raise the limit)",
        "koyalite.yaml:10:33: error: functions.runtime.resources.requests.cpu: CPU request 100m is above the limit 50m"
        " (lower the request or raise the limit)",
        "koyalite.yaml:12:34: error: database.resources.requests.memory: memory request 2G is above the limit 1Gi"
        " (lower the request or raise the limit)",
        "koyalite.yaml:14:31: error: storage.resources.requests.cpu: CPU request 0.5 is above the limit 499m"
        " (lower the request or raise the limit)",
    ),
    "max-db-size-above-volume": case(
        "limits: {max_db_size: 20Gi}\n",
        "koyalite.yaml:3:23: error: limits.max_db_size: 20Gi does not fit the LiteFS volume of 10Gi"
        " (raise database.volume or lower limits.max_db_size)",
    ),
    "volume-below-default-max-db-size": case(
        "database: {volume: 5Gi}\n",
        "koyalite.yaml:1:1: error: limits.max_db_size: 10Gi does not fit the LiteFS volume of 5Gi"
        " (raise database.volume or lower limits.max_db_size)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), LIMITS.values(), ids=LIMITS.keys())
def test_limits(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


# --- dataplane: SeaweedFS raft and placement, Weaviate replication ------------------------------------

REPLICATION_HINT = "add volume servers or racks, or lower the replication"

DATAPLANE = {
    "even-masters": case(
        "storage: {masters: 4}\n",
        "koyalite.yaml:3:20: error: storage.masters: 4 masters cannot hold a Raft majority safely (use an odd number: 3 or 5)",
    ),
    "same-rack-copy-needs-two-servers": case(
        'storage: {replication: "001"}\n',
        "koyalite.yaml:3:24: error: storage.replication: replication 001 needs 2 volume servers on one rack"
        f" (with 1 volume server(s) over 1 region(s) and 1 rack(s), {REPLICATION_HINT})",
    ),
    "other-rack-copy-needs-two-racks": case(
        'storage: {volume_servers: 4, replication: "010"}\n',
        "koyalite.yaml:3:43: error: storage.replication: replication 010 needs 2 racks with volume servers in one region"
        f" (with 4 volume server(s) over 1 region(s) and 1 rack(s), {REPLICATION_HINT})",
    ),
    "other-region-copy-needs-two-regions": case(
        'storage: {volume_servers: 4, replication: "100"}\n',
        "koyalite.yaml:3:43: error: storage.replication: replication 100 needs volume servers in 2 regions, has 1"
        f" (with 4 volume server(s) over 1 region(s) and 1 rack(s), {REPLICATION_HINT})",
    ),
    "other-region-copy-needs-a-server-in-each-region": case(
        'storage: {volume_servers: 1, replication: "100"}\n',
        "koyalite.yaml:3:43: error: storage.replication: replication 100 needs volume servers in 2 regions, has 1"
        f" (with 1 volume server(s) over 2 region(s) and 1 rack(s), {REPLICATION_HINT})",
        regions="[fra, iad]",
    ),
    "rack-and-server-copies-need-two-on-one-rack": case(
        'storage: {volume_servers: 2, racks: 2, replication: "011"}\n',
        "koyalite.yaml:3:53: error: storage.replication: replication 011 needs 2 volume servers on one rack"
        f" (with 2 volume server(s) over 1 region(s) and 2 rack(s), {REPLICATION_HINT})",
    ),
    "satisfiable-placements": case(
        'storage: {volume_servers: 3, racks: 2, replication: "011"}\n',
    ),
    "satisfiable-across-regions": case(
        'storage: {volume_servers: 2, replication: "100"}\n',
        regions="[fra, iad]",
    ),
    "docker-is-one-region": case(
        """\
        storage: {volume_servers: 2, replication: "100"}
        environments:
          dev: {target: docker}
        """,
        "koyalite.yaml:3:43: error: storage.replication: replication 100 needs volume servers in 2 regions, has 1"
        " (a docker environment is one host: one region)"
        f" (with 2 volume server(s) over 1 region(s) and 1 rack(s), {REPLICATION_HINT})",
        env="dev",
        regions="[fra, iad]",
    ),
    "weaviate-replication-factor-above-replicas": case(
        "search: {replicas: 2, replication_factor: 3}\n",
        "koyalite.yaml:3:43: error: search.replication_factor: replication factor 3 is above the 2 Weaviate replica(s)"
        " (raise search.replicas to 3, or lower the factor)",
    ),
    "weaviate-default-replicas": case(
        "search: {replication_factor: 2}\n",
        "koyalite.yaml:3:30: error: search.replication_factor: replication factor 2 is above the 1 Weaviate replica(s)"
        " (raise search.replicas to 2, or lower the factor)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), DATAPLANE.values(), ids=DATAPLANE.keys())
def test_dataplane(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


# --- policy: a protected environment ------------------------------------------------------------------

PROTECTED = """\
features: {edge_functions: false, storage: false, search: false, email: false, studio: false}
services:
  api: {replicas: 2, resources: {limits: {cpu: "1", memory: 1Gi}}}
  auth: {replicas: 2, resources: {limits: {cpu: "1", memory: 1Gi}}}
  project: {replicas: 2, resources: {limits: {cpu: "1", memory: 1Gi}}}
  rls: {replicas: 2, resources: {limits: {cpu: "1", memory: 1Gi}}}
database: {resources: {limits: {cpu: "1", memory: 1Gi}}}
environments:
  prod:
    target: kubernetes
    protect: true
"""
"""The smallest valid protected environment; its overlay starts at line 14."""


def protected(overlay: str = "", *expected: str, protect: bool = True) -> Any:
    body = PROTECTED.replace("protect: true", f"protect: {str(protect).lower()}") + textwrap.indent(textwrap.dedent(overlay), "    ")
    return pytest.param(manifest(body, domain="acme.example.com"), "prod", list(expected))


DIGEST = "sha256:" + "0123456789abcdef" * 4
NOT_PINNED = "image is not pinned in environment prod (use a release tag such as 1.4.0 or a @sha256 digest, not latest)"

POLICY = {
    "baseline-is-valid": protected(),
    "release-latest": protected(
        "project: {release: latest}\n",
        "koyalite.yaml:14:24: error: project.release: release `latest` is not pinned in environment prod (name a release such as 1.4.0)",
    ),
    "image-latest-tag": protected(
        'services: {api: {image: "ghcr.io/acme/api:latest"}}\n', f"koyalite.yaml:14:29: error: services.api.image: {NOT_PINNED}"
    ),
    "tag-latest": protected("services: {auth: {tag: latest}}\n", f"koyalite.yaml:14:28: error: services.auth.tag: {NOT_PINNED}"),
    "database-image-latest": protected(
        'database: {image: "litefs/litefs:latest"}\n', f"koyalite.yaml:14:23: error: database.image: {NOT_PINNED}"
    ),
    "image-without-tag-follows-a-latest-release": protected(
        "project: {release: latest}\nservices: {api: {image: ghcr.io/acme/api}}\n",
        "koyalite.yaml:14:24: error: project.release: release `latest` is not pinned in environment prod (name a release such as 1.4.0)",
        f"koyalite.yaml:15:29: error: services.api.image: {NOT_PINNED}",
    ),
    "image-without-tag-follows-a-pinned-release": protected("services: {api: {image: ghcr.io/acme/api}}\n"),
    "image-with-a-tag": protected('services: {api: {image: "registry.example.com:5000/acme/api:1.4.1"}}\n'),
    "digest-wins-over-tag-latest": protected(f'services: {{api: {{image: "ghcr.io/acme/api@{DIGEST}", tag: latest}}}}\n'),
    "replicas-below-2": protected(
        "services: {api: {replicas: 1}}\n",
        "koyalite.yaml:14:32: error: services.api.replicas: 1 replica in environment prod, which needs at least 2"
        " (set replicas: 2 or more)",
    ),
    "autoscale-min-below-2": protected(
        "services: {rls: {autoscale: {min: 1, max: 4}}}\n",
        "koyalite.yaml:14:39: error: services.rls.autoscale.min: 1 replica in environment prod, which needs at least 2"
        " (set autoscale.min: 2 or more)",
    ),
    "policy-min-replicas": protected(
        "policy: {min_replicas: 3}\nservices: {api: {replicas: 3}, auth: {replicas: 3}, project: {replicas: 3}}\n",
        "koyalite.yaml:8:19: error: services.rls.replicas: 2 replicas in environment prod, which needs at least 3"
        " (set replicas: 3 or more)",
    ),
    "runtime-replicas-and-limits": protected(
        "features: {edge_functions: true}\n",
        "koyalite.yaml:11:3: error: functions.runtime.replicas: 1 replica in environment prod, which needs at least 2"
        " (set replicas: 2 or more)",
        "koyalite.yaml:11:3: error: functions.runtime.resources: no cpu or memory limit in environment prod"
        " (set limits: {cpu: ..., memory: ...})",
    ),
    "missing-limits": protected(
        "services: {api: {resources: null}}\n",
        "koyalite.yaml:5:3: error: services.api.resources: no cpu or memory limit in environment prod (set limits: {cpu: ..., memory: ...})",
    ),
    "missing-memory-limit": protected(
        "services: {api: {resources: {limits: {memory: null}}}}\n",
        "koyalite.yaml:5:22: error: services.api.resources: no memory limit in environment prod (set limits: {memory: ...})",
    ),
    "ingress-without-tls": protected(
        "kubernetes: {ingress: {class: nginx}}\n",
        "koyalite.yaml:14:18: error: environments.prod.kubernetes.ingress: the ingress of environment prod has no TLS"
        " (add `tls: {issuer: letsencrypt}` or `tls: {secret: NAME}`)",
    ),
    "ingress-with-tls": protected("kubernetes: {ingress: {class: nginx, tls: {issuer: letsencrypt}}}\n"),
    "experimental-flag": protected(
        "features: {experimental.graphql: true, enterprise.sso: true}\n",
        "koyalite.yaml:14:38: error: features.experimental.graphql: experimental flag on in protected environment prod"
        " (turn it off here, or set environments.prod.policy.allow_experimental: true)",
    ),
    "experimental-flag-off": protected("features: {experimental.graphql: false}\n"),
    "experimental-flag-allowed": protected("features: {experimental.graphql: true}\npolicy: {allow_experimental: true}\n"),
    "policy-toggles-off": protected(
        "policy: {pinned_images: false, min_replicas: 0, resource_limits: false, ingress_tls: false}\n"
        "project: {release: latest}\n"
        "services: {api: {replicas: 1, resources: null}}\n"
        "kubernetes: {ingress: {class: nginx}}\n"
    ),
    "unprotected-environment-has-no-policy": protected(
        "project: {release: latest}\n"
        "services: {api: {replicas: 1, resources: null}}\n"
        "kubernetes: {ingress: {class: nginx}}\n"
        "features: {experimental.graphql: true}\n",
        protect=False,
    ),
    "policy-toggles-on-without-protect": protected(
        "policy: {pinned_images: true, ingress_tls: true}\nproject: {release: latest}\nkubernetes: {ingress: {class: nginx}}\n",
        "koyalite.yaml:15:24: error: project.release: release `latest` is not pinned in environment prod (name a release such as 1.4.0)",
        "koyalite.yaml:16:18: error: environments.prod.kubernetes.ingress: the ingress of environment prod has no TLS"
        " (add `tls: {issuer: letsencrypt}` or `tls: {secret: NAME}`)",
        protect=False,
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), POLICY.values(), ids=POLICY.keys())
def test_policy(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_policy_applies_only_to_its_environment() -> None:
    text = manifest(PROTECTED + "    services: {api: {replicas: 1}}\n  dev:\n    target: docker\n    services: {api: {replicas: 1}}\n")
    assert problems(text, "dev") == []
    assert problems(text) == []
    assert len(problems(text, "prod")) == 1


# --- secrets ----------------------------------------------------------------------------------------

SECRET_VALUE = "s3cr3t-v4lue-do-not-print"

SECRETS = {
    "literal-secrets-in-env": case(
        f"""\
        services:
          auth:
            env: {{JWT_SECRET: {SECRET_VALUE}, LOG_LEVEL: info}}
        functions:
          items:
            - {{name: charge, entrypoint: functions/charge.ts, env: {{STRIPE_API_KEY: {SECRET_VALUE}}}}}
        """,
        "koyalite.yaml:5:23: error: services.auth.env.JWT_SECRET: `JWT_SECRET` looks like a secret written in plain text"
        " (move it to `secrets: {JWT_SECRET: jwt_secret}` and set the value with `koyalite secrets set jwt_secret --env ENV`)",
        "koyalite.yaml:8:77: error: functions.items.charge.env.STRIPE_API_KEY: `STRIPE_API_KEY` looks like a secret written in plain text"
        " (move it to `secrets: {STRIPE_API_KEY: stripe_api_key}` and set the value with `koyalite secrets set stripe_api_key --env ENV`)",
    ),
    "secret-sounding-names": case(
        """\
        services:
          api:
            env: {DB_PASSWD: a, GITHUB_TOKEN: b, PRIVATE_KEY: c, AWS_CREDENTIALS: d, SIGNING_KEY: e, Password: f}
        """,
        *(
            f"koyalite.yaml:5:{col}: error: services.api.env.{key}: `{key}` looks like a secret written in plain text"
            f" (move it to `secrets: {{{key}: {key.lower()}}}` and set the value with `koyalite secrets set {key.lower()} --env ENV`)"
            for col, key in [
                (22, "DB_PASSWD"),
                (39, "GITHUB_TOKEN"),
                (55, "PRIVATE_KEY"),
                (75, "AWS_CREDENTIALS"),
                (91, "SIGNING_KEY"),
                (104, "Password"),
            ]
        ),
    ),
    "non-string-and-empty-values-are-not-secrets": case(
        """\
        services:
          api:
            env: {JWT_EXPIRY: 3600, SECRET_ROTATION: true, API_KEY: "", TOKEN_TTL: 60}
        """,
    ),
    "env-key-also-in-secrets": case(
        """\
        services:
          email:
            env: {SMTP_PASSWORD: smtp_password, SMTP_HOST: smtp.example.com}
            secrets: {SMTP_PASSWORD: smtp_password}
        """,
        "koyalite.yaml:5:26: error: services.email.env.SMTP_PASSWORD: `SMTP_PASSWORD` is set both in env and in secrets"
        " (keep it in secrets only)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), SECRETS.values(), ids=SECRETS.keys())
def test_secrets(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_literal_secret_values_are_never_echoed() -> None:
    text = SECRETS["literal-secrets-in-env"].values[0]
    assert isinstance(text, str)
    found = problems(text)
    assert len(found) == 2
    assert not any(SECRET_VALUE in line for line in found)


# --- targets and ports ------------------------------------------------------------------------------

TARGETS = {
    "settings-of-the-other-target": case(
        """\
        environments:
          dev:
            target: docker
            kubernetes: {namespace: acme-dev}
          prod:
            target: kubernetes
            docker: {bind: 0.0.0.0}
        """,
        "koyalite.yaml:6:5: error: environments.dev.kubernetes: kubernetes settings on a docker environment"
        " (remove them, or set `target: kubernetes`)",
        "koyalite.yaml:9:5: error: environments.prod.docker: docker settings on a kubernetes environment"
        " (remove them, or set `target: docker`)",
    ),
    "unknown-publish-role-and-duplicate-port": case(
        """\
        environments:
          dev:
            target: docker
            docker:
              publish: {api: 8000, studio: 8000, database: 5432, functions: 9000, s3: 9000}
        """,
        "koyalite.yaml:7:36: error: environments.dev.docker.publish.studio: host port 8000 is already published for `api`"
        " (use another port)",
        "koyalite.yaml:7:52: error: environments.dev.docker.publish.database: `database` cannot be published"
        " (publish one of api, studio, functions, s3)",
        "koyalite.yaml:7:79: error: environments.dev.docker.publish.s3: host port 9000 is already published for `functions`"
        " (use another port)",
        env="dev",
    ),
    "ingress-without-host-or-domain": case(
        """\
        environments:
          prod:
            target: kubernetes
            kubernetes: {ingress: {class: nginx}}
        """,
        "koyalite.yaml:6:18: error: environments.prod.kubernetes.ingress: the ingress has no host (set `host:` here or `project.domain`)",
        env="prod",
    ),
    "ingress-with-host": case(
        """\
        environments:
          prod:
            target: kubernetes
            kubernetes: {ingress: {class: nginx, host: api.acme.example.com}}
        """,
        env="prod",
    ),
    "ingress-with-project-domain": case(
        """\
        environments:
          prod:
            target: kubernetes
            kubernetes: {ingress: {class: nginx}}
        """,
        env="prod",
        domain="acme.example.com",
    ),
    "metrics-port-equal-to-port": case(
        """\
        services:
          api: {metrics_port: 8000}
          auth: {port: 9100, metrics_port: 9100}
          rls: {metrics_port: 9090}
        """,
        "koyalite.yaml:4:23: error: services.api.metrics_port: port 8000 is already the service port"
        " (use another port, or leave metrics_port unset to serve metrics on the service port)",
        "koyalite.yaml:5:36: error: services.auth.metrics_port: port 9100 is already the service port"
        " (use another port, or leave metrics_port unset to serve metrics on the service port)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), TARGETS.values(), ids=TARGETS.keys())
def test_targets(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_ingress_host_is_checked_only_for_the_environment_itself() -> None:
    text = manifest("environments:\n  prod:\n    target: kubernetes\n    kubernetes: {ingress: {class: nginx}}\n")
    assert problems(text) == []


# --- all problems at once ---------------------------------------------------------------------------


def test_every_rule_reports_and_findings_are_sorted_by_position() -> None:
    text = manifest(
        f"""\
        limits: {{max_db_size: 20Gi}}
        storage: {{masters: 2}}
        search: {{replication_factor: 2}}
        services:
          api: {{metrics_port: 8000, env: {{API_TOKEN: abc}}}}
        cron:
          - {{name: nightly, schedule: "0 25 * * *", function: cleanup}}
        webhooks:
          - {{name: signup, events: [auth.user.signup], url: {URL}, secret: hook_key}}
        """,
        regions="[fra]",
    )
    assert [f"{d.position} {d.path}" for d in errors(text)] == [
        "koyalite.yaml:3:23 limits.max_db_size",
        "koyalite.yaml:4:20 storage.masters",
        "koyalite.yaml:5:30 search.replication_factor",
        "koyalite.yaml:7:23 services.api.metrics_port",
        "koyalite.yaml:7:46 services.api.env.API_TOKEN",
        "koyalite.yaml:9:31 cron.nightly.schedule",
        "koyalite.yaml:9:55 cron.nightly.function",
        "koyalite.yaml:11:29 webhooks.signup.events.0",
    ]


# --- events: the bus, its streams and queues ---------------------------------------------------------

EVENTS = {
    "stream-subjects-overlap": case(
        """\
        events:
          streams:
            - {name: storage, subjects: ["storage.>"]}
            - {name: uploads, subjects: ["storage.object.*"]}
        """,
        "koyalite.yaml:6:34: error: events.streams.uploads.subjects.0: subject storage.object.* overlaps storage.> of stream `storage` (NATS keeps each message in one stream: narrow one of the two)",
    ),
    "queue-names-a-missing-stream-and-function": case(
        """\
        functions:
          items:
            - {name: thumbnail, entrypoint: functions/t.ts}
        events:
          streams:
            - {name: storage, subjects: ["storage.>"], max_bytes: 1Gi}
          queues:
            - {name: thumbs, stream: storag, function: thumbnial}
        """,
        "koyalite.yaml:10:30: error: events.queues.thumbs.stream: consumes stream `storag`, which is not defined (did you mean `storage`?)",
        "koyalite.yaml:10:48: error: events.queues.thumbs.function: calls function `thumbnial`, which is not defined (did you mean `thumbnail`?)",
    ),
    "queue-subject-the-stream-does-not-capture": case(
        """\
        functions:
          items:
            - {name: thumbnail, entrypoint: functions/t.ts}
        events:
          streams:
            - {name: storage, subjects: ["storage.>", "deadletter.>"], max_bytes: 1Gi}
          queues:
            - {name: thumbs, stream: storage, subjects: [auth.user.created], function: thumbnail}
        """,
        "koyalite.yaml:10:50: error: events.queues.thumbs.subjects.0: stream `storage` does not capture auth.user.created (it keeps storage.>, deadletter.>) (add the subject to the stream, or consume the stream that keeps it)",
    ),
    "queue-without-a-dead-letter-stream": case(
        """\
        functions:
          items:
            - {name: thumbnail, entrypoint: functions/t.ts}
        events:
          streams:
            - {name: storage, subjects: ["storage.>"], max_bytes: 1Gi}
          queues:
            - {name: thumbs, stream: storage, function: thumbnail}
        """,
        "koyalite.yaml:10:7: warning: events.queues.thumbs: no stream keeps deadletter.thumbs: a message that fails every delivery is dropped (add a stream capturing deadletter.> to keep them)",
    ),
    "too-many-backoff-waits": case(
        """\
        functions:
          items:
            - {name: thumbnail, entrypoint: functions/t.ts}
        events:
          streams:
            - {name: storage, subjects: ["storage.>", "deadletter.>"], max_bytes: 1Gi}
          queues:
            - {name: thumbs, stream: storage, function: thumbnail, max_deliver: 2, backoff: [1s, 2s]}
        """,
        "koyalite.yaml:10:76: error: events.queues.thumbs.backoff: 2 backoff waits for 2 deliveries: one wait comes before each retry (give at most 1, or raise max_deliver)",
    ),
    "queue-with-function-and-webhook": case(
        """\
        functions:
          items:
            - {name: thumbnail, entrypoint: functions/t.ts}
        events:
          queues:
            - {name: thumbs, stream: storage, function: thumbnail, webhook: signup}
        """,
        "koyalite.yaml:8:7: error: events.queues.thumbs: a queue delivers to exactly one of function or webhook (set `function: NAME` or `webhook: NAME`, not both)",
    ),
    "stream-replicas-above-the-cluster": case(
        """\
        events:
          bus: {replicas: 3}
          streams:
            - {name: storage, subjects: ["storage.>"], max_bytes: 1Gi, replicas: 5}
        environments:
          prod: {target: kubernetes}
        """,
        "koyalite.yaml:6:74: error: events.streams.storage.replicas: 5 replicas of stream `storage`, but events.bus.replicas is 3 (raise events.bus.replicas to 5)",
        env="prod",
    ),
    "streams-larger-than-the-volume": case(
        """\
        events:
          bus: {volume: 1Gi}
          streams:
            - {name: a, subjects: ["a.>"], max_bytes: 800Mi}
            - {name: b, subjects: ["b.>"], max_bytes: 800Mi}
        """,
        "koyalite.yaml:4:17: error: events.bus.volume: the streams may keep 1600Mi, more than the 1Gi volume of each server (raise events.bus.volume to 1600Mi, or lower the streams' max_bytes)",
    ),
    "stream-without-max-bytes": case(
        """\
        events:
          streams:
            - {name: a, subjects: ["a.>"]}
        """,
        "koyalite.yaml:5:7: warning: events.streams.a: stream `a` sets no max_bytes: a full 10Gi volume stops every stream (give each file stream a max_bytes that fits in events.bus.volume)",
    ),
    "too-many-streams": case(
        """\
        limits: {max_streams: 1}
        events:
          streams:
            - {name: a, subjects: ["a.>"], max_bytes: 1Mi}
            - {name: b, subjects: ["b.>"], max_bytes: 1Mi}
        """,
        "koyalite.yaml:5:3: error: events.streams: 2 streams exceed limits.max_streams (1) (remove 1, or raise limits.max_streams)",
    ),
    "webhooks-need-the-bus": case(
        """\
        features: {events: false}
        webhooks:
          - {name: signup, events: [auth.user.created], url: "https://h.example.com/x", secret: hook_key}
        """,
        "koyalite.yaml:4:1: error: webhooks: webhooks are delivered through the event bus, but features.events is false (set `features.events: true`, or turn webhooks off)",
    ),
    "reserved-stream-name": case(
        """\
        events:
          streams:
            - {name: koyalite-webhooks, subjects: ["auth.>"], max_bytes: 1Mi}
        """,
        "koyalite.yaml:5:14: error: events.streams.koyalite-webhooks.name: `koyalite-webhooks` is the stream koyalite adds for webhook events no other stream keeps (choose another name)",
    ),
    "bad-subject": case(
        """\
        events:
          streams:
            - {name: a, subjects: ["a.>.b"], max_bytes: 1Mi}
        """,
        "koyalite.yaml:5:28: error: events.streams.a.subjects.0: 'a.>.b' is not a NATS subject (write dot-separated tokens of letters, digits, '-' and '_'; `*` matches one token, a last `>` the rest)",
    ),
    "bad-age": case(
        """\
        events:
          streams:
            - {name: a, subjects: ["a.>"], max_bytes: 1Mi, max_age: 1w}
        """,
        "koyalite.yaml:5:61: error: events.streams.a.max_age: '1w' is not an age (write a whole number with s, m, h or d, like 7d)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), EVENTS.values(), ids=EVENTS.keys())
def test_events(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_every_rule_module_registers_rules() -> None:
    modules = {fn.__module__.rsplit(".", 1)[1] for fn in RULES}
    assert modules == {
        "dataplane",
        "edge",
        "events",
        "features",
        "limits",
        "naming",
        "policy",
        "references",
        "schedules",
        "secrets",
        "targets",
    }


# --- functions on hosted edge platforms -------------------------------------------------------------------------

EDGE_HEAD = """\
        services:
          auth: {secrets: {JWT_SECRET: jwt_secret}}
"""
EDGE = {
    "platform-without-its-settings": case(
        EDGE_HEAD
        + """\
        functions:
          platform: cloudflare-workers
          api_url: https://api.acme.example.com
          items:
            - {name: hello, entrypoint: functions/hello.ts}
            - {name: digest, entrypoint: functions/digest.ts, platform: deno-deploy}
        """,
        "koyalite.yaml:6:13: error: functions.platform: function hello runs on Cloudflare Workers, which needs functions.cloudflare (add functions.cloudflare: {account_id: <32 hex digits from the dashboard>})",
        "koyalite.yaml:10:65: error: functions.items.digest.platform: function digest runs on Deno Deploy, which needs functions.deno_deploy (add functions.deno_deploy: {org: <your organization>})",
    ),
    "memory-and-timeout-over-the-platform": case(
        EDGE_HEAD
        + """\
        functions:
          platform: cloudflare-workers
          api_url: https://api.acme.example.com
          cloudflare: {account_id: 0123456789abcdef0123456789abcdef}
          items:
            - {name: resize, entrypoint: functions/resize.ts, memory: 256Mi, timeout: 20m}
            - {name: hello, entrypoint: functions/hello.ts}
        """,
        "koyalite.yaml:10:63: error: functions.items.resize.memory: function resize asks for 256Mi of memory; Cloudflare Workers gives an isolate at most 128Mi (lower it to 128Mi or less, or run the function self-hosted)",
        "koyalite.yaml:10:79: error: functions.items.resize.timeout: function resize has a timeout of 20m; on Cloudflare Workers a cron trigger runs at most 15 minutes (lower it to 15m or less, or run the function self-hosted)",
    ),
    "cron-in-a-time-zone-and-no-api-url": case(
        EDGE_HEAD
        + """\
        functions:
          deno_deploy: {org: acme}
          items:
            - {name: digest, entrypoint: functions/digest.ts, platform: deno-deploy}
        cron:
          - {name: weekly, schedule: "0 8 * * MON", timezone: Europe/Berlin, function: digest}
        """,
        "koyalite.yaml:5:1: error: functions: functions on a hosted platform call the project's API from outside, and this environment has no public address (set functions.api_url to the address the API is reachable at, or give the environment an ingress)",
        "koyalite.yaml:10:55: error: cron.weekly.timezone: cron job weekly calls digest, which runs on a hosted platform whose scheduler keeps UTC only (set `timezone: UTC` and write the schedule in UTC (mind daylight saving time))",
    ),
    "jwt-without-the-auth-key": case(
        """\
        functions:
          api_url: https://api.acme.example.com
          deno_deploy: {org: acme}
          items:
            - {name: digest, entrypoint: functions/digest.ts, platform: deno-deploy}
        """,
        "koyalite.yaml:3:1: error: functions.runtime.verify_jwt: hosted functions verify JWTs with the key the auth service signs them with, and services.auth has no JWT_SECRET (add `secrets: {JWT_SECRET: jwt_secret}` to services.auth, or set verify_jwt: false)",
    ),
    "queue-to-a-hosted-function": case(
        EDGE_HEAD
        + """\
        functions:
          api_url: https://api.acme.example.com
          deno_deploy: {org: acme}
          items:
            - {name: thumbnail, entrypoint: functions/t.ts, platform: deno-deploy}
        events:
          streams:
            - {name: storage, subjects: ["storage.>"], max_bytes: 1Gi}
          queues:
            - {name: thumbs, stream: storage, function: thumbnail}
        """,
        "koyalite.yaml:14:49: error: events.queues.thumbs.function: queue thumbs delivers to function thumbnail, which runs on"
        " Deno Deploy; the event worker delivers to self-hosted functions only (run thumbnail self-hosted (`platform:"
        " self-hosted` on it), or deliver the queue to a webhook at its public URL)",
    ),
    "settings-no-function-uses": case(
        EDGE_HEAD
        + """\
        functions:
          api_url: https://api.acme.example.com
          cloudflare: {account_id: 0123456789abcdef0123456789abcdef}
          deno_deploy: {org: acme}
          items:
            - {name: digest, entrypoint: functions/digest.ts, platform: deno-deploy}
        """,
        "koyalite.yaml:7:3: warning: functions.cloudflare: functions.cloudflare is set, but no function runs on Cloudflare Workers (set `platform: cloudflare-workers` on the functions that should, or remove functions.cloudflare)",
    ),
}


@pytest.mark.parametrize(("text", "env", "expected"), EDGE.values(), ids=EDGE.keys())
def test_edge(text: str, env: str | None, expected: list[str]) -> None:
    run(text, env, expected)


def test_what_a_platform_cannot_run_is_found_in_the_source_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "report.ts").write_text(
        'import { execFile } from "node:child_process";\n'
        'import { z } from "npm:zod@3";\n'
        "// Deno.readTextFile in a comment is fine\n"
        "export default { async fetch() { const t = await Deno.readTextFile('/etc/hosts'); Deno.env.set('X', t); "
        "return new Response(Deno.env.get('Y')); } };\n"
    )
    text = manifest(
        EDGE_HEAD
        + """\
        functions:
          api_url: https://api.acme.example.com
          platform: cloudflare-workers
          cloudflare: {account_id: 0123456789abcdef0123456789abcdef}
          items:
            - {name: report, entrypoint: functions/report.ts}
        """
    )
    found = problems(text, None, base_dir=tmp_path)
    assert [f.split(": error: ")[1] for f in found] == [
        "functions.items.report.entrypoint: functions/report.ts:1:27: function report imports node:child_process, which"
        " Cloudflare Workers do not provide (run this function self-hosted or on Deno Deploy)",
        "functions.items.report.entrypoint: functions/report.ts:2:20: function report imports a npm: specifier, which only"
        " Deno resolves: the Workers bundle cannot (import a relative module, or run this function self-hosted or on Deno Deploy)",
        "functions.items.report.entrypoint: functions/report.ts:4:50: function report uses Deno.readTextFile, a Deno API"
        " Cloudflare Workers do not have (koyalite gives functions Deno.env only) (use a web API (fetch, crypto.subtle,"
        " Response) instead, or run this function self-hosted or on Deno Deploy)",
        "functions.items.report.entrypoint: functions/report.ts:4:83: function report changes its environment, which"
        " Cloudflare Workers do not have (read configuration only (Deno.env.get); keep state in the database)",
    ]
    assert all(f.startswith("koyalite.yaml:10:34: error:") for f in found)  # the function's entrypoint
    # the same function on Deno Deploy: all of it runs there
    assert (
        problems(
            text.replace("platform: cloudflare-workers", "platform: deno-deploy").replace(
                "cloudflare: {account_id: 0123456789abcdef0123456789abcdef}", "deno_deploy: {org: acme}"
            ),
            None,
            base_dir=tmp_path,
        )
        == []
    )
