"""The Docker target under the platform: the daemon's address, the network, then one component per bundle."""

from __future__ import annotations

import os
from typing import Any

import pulumi

from components.docker import engine
from components.docker.objects import logical_name, network_props, secret_keys, start_order
from components.docker.parts import PARTS, Bundled, Scope
from components.errors import ComponentError
from components.platform import Deployed, Platform, register
from components.secrets import stack_secrets
from components.stack import Settings
from provisioner.plan.model import Plan
from provisioner.targets.docker import translate

DEFAULT_HOST = "unix:///var/run/docker.sock"
CARRIED = frozenset({"config", "secrets", "network"})
"""Bundles with no component: their objects ride in containers (config, secrets) or are the network."""


class Network(pulumi.ComponentResource):
    """The environment's bridge network."""

    TYPE = "koyalite:docker:Network"
    network: engine.Network

    def __init__(self, name: str, obj: dict[str, Any], host: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.network = engine.Network(logical_name(obj), network_props(obj, host), pulumi.ResourceOptions(parent=self))
        self.register_outputs({"name": self.network.name})


@register("docker")
def deploy(platform: Platform, plan: Plan, settings: Settings) -> Deployed:
    """Network first, then the parts in dependency order; a container others depend on is healthy before they are
    created, and one Health resource waits for the rest together."""
    assert plan.docker is not None
    bundles = translate(plan)
    unknown = sorted({b.kind for b in bundles} - set(PARTS) - CARRIED)
    if unknown:
        raise ComponentError(f"no Pulumi component for plan kinds {', '.join(unknown)}", "add them to components.docker.parts.PARTS")
    objects = [o for b in bundles for o in b.objects]
    secrets = stack_secrets(secret_keys(objects), settings)
    # the manifest's daemon, else Docker's own default (DOCKER_HOST, then the local socket)
    host = plan.docker.host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    opts = pulumi.ResourceOptions(parent=platform)
    network_obj = next(o for o in objects if o["kind"] == "Network")
    network = Network(network_obj["name"], network_obj, host, opts)
    containers = [o for o in objects if o["kind"] == "Container"]
    awaited = frozenset(d for o in containers for d in o["depends_on"])
    scope = Scope(plan.protect, host, network.network.name, secrets, awaited=awaited)
    parts: dict[str, pulumi.ComponentResource] = {network_obj["name"]: network}
    # Parts start in dependency order (the database before the services that call it), whatever the plan order.
    owner = {o["name"]: b.name for b in bundles for o in b.objects if o["kind"] == "Container"}
    needs = {b.name: sorted({owner[d] for o in b.objects if o["kind"] == "Container" for d in o["depends_on"]} - {b.name}) for b in bundles}
    by_name = {b.name: b for b in bundles if b.kind in PARTS}
    for name in start_order(list(by_name), needs):
        bundle = by_name[name]
        parts[bundle.name] = PARTS[bundle.kind](bundle.name, bundle.objects, scope, opts)
    # The rest are awaited together, so they start at once: `up` returns when every container is healthy.
    rest = sorted(o["name"] for o in containers if o["healthcheck"] and o["name"] not in awaited)
    if rest:
        health = {"host": host, "containers": {n: scope.containers[n].container_id for n in rest}, "timeout_s": 180}
        engine.Health(f"health-{network_obj['name']}", health, opts)
    return Deployed(parts, exports(plan))


def exports(plan: Plan) -> dict[str, pulumi.Input[Any]]:
    """Where to reach the published gateways (API, Studio, functions) on the host."""
    assert plan.docker is not None
    out: dict[str, pulumi.Input[Any]] = {"environment": plan.environment}
    for role, port in plan.docker.publish:
        out[f"{role}Url"] = f"http://{plan.docker.bind}:{port}"
    return out


__all__ = ["Bundled", "deploy"]
