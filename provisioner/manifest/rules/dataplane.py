"""The data plane is satisfiable: SeaweedFS raft and replica placement, Weaviate replication."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.rules import Context, rule


def placement(volume_servers: int, regions: int, racks: int) -> Counter[tuple[int, int]]:
    """Volume servers per (region, rack), spread round-robin over regions first, then racks."""
    cells = [(region, rack) for rack in range(racks) for region in range(regions)]
    return Counter(cells[i % len(cells)] for i in range(volume_servers))


def replication_problem(code: str, volume_servers: int, regions: int, racks: int) -> str | None:
    """Why SeaweedFS cannot place `XYZ` on this topology, or None when it can."""
    x, y, z = (int(c) for c in code)
    cells = placement(volume_servers, regions, racks)
    by_region = Counter(region for region, _ in cells)
    if len(by_region) < x + 1:
        return f"needs volume servers in {x + 1} regions, has {len(by_region)}"
    for region in by_region:
        racks_here = [n for (r, _), n in cells.items() if r == region]
        if len(racks_here) >= y + 1 and max(racks_here) >= z + 1:
            return None
    if y and max(Counter(r for r, _ in cells).values()) < y + 1:
        return f"needs {y + 1} racks with volume servers in one region"
    return f"needs {z + 1} volume servers on one rack"


@rule
def seaweedfs(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if not m.features.storage:
        return
    s = m.storage
    if s.masters % 2 == 0:
        yield ctx.error(
            ("storage", "masters"),
            f"{s.masters} masters cannot hold a Raft majority safely",
            f"use an odd number: {s.masters - 1} or {s.masters + 1}",
        )
    regions = 1 if ctx.target == "docker" else len(m.project.regions)
    problem = replication_problem(s.replication, s.volume_servers, regions, s.racks)
    if problem:
        where = " (a docker environment is one host: one region)" if ctx.target == "docker" and len(m.project.regions) > 1 else ""
        yield ctx.error(
            ("storage", "replication"),
            f"replication {s.replication} {problem}{where}",
            f"with {s.volume_servers} volume server(s) over {regions} region(s) and {s.racks} rack(s), "
            "add volume servers or racks, or lower the replication",
        )


@rule
def weaviate(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if m.features.search and m.search.replication_factor > m.search.replicas:
        yield ctx.error(
            ("search", "replication_factor"),
            f"replication factor {m.search.replication_factor} is above the {m.search.replicas} Weaviate replica(s)",
            f"raise search.replicas to {m.search.replication_factor}, or lower the factor",
        )
