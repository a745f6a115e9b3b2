"""The event bus: names unique, references resolve, every subject something consumes is kept by exactly one stream,
replicas within the cluster, streams within the bus's volume and the project's limits."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.models.events import WEBHOOK_STREAM, Stream, captures, dead_letter_subject, subjects_overlap
from provisioner.manifest.models.types import format_bytes, parse_bytes, parse_duration
from provisioner.manifest.rules import Context, Loc, rule
from provisioner.manifest.rules.references import did_you_mean


def _capturing(streams: list[Stream], subject: str) -> list[Stream]:
    return [s for s in streams if any(captures(pattern, subject) for pattern in s.subjects)]


@rule
def event_names(ctx: Context) -> Iterator[Diagnostic]:
    events = ctx.manifest.events
    for section, names in (("streams", [s.name for s in events.streams]), ("queues", [q.name for q in events.queues])):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                yield ctx.error(("events", section, i, "name"), f"`{name}` is defined twice", "give each item its own name")
            seen.add(name)


@rule
def stream_subjects(ctx: Context) -> Iterator[Diagnostic]:
    """NATS refuses a stream whose subjects overlap another's: one message, one stream."""
    if not ctx.manifest.features.events:
        return
    streams = ctx.manifest.events.streams
    for i, stream in enumerate(streams):
        for j, subject in enumerate(stream.subjects):
            for other in streams[:i]:
                clash = next((s for s in other.subjects if subjects_overlap(s, subject)), None)
                if clash is not None:
                    yield ctx.error(
                        ("events", "streams", i, "subjects", j),
                        f"subject {subject} overlaps {clash} of stream `{other.name}`",
                        "NATS keeps each message in one stream: narrow one of the two",
                    )


@rule
def queue_references(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if not m.features.events:
        return
    streams = {s.name: s for s in m.events.streams}
    functions = [f.name for f in m.functions.items]
    webhooks = [w.name for w in m.webhooks]
    for i, queue in enumerate(m.events.queues):
        loc: Loc = ("events", "queues", i)
        stream = streams.get(queue.stream)
        if stream is None:
            yield ctx.error(
                (*loc, "stream"),
                f"consumes stream `{queue.stream}`, which is not defined",
                did_you_mean(queue.stream, list(streams)) or "add it under events.streams",
            )
        else:
            for j, subject in enumerate(queue.subjects):
                if not any(captures(pattern, subject) for pattern in stream.subjects):
                    yield ctx.error(
                        (*loc, "subjects", j),
                        f"stream `{stream.name}` does not capture {subject} (it keeps {', '.join(stream.subjects)})",
                        "add the subject to the stream, or consume the stream that keeps it",
                    )
        if queue.function is not None:
            if not m.features.edge_functions:
                yield ctx.error(
                    (*loc, "function"),
                    f"calls function `{queue.function}`, but features.edge_functions is false",
                    "enable edge_functions, or deliver to a webhook",
                )
            elif queue.function not in functions:
                yield ctx.error(
                    (*loc, "function"),
                    f"calls function `{queue.function}`, which is not defined",
                    did_you_mean(queue.function, functions) or "add it under functions.items",
                )
        if queue.webhook is not None and queue.webhook not in webhooks:
            yield ctx.error(
                (*loc, "webhook"),
                f"delivers to webhook `{queue.webhook}`, which is not defined",
                did_you_mean(queue.webhook, webhooks) or "add it under webhooks",
            )
        if len(queue.backoff) >= queue.max_deliver:
            yield ctx.error(
                (*loc, "backoff"),
                f"{len(queue.backoff)} backoff waits for {queue.max_deliver} deliveries: one wait comes before each retry",
                f"give at most {queue.max_deliver - 1}, or raise max_deliver",
            )
        if queue.backoff and parse_duration(queue.backoff[0]) < 0.1:
            yield ctx.error((*loc, "backoff", 0), "a retry sooner than 100ms after a failure", "wait at least 100ms")
        dead = dead_letter_subject("queue", queue.name, queue.dead_letter)
        if not _capturing(m.events.streams, dead):
            yield ctx.warning(
                (*loc, "dead_letter") if queue.dead_letter else loc,
                f"no stream keeps {dead}: a message that fails every delivery is dropped",
                "add a stream capturing deadletter.> to keep them",
            )


@rule
def webhooks_through_the_bus(ctx: Context) -> Iterator[Diagnostic]:
    """Webhooks are delivered from the bus (events no declared stream keeps go to the koyalite-webhooks stream)."""
    m = ctx.manifest
    if m.features.webhooks and m.webhooks and not m.features.events:
        yield ctx.error(
            ("webhooks",),
            "webhooks are delivered through the event bus, but features.events is false",
            "set `features.events: true`, or turn webhooks off",
        )
    for i, stream in enumerate(m.events.streams):
        if stream.name == WEBHOOK_STREAM:
            yield ctx.error(
                ("events", "streams", i, "name"),
                f"`{WEBHOOK_STREAM}` is the stream koyalite adds for webhook events no other stream keeps",
                "choose another name",
            )


@rule
def bus_capacity(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if not m.features.events:
        return
    bus, limits = m.events.bus, m.limits
    for name, count, limit in (("streams", len(m.events.streams), limits.max_streams), ("queues", len(m.events.queues), limits.max_queues)):
        if count > limit:
            yield ctx.error(
                ("events", name),
                f"{count} {name} exceed limits.max_{name} ({limit})",
                f"remove {count - limit}, or raise limits.max_{name}",
            )
    servers = 1 if ctx.target == "docker" else bus.replicas
    for i, stream in enumerate(m.events.streams):
        if stream.replicas > servers:
            where = "Docker runs one NATS server" if ctx.target == "docker" else f"events.bus.replicas is {bus.replicas}"
            yield ctx.error(
                ("events", "streams", i, "replicas"),
                f"{stream.replicas} replicas of stream `{stream.name}`, but {where}",
                f"set `replicas: {servers}` for this environment"
                if ctx.target == "docker"
                else f"raise events.bus.replicas to {stream.replicas}",
            )
    file_streams = [(i, s) for i, s in enumerate(m.events.streams) if s.storage == "file"]
    unbounded = [s.name for _, s in file_streams if s.max_bytes is None]
    if unbounded and file_streams:
        yield ctx.warning(
            ("events", "streams", file_streams[0][0]),
            f"stream{'s' if len(unbounded) > 1 else ''} {', '.join(f'`{n}`' for n in unbounded)} set{'' if len(unbounded) > 1 else 's'} no max_bytes: "
            f"a full {bus.volume} volume stops every stream",
            "give each file stream a max_bytes that fits in events.bus.volume",
        )
    total = sum(parse_bytes(s.max_bytes) for _, s in file_streams if s.max_bytes is not None)
    if total > parse_bytes(bus.volume):
        yield ctx.error(
            ("events", "bus", "volume"),
            f"the streams may keep {format_bytes(total)}, more than the {bus.volume} volume of each server",
            f"raise events.bus.volume to {format_bytes(total)}, or lower the streams' max_bytes",
        )
    if ctx.target == "docker" and bus.replicas > 1 and ctx.written(("events", "bus", "replicas")):
        yield ctx.warning(
            ("events", "bus", "replicas"),
            "Docker runs one NATS server; replicas apply on Kubernetes",
            "set `replicas: 1` in Docker environments",
        )
