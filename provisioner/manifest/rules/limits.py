"""Limits: counts within the project's limits, volumes within the storage quota, requests within limits."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.models import Manifest
from provisioner.manifest.models.services import Resources
from provisioner.manifest.models.types import format_bytes, parse_bytes, parse_cpu
from provisioner.manifest.rules import Context, Loc, rule


@rule
def counts(ctx: Context) -> Iterator[Diagnostic]:
    m, limits = ctx.manifest, ctx.manifest.limits
    checks: list[tuple[Loc, int, str, int]] = [
        (("functions", "items"), len(m.functions.items) if m.features.edge_functions else 0, "max_functions", limits.max_functions),
        (("cron",), len(m.cron) if m.features.cron else 0, "max_cron_jobs", limits.max_cron_jobs),
        (("webhooks",), len(m.webhooks) if m.features.webhooks else 0, "max_webhooks", limits.max_webhooks),
    ]
    for loc, count, name, limit in checks:
        if count > limit:
            yield ctx.error(
                loc,
                f"{count} item{'s exceed' if count != 1 else ' exceeds'} limits.{name} ({limit})",
                f"remove {count - limit}, or raise limits.{name}",
            )


def claims(m: Manifest) -> list[tuple[str, int, int]]:
    """(what, count, bytes each) for every persistent volume the manifest claims, with features applied."""
    db = m.database
    found = [("LiteFS nodes", db.candidates + sum(db.replicas.values()), parse_bytes(db.volume))]
    if m.features.storage:
        s = m.storage
        found += [
            ("SeaweedFS masters", s.masters, parse_bytes(s.master_volume)),
            ("SeaweedFS volume servers", s.volume_servers, parse_bytes(s.volume)),
            ("SeaweedFS filers", s.filer.replicas, parse_bytes(s.filer.volume)),
        ]
    if m.features.search:
        found.append(("Weaviate nodes", m.search.replicas, parse_bytes(m.search.volume)))
    if m.features.events:
        found.append(("NATS servers", m.events.bus.replicas, parse_bytes(m.events.bus.volume)))
    return found


@rule
def storage_quota(ctx: Context) -> Iterator[Diagnostic]:
    quota = ctx.manifest.limits.storage_quota
    if quota is None:
        return
    parts = claims(ctx.manifest)
    total = sum(count * each for _, count, each in parts)
    if total > parse_bytes(quota):
        breakdown = ", ".join(f"{what} {count}x{format_bytes(each)}" for what, count, each in parts if count)
        yield ctx.error(
            ("limits", "storage_quota"),
            f"volumes claim {format_bytes(total)}, above the quota of {quota}",
            f"{breakdown}; shrink them or raise the quota",
        )


def _resources(m: Manifest) -> Iterator[tuple[Loc, Resources]]:
    for name, service in m.services.items():
        yield ("services", name, "resources"), service.resources
    yield ("functions", "runtime", "resources"), m.functions.runtime.resources
    yield ("database", "resources"), m.database.resources
    yield ("storage", "resources"), m.storage.resources
    yield ("search", "resources"), m.search.resources


@rule
def requests_within_limits(ctx: Context) -> Iterator[Diagnostic]:
    for loc, res in _resources(ctx.manifest):
        req, lim = res.requests, res.limits
        if req.cpu and lim.cpu and parse_cpu(req.cpu) > parse_cpu(lim.cpu):
            yield ctx.error(
                (*loc, "requests", "cpu"), f"CPU request {req.cpu} is above the limit {lim.cpu}", "lower the request or raise the limit"
            )
        if req.memory and lim.memory and parse_bytes(req.memory) > parse_bytes(lim.memory):
            yield ctx.error(
                (*loc, "requests", "memory"),
                f"memory request {req.memory} is above the limit {lim.memory}",
                "lower the request or raise the limit",
            )


@rule
def database_size(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if parse_bytes(m.limits.max_db_size) > parse_bytes(m.database.volume):
        yield ctx.error(
            ("limits", "max_db_size"),
            f"{m.limits.max_db_size} does not fit the LiteFS volume of {m.database.volume}",
            "raise database.volume or lower limits.max_db_size",
        )
