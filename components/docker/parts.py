"""One component per translated Docker bundle: containers, their named volumes and their image references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi

from components import nats
from components.docker import engine
from components.docker.objects import Obj, container_props, logical_name, start_order, volume_options, volume_props
from components.errors import ComponentError


@dataclass(frozen=True, slots=True)
class Scope:
    """What every part component reads besides its objects."""

    protect: bool
    host: str
    """The daemon's address (plan.docker.host)."""
    network: pulumi.Output[str]
    secrets: Mapping[str, pulumi.Output[str]] | None
    images: dict[str, engine.Image] = field(default_factory=dict)
    """Image references by name, shared by every container of the environment."""
    containers: dict[str, engine.Container] = field(default_factory=dict)
    """Containers created so far, by name: the dependencies of later ones (start order by health)."""
    awaited: frozenset[str] = frozenset()
    """Containers that others depend on: their create returns once they are healthy."""
    ready: dict[str, list[pulumi.Resource]] = field(default_factory=dict)
    """What a container is not ready without, by name: depending on it means depending on those too (the event bus
    container and the streams and consumers declared in it)."""


class Bundled(pulumi.ComponentResource):
    """The canonical shell: volumes first, then containers in translation order, each a child of the component."""

    TYPE: ClassVar[str]
    volumes: dict[str, engine.Volume]
    containers: dict[str, engine.Container]

    def __init__(self, name: str, objects: Sequence[Obj], scope: Scope, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.volumes, self.containers = {}, {}
        for obj in objects:
            if obj["kind"] == "Volume":
                self.volumes[obj["name"]] = engine.Volume(
                    logical_name(obj), volume_props(obj, scope.host), volume_options(scope.protect, self)
                )
        containers = {o["name"]: o for o in objects if o["kind"] == "Container"}
        for name in start_order(list(containers), {n: o["depends_on"] for n, o in containers.items()}):
            self.containers[name] = scope.containers[name] = self.container(containers[name], scope)
        self.register_outputs({"containers": list(self.containers), "volumes": list(self.volumes)})

    def container(self, obj: Obj, scope: Scope) -> engine.Container:
        image = scope.images.get(obj["image"])
        if image is None:
            # a reference to a local image (nothing is pulled); a destroy never removes images
            image = engine.Image(f"image-{obj['image']}", {"host": scope.host, "name": obj["image"]}, pulumi.ResourceOptions(parent=self))
            scope.images[obj["image"]] = image
        missing = [d for d in obj["depends_on"] if d not in scope.containers]
        if missing:
            raise ComponentError(
                f"container `{obj['name']}` starts after {', '.join(missing)}, which are not created yet",
                "the platform creates parts in start order; this is a bug in that order",
            )
        needs: list[pulumi.Resource] = [scope.containers[d] for d in obj["depends_on"]]
        needs += [r for d in obj["depends_on"] for r in scope.ready.get(d, ())]
        needs += [self.volumes[v["volume"]] for v in obj["volumes"] if v["volume"] in self.volumes]
        return engine.Container(
            logical_name(obj),
            container_props(obj, image.image_id, scope.network, scope.secrets, scope.host, obj["name"] in scope.awaited),
            pulumi.ResourceOptions(parent=self, depends_on=needs or None),
        )


class Service(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:Service"


class EdgeRuntime(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:EdgeRuntime"


class LiteFS(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:LiteFS"


class SeaweedFS(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:SeaweedFS"


class Weaviate(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:Weaviate"


class Cron(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:Cron"


class EventBus(Bundled):
    """The NATS server, then its streams (kept on destroy, guarded) and the consumers in them."""

    TYPE: ClassVar[str] = "koyalite:docker:EventBus"
    streams: dict[str, nats.Stream]
    consumers: dict[str, nats.Consumer]

    def __init__(self, name: str, objects: Sequence[Obj], scope: Scope, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, objects, scope, opts)
        self.streams, self.consumers = {}, {}
        for obj in (o for o in objects if o["kind"] == "Stream"):
            self.streams[obj["name"]] = nats.Stream(
                f"stream-{obj['bus']}-{obj['name']}",
                _nats_props(obj, scope.host),
                pulumi.ResourceOptions(parent=self, depends_on=[self.containers[obj["bus"]]], retain_on_delete=True, protect=scope.protect),
            )
        for obj in (o for o in objects if o["kind"] == "Consumer"):
            self.consumers[obj["name"]] = nats.Consumer(
                f"consumer-{obj['bus']}-{obj['stream']}-{obj['name']}",
                {**_nats_props(obj, scope.host), "stream": obj["stream"], "name": obj["name"]},
                # kept like its stream: its position is what it has delivered, and a new one would deliver it all again
                pulumi.ResourceOptions(
                    parent=self, depends_on=[self.containers[obj["bus"]], self.streams[obj["stream"]]], retain_on_delete=True
                ),
            )
        for bus in self.containers:
            scope.ready[bus] = [*self.streams.values(), *self.consumers.values()]


def _nats_props(obj: Obj, host: str) -> dict[str, object]:
    return {"host": host, "bus": obj["bus"], "user": obj["user"], "config": obj["config"]}


class EventWorker(Bundled):
    TYPE: ClassVar[str] = "koyalite:docker:EventWorker"


PARTS: dict[str, type[Bundled]] = {
    "service": Service,
    "edge-runtime": EdgeRuntime,
    "litefs": LiteFS,
    "seaweedfs": SeaweedFS,
    "weaviate": Weaviate,
    "cron": Cron,
    "event-bus": EventBus,
    "event-worker": EventWorker,
}
"""Plan kind -> component. Kinds whose objects are not resources of their own (config, secrets, network) are handled
by the platform: config rides in containers, secrets in uploads."""
