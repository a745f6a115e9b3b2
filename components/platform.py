"""The root component: one per stack, it deploys one environment's plan through the plan's target."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi

from components.errors import ComponentError
from components.stack import Settings
from provisioner.plan.model import Plan


@dataclass(frozen=True, slots=True)
class Deployed:
    """What a target built under the platform: its part components, and the stack outputs worth exporting."""

    parts: Mapping[str, pulumi.ComponentResource]
    exports: Mapping[str, pulumi.Input[Any]] = field(default_factory=dict)


Deploy = Callable[["Platform", Plan, Settings], Deployed]
"""A target's builder: creates its provider and part components as children of the platform."""

TARGETS: dict[str, Deploy] = {}
"""Plan target -> builder. A target package registers itself on import (see `components/__init__.py`)."""


def register(target: str) -> Callable[[Deploy], Deploy]:
    def add(deploy: Deploy) -> Deploy:
        if target in TARGETS:
            raise ValueError(f"two Pulumi builders for target {target}")
        TARGETS[target] = deploy
        return deploy

    return add


class Platform(pulumi.ComponentResource):
    """A whole KoyaLite environment: the target's provider plus one component per plan part."""

    TYPE: ClassVar[str] = "koyalite:index:Platform"
    environment: str
    target: str
    parts: dict[str, pulumi.ComponentResource]
    """Part components by name (the namespace first on Kubernetes), in plan order."""
    exports: dict[str, pulumi.Input[Any]]
    """Stack outputs: environment, namespace, public URL."""
    edge: dict[str, pulumi.Resource]
    """The hosted functions' apps by name."""

    def __init__(self, name: str, plan: Plan, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        deploy = TARGETS.get(plan.target)
        if deploy is None:
            raise ComponentError(
                f"environment `{plan.environment}` targets {plan.target}; this Pulumi program deploys "
                f"{', '.join(sorted(TARGETS))} environments so far",
                "pick a Kubernetes environment for this stack (set `koyalite:environment`, or name the stack after one)",
            )
        super().__init__(self.TYPE, name, None, opts)
        self.environment = plan.environment
        self.target = plan.target
        deployed = deploy(self, plan, settings)
        self.parts = dict(deployed.parts)
        self.exports = dict(deployed.exports)
        self.edge = self._edge(plan, settings)
        self.register_outputs(self.exports)

    def _edge(self, plan: Plan, settings: Settings) -> dict[str, pulumi.Resource]:
        """The functions hosted platforms run (components/edge.py); render mode applies nothing, so deploys none."""
        if not plan.edge:
            return {}
        if settings.render_directory:
            pulumi.log.warn(f"rendering: the hosted functions ({', '.join(a.platform for a in plan.edge)}) are not deployed")
            return {}
        from components import edge
        from components.secrets import stack_secrets

        keys = sorted({key for app in plan.edge for key in app.secrets})
        made = edge.deploy(self, plan.edge, plan.environment, plan.project, stack_secrets(keys, settings))
        for app in plan.edge:
            self.exports[f"functions:{app.platform}"] = app.name
        return dict(made)
