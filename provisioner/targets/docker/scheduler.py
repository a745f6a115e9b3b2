"""Cron on Docker: one scheduler container runs every job from a generated schedule file."""

from __future__ import annotations

from provisioner.plan.model import CronTask
from provisioner.targets import Bundle
from provisioner.targets.docker import REGISTRY
from provisioner.targets.docker.common import Context, Obj, container, healthcheck
from provisioner.targets.json_file import json_file

SCHEDULE_FILE = "/etc/koyalite/cron/schedule.json"
HEALTH_PORT = 8090


@REGISTRY.register(CronTask)
def entry(part: CronTask, ctx: Context) -> list[Obj]:
    """One schedule entry; `gather` turns the entries into the scheduler container."""
    return [
        {
            "kind": "CronEntry",
            "name": part.name,
            "schedule": part.schedule,
            "timezone": part.timezone,
            "url": part.url,
            "deadline_s": part.deadline_s,
            "suspend": part.suspend,
            "image": str(part.image),
        }
    ]


def gather(bundles: list[Bundle], ctx: Context) -> list[Bundle]:
    """Replace the cron entries with one scheduler container that holds them all (none when there are none)."""
    entries = [obj for b in bundles if b.kind == CronTask.kind for obj in b.objects]
    kept = [b for b in bundles if b.kind != CronTask.kind]
    if not entries:
        return kept
    schedule = {"jobs": [{k: e[k] for k in ("name", "schedule", "timezone", "url", "deadline_s", "suspend")} for e in entries]}
    name = f"{ctx.prefix}-cron"
    part = next(p for p in ctx.plan.parts if isinstance(p, CronTask))
    spec = container(
        ctx,
        part,
        name,
        str(entries[0]["image"]),
        command=["koyalite-cron", "--schedule", SCHEDULE_FILE],
        env={"PORT": str(HEALTH_PORT)},
        files=[{"path": SCHEDULE_FILE, "content": json_file(schedule)}],
        health=healthcheck(HEALTH_PORT, "/health"),
        koyalite_config=False,
    )
    return [*kept, Bundle(CronTask.kind, name, (spec,))]
