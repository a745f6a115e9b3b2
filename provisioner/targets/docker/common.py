"""Pieces every Docker translator shares: names, labels, env, secrets as files, healthchecks, limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner.manifest.models.types import parse_bytes, parse_cpu
from provisioner.plan.model import DockerHints, Part, Plan, ProjectConfig, Resources, SecretEnv

Obj = dict[str, Any]

SECRETS_DIR = "/run/secrets"
"""Secrets reach containers as files here, never as environment values: `VAR_FILE=/run/secrets/<name>` tells the
image's entrypoint where to read VAR from (the `_FILE` convention), and `docker inspect` shows no secret."""

RUN_AS = "10001:10001"


@dataclass(frozen=True, slots=True)
class Context:
    plan: Plan
    hints: DockerHints

    @property
    def prefix(self) -> str:
        return f"{self.plan.project}-{self.plan.environment}"

    @property
    def network(self) -> str:
        return self.prefix

    def config(self) -> dict[str, str]:
        """The project configuration every KoyaLite container reads (flags, limits, service URLs)."""
        for part in self.plan.parts:
            if isinstance(part, ProjectConfig):
                return dict(part.data)
        return {}

    def published(self, role: str) -> int | None:
        return dict(self.hints.publish).get(role)


def labels(ctx: Context, part: Part | None, component: str | None = None) -> dict[str, str]:
    found = {
        "koyalite.dev/project": ctx.plan.project,
        "koyalite.dev/environment": ctx.plan.environment,
        "com.docker.compose.project": ctx.prefix,
    }
    if part is not None:
        found["koyalite.dev/role"] = part.role
    if component:
        found["koyalite.dev/component"] = component
    return found


def secret_mounts(secrets: tuple[SecretEnv, ...]) -> tuple[list[Obj], dict[str, str]]:
    """(secret file mounts, `VAR_FILE` environment pointing at them)."""
    mounts = [{"secret": s.secret, "target": f"{SECRETS_DIR}/{s.secret}"} for s in secrets]
    env = {f"{s.env}_FILE": f"{SECRETS_DIR}/{s.secret}" for s in secrets}
    unique = {m["secret"]: m for m in mounts}
    return [unique[k] for k in sorted(unique)], env


def healthcheck(port: int, path: str, interval_s: int = 10, timeout_s: int = 3, retries: int = 3, start_s: int = 30) -> Obj:
    """An HTTP health check run inside the container with busybox wget (present in every local image)."""
    return {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"],
        "interval_s": interval_s,
        "timeout_s": timeout_s,
        "retries": retries,
        "start_period_s": start_s,
    }


def limits(r: Resources) -> Obj:
    """Limits cap (memory bytes, CPUs); requests become a memory reservation and a CPU weight (1024 shares a core)."""
    out: Obj = {}
    if r.memory_limit:
        out["memory"] = parse_bytes(r.memory_limit)
    if r.cpu_limit:
        out["cpus"] = parse_cpu(r.cpu_limit) / 1000
    if r.memory_request:
        out["memory_reservation"] = parse_bytes(r.memory_request)
    if r.cpu_request:
        out["cpu_shares"] = max(2, parse_cpu(r.cpu_request) * 1024 // 1000)
    return out


def container(
    ctx: Context,
    part: Part,
    name: str,
    image: str,
    *,
    component: str | None = None,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    secrets: tuple[SecretEnv, ...] = (),
    volumes: list[Obj] | None = None,
    files: list[Obj] | None = None,
    health: Obj | None = None,
    resources: Resources | None = None,
    port: int | None = None,
    aliases: list[str] | None = None,
    depends_on: list[str] | None = None,
    restricted: bool = True,
    koyalite_config: bool = True,
) -> Obj:
    """One container spec: what render prints as a compose service and what the component creates."""
    mounts, file_env = secret_mounts(secrets)
    environment = {**(ctx.config() if koyalite_config else {}), **(env or {}), **file_env}
    spec: Obj = {
        "kind": "Container",
        "name": name,
        "image": image,
        "command": command or [],
        "env": dict(sorted(environment.items())),
        "secrets": mounts,
        "volumes": volumes or [],
        "files": files or [],
        "healthcheck": health,
        "restart": "unless-stopped",
        "network": ctx.network,
        "aliases": sorted(set(aliases or [])),
        "ports": [],
        "depends_on": sorted(set(depends_on or [])),
        "labels": labels(ctx, part, component),
        **limits(resources or Resources()),
    }
    if restricted:
        # Not read-only, unlike on Kubernetes: Docker delivers config files and secrets by copying them into the
        # created container before it starts, which a read-only root filesystem refuses.
        spec.update({"user": RUN_AS, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"], "tmpfs": ["/tmp"]})
    published = ctx.published(part.role if component is None else component)
    if published is not None and port is not None:
        spec["ports"] = [{"host_ip": ctx.hints.bind, "host": published, "container": port}]
    return spec


def volume(ctx: Context, part: Part, name: str, component: str | None = None) -> Obj:
    """A named volume: never anonymous, labelled, and kept when the stack is taken down."""
    return {"kind": "Volume", "name": name, "labels": labels(ctx, part, component)}
