"""The Kubernetes target: a plan becomes plain Kubernetes object dicts, grouped by plan part."""

from __future__ import annotations

from typing import Any

from provisioner.plan.model import Plan
from provisioner.targets import Bundle, Registry
from provisioner.targets.kubernetes.common import Context, labels

REGISTRY: Registry[Context] = Registry("kubernetes")

# Translators register themselves on import.
from provisioner.targets.kubernetes import (  # noqa: E402
    config,
    cron,
    events,
    litefs,
    network,
    runtime,
    seaweedfs,
    services,
    weaviate,
)

__all__ = ["REGISTRY", "namespace", "objects", "translate"]
_ = (config, cron, events, litefs, network, runtime, seaweedfs, services, weaviate)


def namespace(ctx: Context) -> dict[str, Any]:
    """The environment's namespace, enforcing the restricted Pod Security Standard (LiteFS's exception is a warn)."""
    ns_labels = labels(ctx, None)
    ns_labels["pod-security.kubernetes.io/enforce"] = "privileged" if ctx.plan.parts else "restricted"
    ns_labels["pod-security.kubernetes.io/warn"] = "restricted"
    ns_labels["pod-security.kubernetes.io/audit"] = "restricted"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ctx.namespace, "labels": ns_labels}}


def translate(plan: Plan) -> list[Bundle]:
    """Every object of the plan, grouped by part; the namespace comes first in its own bundle."""
    if plan.kubernetes is None:
        raise ValueError(f"environment {plan.environment} targets {plan.target}, not kubernetes")
    ctx = Context(plan, plan.kubernetes)
    return [Bundle("namespace", ctx.namespace, (namespace(ctx),)), *REGISTRY.translate(plan, ctx)]


def objects(plan: Plan) -> list[dict[str, Any]]:
    """All objects in one deterministic list: namespace first, then by part in plan order."""
    return [obj for bundle in translate(plan) for obj in bundle.objects]
