"""The Docker target: one host, one bridge network, named volumes, a container per role and replica.

Objects are plain dicts with a `kind` of Network, Volume, Container or SecretSet: `koyalite render --target
docker` prints them as compose.yaml, and the Pulumi Docker components create them through the Docker
Engine API (components/docker/engine.py).
"""

from __future__ import annotations

from typing import Any

from provisioner.plan.model import Plan
from provisioner.targets import Bundle, Registry
from provisioner.targets.docker.common import Context

REGISTRY: Registry[Context] = Registry("docker")

# Translators register themselves on import.
from provisioner.targets.docker import data, events, scheduler, stateless  # noqa: E402
from provisioner.targets.docker.warnings import warnings  # noqa: E402

__all__ = ["REGISTRY", "objects", "translate", "warnings"]
_ = (data, events, stateless)


def translate(plan: Plan) -> list[Bundle]:
    """Every object of the plan, grouped by part; cron entries are gathered into one scheduler container."""
    if plan.docker is None:
        raise ValueError(f"environment {plan.environment} targets {plan.target}, not docker")
    ctx = Context(plan, plan.docker)
    return scheduler.gather(REGISTRY.translate(plan, ctx), ctx)


def objects(plan: Plan) -> list[dict[str, Any]]:
    return [obj for bundle in translate(plan) for obj in bundle.objects]
