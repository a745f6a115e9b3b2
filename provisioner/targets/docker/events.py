"""The event bus on Docker: one NATS server with JetStream on a named volume, its streams and consumers, and the
koyalite-events worker that publishes and delivers."""

from __future__ import annotations

from provisioner.manifest.models.types import parse_bytes
from provisioner.plan.model import EventBus, EventWorker, SecretEnv
from provisioner.targets.docker import REGISTRY
from provisioner.targets.docker.common import Context, Obj, container, healthcheck, labels, volume
from provisioner.targets.json_file import json_file
from provisioner.targets.nats_config import NATS_CONFIG, SERVER_COMMAND, nats_config

EVENTS_FILE = "/etc/koyalite/events/events.json"


def server_name(part: EventBus) -> str:
    return f"{part.name}-0"


@REGISTRY.register(EventBus)
def event_bus(part: EventBus, ctx: Context) -> list[Obj]:
    """The server, then one Stream and one Consumer object each: `koyalite up` creates them with the nats CLI in the
    server's container, compose through a one-shot service (render.compose)."""
    name = server_name(part)
    config = nats_config(part, server_name=name, max_file_store=parse_bytes(part.volume.size))
    objs: list[Obj] = [
        volume(ctx, part, name, "nats"),
        container(
            ctx,
            part,
            name,
            str(part.image),
            component="nats",
            command=SERVER_COMMAND,
            secrets=(SecretEnv("NATS_PASSWORD", part.password_secret),),
            volumes=[{"volume": name, "target": part.store_dir}],
            files=[{"path": NATS_CONFIG, "content": config}],
            health=healthcheck(part.monitor_port, "/healthz?js-enabled-only=true", interval_s=5, start_s=30),
            resources=part.resources,
            aliases=[part.name],
            koyalite_config=False,
        ),
    ]
    common = {
        "bus": name,
        "image": str(part.image),
        "network": ctx.network,
        "url": f"nats://{name}:{part.client_port}",
        "user": part.user,
        "password_secret": part.password_secret,
        "labels": labels(ctx, part, "nats"),
    }
    objs += [{"kind": "Stream", "name": s.name, "config": s.config(), **common} for s in part.streams]
    objs += [{"kind": "Consumer", "name": c.name, "stream": c.stream, "config": c.config(), **common} for c in part.consumers]
    return objs


@REGISTRY.register(EventWorker)
def event_worker(part: EventWorker, ctx: Context) -> list[Obj]:
    bus = next(p for p in ctx.plan.parts if isinstance(p, EventBus))
    return [
        container(
            ctx,
            part,
            name,
            str(part.image),
            env={"PORT": str(part.port), "KOYALITE_EVENTS_FILE": EVENTS_FILE, "NATS_USER": part.user},
            secrets=part.secrets,
            files=[{"path": EVENTS_FILE, "content": json_file(part.document())}],
            health=healthcheck(part.port, part.probe.path, interval_s=5),
            resources=part.resources,
            aliases=[part.name],
            depends_on=[server_name(bus)],
        )
        for name in (f"{part.name}-{i}" for i in range(1, part.replicas + 1))
    ]
