"""Pulumi mocks for the Docker components: one resource per translated object, volumes kept and protected,
secrets uploaded as secrets, start order as dependencies."""

from __future__ import annotations

from collections import Counter

import pytest
from pulumi.runtime import rpc

from components.docker.objects import volume_options
from provisioner.deploy.guard import STATEFUL_TYPES
from tests.test_components import CANARY, Run, build_plan, canary, leaks, pulumi_runtime, run_stack, secret_keys

NETWORK, VOLUME, CONTAINER, IMAGE, HEALTH = (
    f"pulumi-python:dynamic/docker:{kind}" for kind in ("Network", "Volume", "Container", "Image", "Health")
)

_ = pulumi_runtime  # the fixture that resets Pulumi's process-wide mocks after this module


@pytest.fixture(scope="module")
def dev() -> Run:
    keys = secret_keys(build_plan("dev"))
    return run_stack("dev", secrets={k: canary(k) for k in keys})


def _by_name(run: Run, type_: str) -> dict[str, object]:
    return {r.name: r for r in run.registrations if r.type == type_}


def test_components_and_resources(dev: Run) -> None:
    types = Counter(r.type for r in dev.registrations)
    assert types["koyalite:index:Platform"] == 1
    assert types["koyalite:docker:Network"] == 1
    assert types[NETWORK] == 1
    assert types["koyalite:docker:Service"] == 7
    assert types[CONTAINER] == 18
    assert types[VOLUME] == 7
    assert types[IMAGE] == 14  # one reference per image, shared by its containers
    assert types["pulumi-python:dynamic/nats:Stream"] == 3
    assert types["pulumi-python:dynamic/nats:Consumer"] == 3
    assert not [t for t in types if t.startswith("docker:")], "no pulumi-docker resource: its plugin cannot be built here"


def test_volumes_are_retained_everywhere_and_protected_only_when_asked(dev: Run) -> None:
    volumes = [r for r in dev.registrations if r.type == VOLUME]
    assert {r.retain_on_delete for r in volumes} == {True}
    assert {r.protect for r in volumes} == {False}  # dev has no `protect`
    assert volume_options(True, None).protect is True  # type: ignore[arg-type]


def test_containers_wait_for_health_and_mount_volumes_by_name(dev: Run) -> None:
    containers = {r.name: r for r in dev.registrations if r.type == CONTAINER}
    awaited = {n.removeprefix("container-") for n, r in containers.items() if r.inputs["wait"]}
    # what other containers depend on waits in its own create; the rest are awaited together by one Health
    assert awaited == {
        f"acme-dev-{n}"
        for n in ("litefs-fra-0", "weaviate-0", "seaweedfs-master-0", "seaweedfs-volume-0", "seaweedfs-filer-0", "seaweedfs-s3", "nats-0")
    }
    (health,) = [r for r in dev.registrations if r.type == HEALTH]
    assert health.name == "health-acme-dev" and health.inputs["timeout_s"] == 180
    # its inputs are the containers' ids (unknown under mocks): it depends on exactly the containers not awaited
    urns = {r.urn: r.name.removeprefix("container-") for r in containers.values()}
    assert sorted(urns[u] for u in health.dependencies if u in urns) == sorted(set(urns.values()) - awaited)
    assert len(set(urns.values()) - awaited) == 11
    litefs = containers["container-acme-dev-litefs-fra-0"].inputs
    assert litefs["volumes"] == [{"volume": "acme-dev-litefs-fra-0", "target": "/var/lib/litefs"}]
    assert (litefs["devices"], litefs["cap_add"], litefs["aliases"]) == (
        ["/dev/fuse"],
        ["SYS_ADMIN"],
        ["acme-dev-litefs", "acme-dev-litefs-fra"],
    )
    assert litefs["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/litefs/health"]
    assert litefs["host"] == "unix:///var/run/docker.sock" and litefs["network"] == "acme-dev"


