"""Event delivery through the bus against NATS's own `nats bench` as the floor, measured side by side in one run.

`make bench-events` writes bench/REPORT-events.md. Needs a Docker daemon and the local images (`make images`): it
starts its own NATS server (koyalite/nats, the configuration the targets write), the event worker (koyalite/events)
and a webhook receiver (tests/receiver/webhook_receiver.ts on koyalite/deno) on a network of its own, and removes
them afterwards.

Cases, for 1 and 16 messages in flight (a queue's `max_in_flight`):
1. delivery throughput: N messages stored in a stream, then drained. *Floor*: `nats bench js consume` of the same
   stream with a durable consumer, that many messages per batch and every acknowledgement confirmed by the server
   (`--doubleack`, as the worker's ackAck). *Ours*: the worker draining a consumer of the same settings, each message
   POSTed to the receiver with its HMAC signature and acknowledged once the receiver answered 2xx; the rate is taken
   from the receiver's own arrival times (first to last);
2. end-to-end latency: messages published one at a time through the worker's `/publish` (what the services do),
   each carrying its send time; latency is its arrival at the receiver minus that (one host, one clock).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.plan.model import EventBus, Image, Resources, Volume  # noqa: E402
from provisioner.targets.nats_config import SERVER_COMMAND, nats_config  # noqa: E402

NET = "koyalite-bench-events"
NATS, WORKER, RECEIVER = f"{NET}-nats", f"{NET}-worker", f"{NET}-receiver"
WORKER_PORT, RECEIVER_PORT = 18_480, 18_481
SIZE = 256
"""Bytes per message, in both."""


def docker(*args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])}… failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def nats(*args: str) -> str:
    return docker("exec", NATS, "koyalite-entrypoint", "nats", "--server", "nats://127.0.0.1:4222", "--user", "koyalite", *args)


def http(url: str, body: bytes | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=30) as answer:
        return json.loads(answer.read())


def wait(what: str, check: Any, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise SystemExit(f"bench-events: {what} did not happen within {timeout_s:.0f}s")


def start(tmp: Path, password: str, secret: str) -> None:
    bus = EventBus("bench", "nats", Image("koyalite/nats", "2.15.2"), 1, Volume("data", "/data", "2Gi"), Resources(), (), ())
    (tmp / "nats.conf").write_text(nats_config(bus, server_name="bench-0", max_file_store=8 * 2**30))  # nats bench reserves 1GiB per stream
    (tmp / "secret").write_text(password)
    for f in tmp.iterdir():
        f.chmod(0o644)
    docker("network", "create", NET)
    docker(
        "run", "-d", "--name", NATS, "--network", NET, "--network-alias", "nats", "--tmpfs", "/data:uid=10001",
        "-e", "NATS_PASSWORD_FILE=/run/secret", "-v", f"{tmp / 'secret'}:/run/secret:ro",
        "-v", f"{tmp / 'nats.conf'}:/etc/nats/nats.conf:ro", "koyalite/nats:2.15.2", *SERVER_COMMAND,
    )  # fmt: skip
    receiver = ROOT / "tests" / "receiver" / "webhook_receiver.ts"
    docker(
        "run", "-d", "--name", RECEIVER, "--network", NET, "--network-alias", "receiver", "-p", f"127.0.0.1:{RECEIVER_PORT}:9999",
        "-e", f"SECRET={secret}", "-v", f"{receiver}:/receiver.ts:ro", "koyalite/deno:2.9.8",
        "deno", "run", "--no-config", "--no-lock", "--allow-net", "--allow-env", "/receiver.ts",
    )  # fmt: skip
    wait(
        "NATS answers",
        lambda: "ok" in docker("exec", NATS, "wget", "-q", "-O-", "http://127.0.0.1:8222/healthz?js-enabled-only=true", check=False),
    )


def worker(tmp: Path, stream: str, consumer: str, in_flight: int) -> None:
    """The event worker draining one webhook consumer into the receiver."""
    docker("rm", "-f", WORKER, check=False)
    config = {
        "bus": {"url": "nats://nats:4222", "user": "koyalite"},
        "publish": ["latency.>"],
        "consumers": [
            {
                "name": consumer,
                "stream": stream,
                "deliver": "webhook",
                "target": "bench",
                "url": "http://receiver:9999/hooks/bench",
                "secret_env": "BENCH_SECRET",
                "timeout_s": 10,
                "max_deliver": 5,
                "backoff_s": [1],
                "max_in_flight": in_flight,
                "dead_letter": "deadletter.bench",
            }
        ],
    }
    (tmp / "events.json").write_text(json.dumps(config))
    (tmp / "events.json").chmod(0o644)
    docker(
        "run", "-d", "--name", WORKER, "--network", NET, "-p", f"127.0.0.1:{WORKER_PORT}:8080",
        "-e", "NATS_PASSWORD_FILE=/run/secret", "-e", "BENCH_SECRET_FILE=/run/bench_secret", "-e", "KOYALITE_EVENTS_FILE=/etc/events.json",
        "-v", f"{tmp / 'secret'}:/run/secret:ro", "-v", f"{tmp / 'bench_secret'}:/run/bench_secret:ro",
        "-v", f"{tmp / 'events.json'}:/etc/events.json:ro", "koyalite/events:1.4.0",
    )  # fmt: skip
    wait("the worker is bound", lambda: http(f"http://127.0.0.1:{WORKER_PORT}/health")["ok"])


def consumer_config(name: str, in_flight: int) -> dict[str, Any]:
    return {
        "durable_name": name,
        "deliver_policy": "all",
        "ack_policy": "explicit",
        "ack_wait": 30_000_000_000,
        "max_deliver": 5,
        "max_ack_pending": in_flight,
        "replay_policy": "instant",
    }


def add_consumer(tmp: Path, stream: str, name: str, in_flight: int) -> None:
    config = tmp / f"{name}.json"
    config.write_text(json.dumps(consumer_config(name, in_flight)))
    config.chmod(0o644)
    docker("cp", str(config), f"{NATS}:/tmp/{name}.json")
    nats("consumer", "add", stream, "--config", f"/tmp/{name}.json")


def fill(stream: str, n: int) -> None:
    """A stream of `n` messages of SIZE bytes, written by `nats bench js pub`."""
    options = ["--msgs", str(n), "--size", f"{SIZE}B", "--create", "--purge", "--stream", stream, "--no-progress"]
    nats("bench", "js", "pub", "sync", f"{stream}.x", *options)


def floor(tmp: Path, n: int, in_flight: int) -> float:
    stream, consumer = f"floor{in_flight}", f"c{in_flight}"
    fill(stream, n)
    add_consumer(tmp, stream, consumer, in_flight)
    options = ["--msgs", str(n), "--batch", str(in_flight), "--doubleack", "--stream", stream, "--consumer", consumer, "--no-progress"]
    out = nats("bench", "js", "consume", *options)
    nats("stream", "rm", stream, "--force")
    found = re.search(r"stats: ([0-9,]+) msgs/sec", out)
    if not found:
        raise SystemExit(f"bench-events: no rate in nats bench's output:\n{out}")
    return float(found.group(1).replace(",", ""))


def ours(tmp: Path, n: int, in_flight: int) -> float:
    stream, consumer = f"ours{in_flight}", f"webhook-{in_flight}"
    fill(stream, n)
    add_consumer(tmp, stream, consumer, in_flight)
    before = len(http(f"http://127.0.0.1:{RECEIVER_PORT}/received"))
    worker(tmp, stream, consumer, in_flight)
    got = wait("every delivery", lambda: (r := http(f"http://127.0.0.1:{RECEIVER_PORT}/received")[before:]) and len(r) >= n and r, 600)
    assert all(r["status"] == 200 and r["signed"] for r in got), "a delivery failed or was not signed"
    nats("stream", "rm", stream, "--force")
    return float((n - 1) / (got[n - 1]["at"] - got[0]["at"]))


def latency(tmp: Path, count: int) -> list[float]:
    """Publish through the worker, one at a time, 20 a second; arrival minus send time, in ms."""
    nats("stream", "add", "latency", "--subjects", "latency.>", "--storage", "file", "--defaults")
    add_consumer(tmp, "latency", "webhook-latency", 1)
    worker(tmp, "latency", "webhook-latency", 1)
    before = len(http(f"http://127.0.0.1:{RECEIVER_PORT}/received"))
    for i in range(count):
        body = json.dumps({"i": i, "sent": time.time(), "pad": "x" * SIZE}).encode()
        http(f"http://127.0.0.1:{WORKER_PORT}/publish/latency.bench", body)
        time.sleep(0.05)
    got = wait(
        "every latency delivery", lambda: (r := http(f"http://127.0.0.1:{RECEIVER_PORT}/received")[before:]) and len(r) >= count and r, 120
    )
    return sorted((r["at"] - json.loads(r["body"])["sent"]) * 1000 for r in got[:count])


def stop() -> None:
    for name in (WORKER, RECEIVER, NATS):
        docker("rm", "-f", name, check=False)
    docker("network", "rm", NET, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each case; medians are reported")
    args = parser.parse_args()
    stop()
    started, load = time.monotonic(), os.getloadavg()[0]
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="koyalite-bench-events.") as folder:
        tmp = Path(folder)
        tmp.chmod(0o755)
        secret = secrets.token_urlsafe(24)
        (tmp / "bench_secret").write_text(secret)
        try:
            start(tmp, secrets.token_urlsafe(24), secret)
            (tmp / "bench_secret").chmod(0o644)
            for in_flight in (1, 16):
                bases, mines = [], []
                for _ in range(args.runs):  # alternating, medians
                    bases.append(floor(tmp, args.messages, in_flight))
                    mines.append(ours(tmp, args.messages, in_flight))
                base, mine = statistics.median(bases), statistics.median(mines)
                rows.append(f"| {in_flight} | {base:,.0f} | {mine:,.0f} | {base / mine:.1f}× |")
                print(f"bench-events: {in_flight} in flight: floor {base:,.0f}/s, ours {mine:,.0f}/s", file=sys.stderr)
            lat = latency(tmp, 200)
        finally:
            stop()
    p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    report = "\n".join(
        [
            "# Event delivery",
            "",
            f"Written by bench/events.py (`make bench-events`) in {(time.monotonic() - started) / 60:.1f} minutes, {os.cpu_count()} CPUs, load average {load:.1f} at the start, "
            f"{args.messages:,} messages of {SIZE} bytes per case, medians of {args.runs} alternating runs. NATS 2.15.2 and the nats CLI 0.5.0 (built here), the event",
            "worker (koyalite/events), a webhook receiver (tests/receiver/webhook_receiver.ts), one host.",
            "",
            "## Delivery throughput",
            "",
            "*Floor*: `nats bench js consume` — a durable consumer, that many messages per batch, every acknowledgement confirmed",
            "(`--doubleack`). *Ours*: the worker draining a consumer of the same settings, each message POSTed to the receiver",
            "with its HMAC signature and acknowledged (confirmed) once it answered 2xx; rate from the receiver's arrival times.",
            "",
            "| in flight | floor msgs/s | ours deliveries/s | floor / ours |",
            "|---|---|---|---|",
            *rows,
            "",
            "## End-to-end latency",
            "",
            f"{len(lat)} events published one at a time through the worker's `/publish` (stored by the bus, acknowledged,",
            "handed to the consumer, POSTed): arrival at the receiver minus send time.",
            "",
            f"| p50 | p99 | max |\n|---|---|---|\n| {p50:.1f} ms | {p99:.1f} ms | {lat[-1]:.1f} ms |",
            "",
            "## What bounds it",
            "",
            "Each delivery is an HTTP request to the receiver and waits for its answer before the acknowledgement, which",
            "waits for the server's confirmation: with one message in flight that is two round trips, one of them HTTP,",
            "against the floor's one NATS round trip. More in flight (`max_in_flight`) overlaps them, at the price of order.",
            "",
        ]
    )
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    sys.stdout.write(report)


if __name__ == "__main__":
    main()
