"""The event bus on the real thing: `koyalite up --env dev` (the real engine, the real daemon) with NATS JetStream and
the event worker, a webhook receiver on the stack's network that fails as told, and events published the way the
services publish them (the auth stand-in's signup).

What is checked: a webhook is retried on the declared schedule (exponential, from 1s) with a valid signature each
time and delivered once it answers 2xx; one that never answers is dead-lettered into the stream that keeps
deadletter.>; a worker killed mid-delivery gets the message again after ack_wait; a restarted bus still holds every
stream's messages; and over a batch, events published = delivered + dead-lettered, none lost, none delivered twice
after a 2xx. Needs KOYALITE_E2E=1, the toolchain, the images and a Docker daemon (like tests/test_engine.py).
"""

from __future__ import annotations

import itertools
import json
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deployed import ROOT, Project, docker, engine_missing, secret_keys, skip_or_fail, stream_state
from tests.support import images_build

PREFIX = "acme-dev"
RECEIVER = f"{PREFIX}-receiver"
RECEIVER_PORT = 19_999
"""Where the test reads the receiver (published on loopback only)."""
SIGNUP_SECRET = "webhook_signup_key"


def _receiver(path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{RECEIVER_PORT}{path}", data=data), timeout=10) as answer:
        return json.loads(answer.read())


def _signup(email: str) -> dict[str, Any]:
    """A user signs up: the auth service publishes auth.user.created through the event worker."""
    out = docker(
        "exec", f"{PREFIX}-api-1", "wget", "-q", "-O-", "--header", "content-type: application/json",
        "--post-data", json.dumps({"email": email}), f"http://{PREFIX}-auth:9999/signup",
    ).stdout  # fmt: skip
    answer: dict[str, Any] = json.loads(out)
    assert answer["event"]["published"] is True and answer["event"]["stream"] == "koyalite-webhooks", answer
    return answer


def _stats() -> dict[str, Any]:
    out = docker("exec", f"{PREFIX}-api-1", "wget", "-q", "-O-", f"http://{PREFIX}-events:8080/stats").stdout
    found: dict[str, Any] = json.loads(out)
    return found


def _deliveries(delivery: str) -> list[dict[str, Any]]:
    return [r for r in _receiver("/received") if r["delivery"] == delivery]


def _wait(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f}s")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    skip_or_fail(engine_missing(), "event bus")
    images_build().build()  # cached by inputs: seconds when the images are there
    leftovers = docker("ps", "-aq", "--filter", "label=koyalite.dev/project=acme", "--filter", "label=koyalite.dev/environment=dev").stdout
    for leftover in leftovers.split():
        docker("rm", "-f", leftover, check=False)
    docker("rm", "-f", RECEIVER, check=False)
    # a bus of its own: a stream an earlier run left (volumes outlive destroy) would hold that run's messages
    docker("volume", "rm", f"{PREFIX}-nats-0", check=False)
    stack_config = ROOT / "stacks" / "Pulumi.dev.yaml"
    before = stack_config.read_text() if stack_config.exists() else None
    stack_config.unlink(missing_ok=True)
    project = Project.copy(tmp_path_factory.mktemp("events"))
    project.edit(
        "        url: http://localhost:9999/hooks/signup\n",
        f"        url: http://{RECEIVER}:9999/hooks/signup\n      - name: uploads\n        url: http://{RECEIVER}:9999/hooks/uploads\n",
    )
    receiver_dir = project.dir / "receiver"
    receiver_dir.mkdir()
    shutil.copy(ROOT / "tests" / "receiver" / "webhook_receiver.ts", receiver_dir / "receiver.ts")
    receiver_dir.chmod(0o755)
    (receiver_dir / "receiver.ts").chmod(0o644)
    try:
        signing = secrets.token_urlsafe(24)
        project.set_secrets("dev", {SIGNUP_SECRET: signing, "webhook_uploads_key": signing, "jwt_secret": secrets.token_urlsafe(24)})
        rest = sorted(secret_keys("dev") - set(project.secrets))
        assert f"generated {len(rest)} secret(s) for dev" in project.ok("secrets", "generate", "--env", "dev")
        project.ok("up", "--env", "dev", "--yes")
        docker(
            "run", "-d", "--name", RECEIVER, "--network", PREFIX, "--user", "10001:10001", "--read-only", "--cap-drop", "ALL",
            "-p", f"127.0.0.1:{RECEIVER_PORT}:9999", "-e", f"SECRET={signing}", "-v", f"{receiver_dir}:/receiver:ro",
            "koyalite/deno:2.9.8", "deno", "run", "--no-config", "--no-lock", "--allow-net", "--allow-env", "/receiver/receiver.ts",
        )  # fmt: skip
        _wait("the receiver answers", lambda: _try(lambda: _receiver("/received") == []), 30)
        yield project
    finally:
        docker("rm", "-f", RECEIVER, check=False)
        project.koyalite("destroy", "--env", "dev", "--yes")
        if before is None:
            stack_config.unlink(missing_ok=True)
        else:
            stack_config.write_text(before)


def _try(check: Any) -> Any:
    try:
        return check()
    except (OSError, ValueError):
        return False


def test_a_failing_receiver_gets_the_declared_retries_then_the_delivery(project: Project) -> None:
    _receiver("/control", {"fail": 3, "fail_every": 0, "delay_s": 0})
    answer = _signup("retry@example.com")
    delivery = f"koyalite-webhooks-{answer['event']['seq']}"
    tries = _wait(
        "the 4th attempt succeeds", lambda: [r for r in _deliveries(delivery) if r["status"] == 200] and _deliveries(delivery), 30
    )
    assert [(t["attempt"], t["status"], t["signed"], t["event"]) for t in tries] == [
        (1, 500, True, "auth.user.created"),
        (2, 500, True, "auth.user.created"),
        (3, 500, True, "auth.user.created"),
        (4, 200, True, "auth.user.created"),
    ]
    assert json.loads(tries[0]["body"])["user"] == answer["user"]
    # retry.backoff exponential from initial_interval 1s: 1s, 2s, 4s between the attempts
    gaps = [round(b["at"] - a["at"], 2) for a, b in itertools.pairwise(tries)]
    print(f"timing: retry gaps {gaps} (declared 1s, 2s, 4s)")
    for gap, declared in zip(gaps, (1, 2, 4), strict=True):
        assert declared * 0.9 <= gap <= declared + 1.5, gaps
    time.sleep(2)
    assert len(_deliveries(delivery)) == 4  # acknowledged: never delivered again


def test_a_receiver_that_never_answers_2xx_is_dead_lettered(project: Project) -> None:
    before = stream_state(PREFIX, "deadletter")["messages"]
    _receiver("/control", {"fail": 1000, "fail_every": 0, "delay_s": 0})
    try:
        answer = _signup("dead@example.com")
        delivery = f"koyalite-webhooks-{answer['event']['seq']}"
        # max_attempts 5: waits of 1, 2, 4 and 8 seconds, then the dead letter
        _wait("the dead letter", lambda: stream_state(PREFIX, "deadletter")["messages"] == before + 1, 40)
        assert [t["attempt"] for t in _deliveries(delivery)] == [1, 2, 3, 4, 5]
    finally:
        _receiver("/control", {"fail": 0, "fail_every": 0, "delay_s": 0})
    assert _stats()["webhook-signup"]["dead_lettered"] >= 1


def test_a_worker_killed_mid_delivery_gets_the_message_again(project: Project) -> None:
    _receiver("/control", {"fail": 0, "fail_every": 0, "delay_s": 30})
    answer = _signup("killed@example.com")
    delivery = f"koyalite-webhooks-{answer['event']['seq']}"
    _wait("the first attempt arrives", lambda: _deliveries(delivery), 15)
    docker("kill", f"{PREFIX}-events-1")
    _receiver("/control", {"fail": 0, "fail_every": 0, "delay_s": 0})
    docker("start", f"{PREFIX}-events-1")
    # nothing was acknowledged: the bus hands the message out again once ack_wait (timeout 10s + 5s) has passed
    tries = _wait("a second attempt", lambda: [r for r in _deliveries(delivery) if r["answered"] and r["status"] == 200], 60)
    attempts = [t["attempt"] for t in _deliveries(delivery)]
    assert attempts[0] == 1 and len(tries) == 1 and attempts[-1] >= 2, attempts


def test_the_streams_keep_their_messages_across_a_bus_restart(project: Project) -> None:
    streams = ("koyalite-webhooks", "deadletter", "storage")
    before = {s: stream_state(PREFIX, s) for s in streams}
    assert before["koyalite-webhooks"]["messages"] >= 3
    docker("restart", f"{PREFIX}-nats-0")
    _wait(
        "the bus is healthy",
        lambda: docker("inspect", "-f", "{{.State.Health.Status}}", f"{PREFIX}-nats-0").stdout.strip() == "healthy",
        60,
    )
    after = {s: stream_state(PREFIX, s) for s in streams}
    for s in streams:
        assert (after[s]["messages"], after[s]["first_seq"], after[s]["last_seq"]) == (
            before[s]["messages"],
            before[s]["first_seq"],
            before[s]["last_seq"],
        ), s
    # the worker reconnects on its own and delivers again
    _wait("the worker is bound again", lambda: _try(lambda: all(c["bound"] for c in _stats().values())), 60)
    answer = _signup("after-restart@example.com")
    _wait(
        "a delivery after the restart",
        lambda: [r for r in _deliveries(f"koyalite-webhooks-{answer['event']['seq']}") if r["status"] == 200],
        20,
    )


def test_every_published_event_is_delivered_or_dead_lettered_none_lost(project: Project) -> None:
    _receiver("/control", {"fail": 0, "fail_every": 3, "delay_s": 0})  # every 3rd request fails: retries interleave
    dead_before = _stats()["webhook-signup"]["dead_lettered"]
    published = [f"koyalite-webhooks-{_signup(f'batch-{i}@example.com')['event']['seq']}" for i in range(30)]

    def settled() -> dict[str, list[dict[str, Any]]] | None:
        seen: dict[str, list[dict[str, Any]]] = {d: [] for d in published}
        for r in _receiver("/received"):
            if r["delivery"] in seen:
                seen[r["delivery"]].append(r)
        return seen if all(any(t["status"] == 200 for t in tries) for tries in seen.values()) else None

    seen = _wait("every event delivered", settled, 90)
    dead = _stats()["webhook-signup"]["dead_lettered"] - dead_before
    delivered = sum(1 for tries in seen.values() if any(t["status"] == 200 for t in tries))
    print(f"timing: {len(published)} published, {delivered} delivered, {dead} dead-lettered")
    assert len(published) == delivered + dead and dead == 0
    assert all(sum(t["status"] == 200 for t in tries) == 1 for tries in seen.values())  # none delivered twice after a 2xx
    assert all(t["signed"] for tries in seen.values() for t in tries)


def test_an_uploaded_object_is_a_storage_event_for_its_queue_and_its_webhook(project: Project) -> None:
    """SeaweedFS's filer reports the upload to the worker; the thumbnails queue calls its function, uploads is posted."""
    _receiver("/control", {"fail": 0, "fail_every": 0, "delay_s": 0})
    before = _stats()["queue-thumbnails"]["succeeded"]
    token = secrets.token_hex(6)
    s3 = f"http://{PREFIX}-seaweedfs-s3:8333"
    docker(
        "run", "--rm", "--network", PREFIX, "--user", "10001:10001", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "-e", f"KOYALITE_S3_URL={s3}", "koyalite/probe:1.4.0", "koyalite-probe", "--skip", "db,weaviate,functions,events", "--token", token,
    )  # fmt: skip
    key = f"probe/{token}.json"

    def posted() -> list[dict[str, Any]]:
        return [r for r in _receiver("/received") if r["hook"] == "uploads" and key in r["body"] and r["status"] == 200]

    (upload,) = _wait("the uploads webhook gets the new object", posted, 60)
    assert upload["event"] == "storage.object.created" and upload["signed"]
    assert json.loads(upload["body"]) | {"size": 0} == {"type": "storage.object.created", "bucket": "koyalite-probe", "key": key, "size": 0}
    # and the thumbnail function got it through its queue (it answers 202 for a bucket and a key)
    _wait("the thumbnails queue delivers", lambda: _stats()["queue-thumbnails"]["succeeded"] > before, 60)


STREAM_URN = "urn:pulumi:dev::koyalite::koyalite:index:Platform$koyalite:docker:EventBus$pulumi-python:dynamic/nats:Stream::"


def test_the_guard_refuses_recreating_or_dropping_a_stream(project: Project) -> None:
    """A stream is data: a change NATS makes only by recreating it, or its removal, stops `up` before anything."""
    kept = stream_state(PREFIX, "deadletter")
    urn = f"{STREAM_URN}stream-{PREFIX}-nats-0-deadletter"
    declared = "      max_age: 30d\n      max_bytes: 512Mi\n"
    project.edit(declared, declared + "      storage: memory\n")
    try:
        refused = project.koyalite("up", "--env", "dev", "--yes")
        assert refused.returncode == 3, refused.stderr[-3000:]
        refusal = next(line for line in refused.stderr.splitlines() if line.startswith("  refused: ") and urn in line)
        print(f"guard: {refusal.strip()}")
        assert refusal.split()[1] in ("replace", "delete-replaced", "create-replacement"), refusal
        assert f"--allow-replace {urn}" in refused.stderr
    finally:
        project.edit(declared + "      storage: memory\n", declared)
    stream = '    - name: deadletter\n      subjects: ["deadletter.>"]\n' + declared
    project.edit(stream, "")
    try:
        refused = project.koyalite("up", "--env", "dev", "--yes")
        assert refused.returncode == 3, refused.stderr[-3000:]
        assert f"  refused: delete {urn}: it is no longer in the plan (a removed or renamed part)" in refused.stderr
    finally:
        project.edit("  queues:\n", stream + "  queues:\n")
    assert stream_state(PREFIX, "deadletter") == kept  # nothing changed


@pytest.mark.parametrize("password", ["4kQ-x_y", '"q\\uote', "-12", "true", "1e5", "a b#c"])
def test_the_bus_takes_any_password(password: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """NATS parses a variable's value as configuration: the image's wrapper hands the password over quoted, so one
    that reads as a number, a boolean or a comment still starts the server, and is the only one accepted."""
    skip_or_fail(engine_missing(), "event bus")
    from provisioner.plan.model import EventBus, Image, Resources, Volume
    from provisioner.targets.nats_config import SERVER_COMMAND, nats_config

    folder = tmp_path_factory.mktemp("nats-password")
    folder.chmod(0o755)
    bus = EventBus("t", "nats", Image("koyalite/nats", "2.15.2"), 1, Volume("data", "/data", "1Gi"), Resources(), (), ())
    (folder / "nats.conf").write_text(nats_config(bus, server_name="t-0", max_file_store=2**30))
    (folder / "nats.conf").chmod(0o644)
    name = f"koyalite-test-nats-{secrets.token_hex(3)}"
    docker(
        "run", "-d", "--name", name, "--tmpfs", "/data:uid=10001", "-e", f"NATS_PASSWORD={password}",
        "-v", f"{folder / 'nats.conf'}:/etc/nats/nats.conf:ro", "koyalite/nats:2.15.2", *SERVER_COMMAND,
    )  # fmt: skip
    try:

        def streams(given: str) -> subprocess.CompletedProcess[str]:
            return docker(
                "exec",
                "-e",
                f"NATS_PASSWORD={given}",
                name,
                "nats",
                "--server",
                "nats://127.0.0.1:4222",
                "--user",
                "koyalite",
                "stream",
                "ls",
                check=False,
            )

        answered = _wait("the server answers", lambda: streams(password).returncode == 0 or None, 20)
        assert answered
        assert streams(password + "x").returncode != 0
    finally:
        docker("rm", "-f", name, check=False)
