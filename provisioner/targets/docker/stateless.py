"""Stateless parts on Docker: the services, the edge runtime, configuration, secrets and the network."""

from __future__ import annotations

import posixpath

from provisioner.plan.model import (
    EdgeRuntime,
    LiteFS,
    Network,
    ProjectConfig,
    SeaweedFS,
    SecretEnv,
    SecretSet,
    StatelessService,
    Weaviate,
)
from provisioner.targets.docker import REGISTRY
from provisioner.targets.docker.common import Context, Obj, container, healthcheck, labels
from provisioner.targets.json_file import json_file

FUNCTIONS_DIR = "/functions"
FUNCTIONS_FILE = "/etc/koyalite/functions/functions.json"


def replica_names(base: str, replicas: int) -> list[str]:
    """`acme-dev-api-1`, `acme-dev-api-2`…: at least one container even for replicas 0 is not made — 0 means none."""
    return [f"{base}-{i}" for i in range(1, replicas + 1)]


def _dependencies(ctx: Context, role: str) -> list[str]:
    """Start order by health: the database primary (and the stores a role calls) before the role."""
    needs: list[str] = []
    for part in ctx.plan.parts:
        if isinstance(part, LiteFS) and role in ("api", "auth", "project", "rls"):
            primary = next(r for r in part.regions if r.candidate)
            needs.append(f"{primary.name}-0")
        elif isinstance(part, Weaviate) and role == "search":
            needs.append(f"{part.name}-0")
        elif isinstance(part, SeaweedFS) and role == "api":
            needs.append(f"{part.name}-s3" if part.s3 else f"{part.name}-filer-0")
    return needs


@REGISTRY.register(StatelessService)
def service(part: StatelessService, ctx: Context) -> list[Obj]:
    files: list[Obj] = []
    env = {"PORT": str(part.port), **dict(part.env)}
    objs = []
    for i, name in enumerate(replica_names(part.name, part.replicas)):
        spec = container(
            ctx,
            part,
            name,
            str(part.image),
            env=env,
            secrets=part.secrets,
            files=files,
            health=healthcheck(part.port, part.probe.path, part.probe.period_s, part.probe.timeout_s, part.probe.failure_threshold),
            resources=part.resources,
            port=part.port if i == 0 else None,
            aliases=[part.name],
            depends_on=_dependencies(ctx, part.role),
        )
        objs.append(spec)
    return objs


def _function_env_prefix(name: str) -> str:
    return "KOYALITE_FN_" + "".join(c if c.isalnum() else "_" for c in name.upper()) + "_"


@REGISTRY.register(EdgeRuntime)
def runtime(part: EdgeRuntime, ctx: Context) -> list[Obj]:
    document = {
        "functions": [
            {
                "name": fn.name,
                "module": f"{FUNCTIONS_DIR}/{fn.name}/{posixpath.basename(fn.entrypoint)}",
                "routes": list(fn.routes),
                "env": dict(fn.env),
                "secret_env": {s.env: _function_env_prefix(fn.name) + s.env for s in fn.secrets},
                "timeout_s": fn.timeout_s,
                "memory": fn.memory,
            }
            for fn in part.functions
        ],
        "verify_jwt": part.verify_jwt,
    }
    files = [{"path": FUNCTIONS_FILE, "content": json_file(document)}]
    files += [{"path": f"{FUNCTIONS_DIR}/{fn.name}/{posixpath.basename(fn.entrypoint)}", "content": fn.source} for fn in part.functions]
    secrets = tuple(SecretEnv(_function_env_prefix(fn.name) + s.env, s.secret) for fn in part.functions for s in fn.secrets)
    env = {"PORT": str(part.port), "DENO_DIR": "/tmp/deno", "KOYALITE_FUNCTIONS_FILE": FUNCTIONS_FILE}
    return [
        container(
            ctx,
            part,
            name,
            str(part.image),
            env=env,
            secrets=secrets,
            files=files,
            health=healthcheck(part.port, part.probe.path),
            resources=part.resources,
            port=part.port if i == 0 else None,
            aliases=[part.name],
        )
        for i, name in enumerate(replica_names(part.name, part.replicas))
    ]


@REGISTRY.register(ProjectConfig)
def project_config(part: ProjectConfig, ctx: Context) -> list[Obj]:
    """Nothing of its own: every KoyaLite container gets the configuration as environment (common.container)."""
    return []


@REGISTRY.register(SecretSet)
def secret_set(part: SecretSet, ctx: Context) -> list[Obj]:
    """The secrets containers mount: names only; values come from Pulumi stack secrets or, for compose, files."""
    return [{"kind": "SecretSet", "name": part.name, "keys": list(part.keys), "labels": labels(ctx, part)}]


@REGISTRY.register(Network)
def network(part: Network, ctx: Context) -> list[Obj]:
    """One bridge network per project and environment. Edges are not enforced on one host (see warnings)."""
    return [{"kind": "Network", "name": ctx.network, "driver": "bridge", "labels": labels(ctx, part)}]
