"""Renderers by target name: how each target's objects become text (a stream) and files (a folder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioner.errors import Diagnostic
from provisioner.plan.model import Plan

Objects = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Renderer:
    objects: Callable[[Plan], Objects]
    stream: Callable[[Objects, Plan], str]
    files: Callable[[Objects, Plan], dict[str, str]]
    warnings: Callable[[Plan], list[Diagnostic]]
    stream_note: str = ""


def _kubernetes() -> Renderer:
    from provisioner.render import kubernetes as render
    from provisioner.targets import kubernetes

    return Renderer(kubernetes.objects, lambda objs, _: render.stream(objs), lambda objs, _: render.files(objs), lambda _: [])


def _docker() -> Renderer:
    from provisioner.render import compose
    from provisioner.render.dump import dumps
    from provisioner.targets import docker

    def name(plan: Plan) -> str:
        return f"{plan.project}-{plan.environment}"

    return Renderer(
        docker.objects,
        lambda objs, plan: dumps(compose.compose(objs, name(plan))),
        lambda objs, plan: compose.files(objs, name(plan)),
        docker.warnings,
        "compose.yaml only: the config files it mounts are written with -o DIR",
    )


RENDERERS: dict[str, Callable[[], Renderer]] = {"kubernetes": _kubernetes, "docker": _docker}
"""Target name -> renderer factory (imported lazily: a render loads only its own target)."""
