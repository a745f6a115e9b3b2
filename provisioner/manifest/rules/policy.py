"""Environment policy: protected (prod-like) environments pin images, run 2+ replicas, set limits, use TLS."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.images import resolve
from provisioner.manifest.models import Manifest
from provisioner.manifest.models.services import Resources
from provisioner.manifest.rules import Context, Loc, rule


def enabled_services(m: Manifest) -> list[str]:
    """Stateless services that run: search, email and studio follow their feature flags."""
    gated = {"search": m.features.search, "email": m.features.email, "studio": m.features.studio}
    return [name for name, _ in m.services.items() if gated.get(name, True)]


@rule
def pinned_images(ctx: Context) -> Iterator[Diagnostic]:
    """Every image runs at a fixed tag or digest: `latest` moves under a running environment."""
    if not ctx.policy.pinned_images:
        return
    m = ctx.manifest
    release = m.project.release
    if release == "latest":
        yield ctx.error(
            ("project", "release"), f"release `latest` is not pinned in environment {ctx.environment}", "name a release such as 1.4.0"
        )
    workloads: list[tuple[Loc, str | None, str | None]] = [
        (("services", name), getattr(m.services, name).image, getattr(m.services, name).tag) for name in enabled_services(m)
    ]
    if m.features.edge_functions:
        workloads.append((("functions", "runtime"), m.functions.runtime.image, m.functions.runtime.tag))
    workloads += [(("database",), m.database.image, None)]
    if m.features.storage:
        workloads.append((("storage",), m.storage.image, None))
    if m.features.search:
        workloads.append((("search",), m.search.image, None))
    for loc, image, tag in workloads:
        if (image is None and tag is None) or resolve("", "", image, tag, release)[1] != "latest":
            continue  # follows project.release (checked above), or is pinned
        yield ctx.error(
            (*loc, "tag" if tag is not None else "image"),
            f"image is not pinned in environment {ctx.environment}",
            "use a release tag such as 1.4.0 or a @sha256 digest, not latest",
        )


@rule
def min_replicas(ctx: Context) -> Iterator[Diagnostic]:
    floor = ctx.policy.min_replicas or 0
    m = ctx.manifest
    workloads = [(("services", name), getattr(m.services, name)) for name in enabled_services(m)]
    if m.features.edge_functions:
        workloads.append((("functions", "runtime"), m.functions.runtime))
    for loc, workload in workloads:
        count = workload.autoscale.min if workload.autoscale else workload.replicas
        field = "autoscale" if workload.autoscale else "replicas"
        if count < floor:
            yield ctx.error(
                (*loc, field, "min") if workload.autoscale else (*loc, field),
                f"{count} replica{'s' if count != 1 else ''} in environment {ctx.environment}, which needs at least {floor}",
                f"set {field}{'.min' if workload.autoscale else ''}: {floor} or more",
            )


def _all_resources(m: Manifest) -> Iterator[tuple[Loc, Resources]]:
    for name in enabled_services(m):
        yield ("services", name, "resources"), getattr(m.services, name).resources
    if m.features.edge_functions:
        yield ("functions", "runtime", "resources"), m.functions.runtime.resources
    yield ("database", "resources"), m.database.resources
    if m.features.storage:
        yield ("storage", "resources"), m.storage.resources
    if m.features.search:
        yield ("search", "resources"), m.search.resources


@rule
def resource_limits(ctx: Context) -> Iterator[Diagnostic]:
    if not ctx.policy.resource_limits:
        return
    for loc, res in _all_resources(ctx.manifest):
        missing = [k for k in ("cpu", "memory") if getattr(res.limits, k) is None]
        if missing:
            yield ctx.error(
                loc,
                f"no {' or '.join(missing)} limit in environment {ctx.environment}",
                f"set limits: {{{', '.join(f'{k}: ...' for k in missing)}}}",
            )


@rule
def ingress_tls(ctx: Context) -> Iterator[Diagnostic]:
    s = ctx.settings
    if not ctx.policy.ingress_tls or s is None or s.target != "kubernetes" or ctx.environment is None:
        return
    base: Loc = ("environments", ctx.environment, "kubernetes")
    ingress = s.kubernetes.ingress if s.kubernetes else None
    if ingress is not None and ingress.tls is None:
        yield ctx.error(
            (*base, "ingress"),
            f"the ingress of environment {ctx.environment} has no TLS",
            "add `tls: {issuer: letsencrypt}` or `tls: {secret: NAME}`",
        )


@rule
def experimental_flags(ctx: Context) -> Iterator[Diagnostic]:
    s = ctx.settings
    if s is None or not s.protect or ctx.policy.allow_experimental:
        return
    for flag, on in ctx.manifest.features.namespaced.items():
        if on and flag.startswith("experimental."):
            yield ctx.error(
                ("features", flag),
                f"experimental flag on in protected environment {ctx.environment}",
                f"turn it off here, or set environments.{ctx.environment}.policy.allow_experimental: true",
            )
