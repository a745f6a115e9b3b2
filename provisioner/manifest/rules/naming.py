"""Names must stay valid Kubernetes names once the project and environment are prefixed."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.naming import CONTROLLER_MAX, LABEL_MAX, object_name
from provisioner.manifest.rules import Context, Loc, rule


def _derived(ctx: Context) -> Iterator[tuple[Loc, str, int, str]]:
    m, env = ctx.manifest, ctx.environment
    p = m.project.name
    for name, _ in m.services.items():
        yield ("services", name), object_name(p, env, name), LABEL_MAX, "Deployment"
    # Parts a disabled feature does not deploy get no name (their section only draws a warning).
    storage = m.features.storage
    for i, region in enumerate(m.project.regions):
        yield ("project", "regions", i), object_name(p, env, "litefs", region), CONTROLLER_MAX, "StatefulSet"
        if storage:
            yield ("project", "regions", i), object_name(p, env, "seaweedfs-volume", region), CONTROLLER_MAX, "StatefulSet"
    if storage:
        yield ("project", "name"), object_name(p, env, "seaweedfs-master"), CONTROLLER_MAX, "StatefulSet"
    for i, fn in enumerate(m.functions.items if m.features.edge_functions else []):
        yield ("functions", "items", i, "name"), object_name(p, env, "fn", fn.name), LABEL_MAX, "ConfigMap"
    for i, job in enumerate(m.cron if m.features.cron else []):
        yield ("cron", i, "name"), object_name(p, env, "cron", job.name), CONTROLLER_MAX, "CronJob"


@rule
def derived_names(ctx: Context) -> Iterator[Diagnostic]:
    """`acme-prod-cron-<name>` must fit a Kubernetes name; report each too-long name once."""
    seen: set[str] = set()
    for loc, name, limit, kind in _derived(ctx):
        if len(name) > limit and name not in seen:
            seen.add(name)
            over = len(name) - limit
            yield ctx.error(
                loc,
                f"the {kind} name `{name}` is {len(name)} characters; the limit is {limit}",
                f"shorten this name (or the project or environment name) by {over} character{'s' if over > 1 else ''}",
            )