def test_start_order_is_expressed_as_dependencies(dev: Run) -> None:
    urns = {r.name: r.urn for r in dev.registrations}
    containers = {r.name: r for r in dev.registrations if r.type == CONTAINER}
    replica = containers["container-acme-dev-litefs-fra-1"]
    assert urns["container-acme-dev-litefs-fra-0"] in replica.dependencies
    api = containers["container-acme-dev-api-1"]
    assert {urns["container-acme-dev-litefs-fra-0"], urns["container-acme-dev-seaweedfs-s3"]} <= set(api.dependencies)
    assert urns["container-acme-dev-seaweedfs-master-0"] in containers["container-acme-dev-seaweedfs-volume-0"].dependencies


def test_secrets_are_uploaded_as_secrets(dev: Run) -> None:
    for r in dev.registrations:
        assert not leaks(r.inputs, CANARY), r.name
    api = next(r for r in dev.registrations if r.name == "container-acme-dev-api-1")
    uploads = api.inputs["uploads"]
    assert rpc.is_rpc_secret(uploads)  # one secret element makes the whole list secret in state: config files too
    uploads = rpc.unwrap_rpc_secret(uploads)
    secret_files = [u for u in uploads if str(u.get("file", "")).startswith("/run/secrets/") or rpc.is_rpc_secret(u.get("content"))]
    assert sorted(u["file"] for u in secret_files) == ["/run/secrets/jwt_secret", "/run/secrets/service_role_key"]
    for upload in secret_files:  # inside the secret list the values are plain: the list as a whole is the secret
        assert upload["content"] == canary(upload["file"].rsplit("/", 1)[1])
        assert (upload["owner"], upload["permissions"]) == ("10001", "0400")


def test_only_gateways_are_published(dev: Run) -> None:
    published = {r.name: r.inputs["ports"] for r in dev.registrations if r.type == CONTAINER and r.inputs.get("ports")}
    assert sorted(published) == ["container-acme-dev-api-1", "container-acme-dev-functions-1", "container-acme-dev-studio-1"]


def test_exports_say_where_to_reach_the_gateways(dev: Run) -> None:
    outputs = next(o for urn, o in dev.outputs.items() if "Platform" in urn)
    assert outputs["apiUrl"] == "http://127.0.0.1:8000"
    assert outputs["studioUrl"] == "http://127.0.0.1:3000"


def test_streams_are_kept_and_guarded_and_the_worker_waits_for_its_consumers(dev: Run) -> None:
    streams = {r.name: r for r in dev.registrations if r.type == "pulumi-python:dynamic/nats:Stream"}
    consumers = {r.name: r for r in dev.registrations if r.type == "pulumi-python:dynamic/nats:Consumer"}
    assert set(streams) == {f"stream-acme-dev-nats-0-{s}" for s in ("storage", "deadletter", "koyalite-webhooks")}
    assert {r.retain_on_delete for r in streams.values()} == {True}  # destroy keeps the messages, as it keeps volumes
    assert {r.retain_on_delete for r in consumers.values()} == {True}  # and what was delivered: no second delivery
    assert "pulumi-python:dynamic/nats:Stream" in STATEFUL_TYPES
    assert set(consumers) == {
        "consumer-acme-dev-nats-0-storage-queue-thumbnails",
        "consumer-acme-dev-nats-0-storage-webhook-uploads",
        "consumer-acme-dev-nats-0-koyalite-webhooks-webhook-signup",
    }
    thumbnails = consumers["consumer-acme-dev-nats-0-storage-queue-thumbnails"]
    assert thumbnails.inputs["config"] == {
        "durable_name": "queue-thumbnails",
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": 65_000_000_000,  # the function's 60s timeout and 5s to answer: never redelivered while it runs
        "max_deliver": 5,
        "max_ack_pending": 1,
        "replay_policy": "instant",
        "filter_subject": "storage.object.created",
    }
    assert streams["stream-acme-dev-nats-0-storage"].urn in thumbnails.dependencies
    worker = next(r for r in dev.registrations if r.type == CONTAINER and r.name == "container-acme-dev-events-1")
    assert {c.urn for c in consumers.values()} <= set(worker.dependencies)
