"""Target settings fit the target: kubernetes settings on kubernetes environments, docker on docker."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.rules import Context, rule

PUBLISHABLE = ("api", "studio", "functions", "s3")
"""Roles a docker environment may publish on the host: the gateways, nothing internal."""


@rule
def target_settings(ctx: Context) -> Iterator[Diagnostic]:
    for name, env in ctx.manifest.environments.items():
        other = "docker" if env.target == "kubernetes" else "kubernetes"
        if getattr(env, other) is not None:
            yield ctx.error(
                ("environments", name, other), f"{other} settings on a {env.target} environment", f"remove them, or set `target: {other}`"
            )
        if env.kubernetes and env.kubernetes.ingress and env.kubernetes.ingress.host is None:
            domain = ctx.manifest.project.domain
            if domain is None and ctx.environment == name:
                yield ctx.error(
                    ("environments", name, "kubernetes", "ingress"), "the ingress has no host", "set `host:` here or `project.domain`"
                )
        if env.docker:
            ports: dict[int, str] = {}
            for role, port in env.docker.publish.items():
                loc = ("environments", name, "docker", "publish", role)
                if role not in PUBLISHABLE:
                    yield ctx.error(loc, f"`{role}` cannot be published", f"publish one of {', '.join(PUBLISHABLE)}")
                elif port in ports:
                    yield ctx.error(loc, f"host port {port} is already published for `{ports[port]}`", "use another port")
                ports.setdefault(port, role)


@rule
def service_ports(ctx: Context) -> Iterator[Diagnostic]:
    for name, service in ctx.manifest.services.items():
        if service.metrics_port is not None and service.metrics_port == service.port:
            yield ctx.error(
                ("services", name, "metrics_port"),
                f"port {service.port} is already the service port",
                "use another port, or leave metrics_port unset to serve metrics on the service port",
            )
