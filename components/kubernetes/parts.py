"""One component per translated bundle: thin shells that add only Pulumi concerns (parent, options, secret values)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pulumi
from pulumi_kubernetes import apps, batch, core, networking

from components import nats
from components.errors import ComponentError
from components.kubernetes.objects import Obj, create, logical_name, name_of, options

R = TypeVar("R", bound=pulumi.CustomResource)


CONFIGURATION = frozenset({"ConfigMap", "Secret"})
"""Kinds that pods mount or read: created before the workloads of the same bundle and of every later one."""


def is_configuration(obj: Obj) -> bool:
    return obj.get("kind") in CONFIGURATION


@dataclass(frozen=True, slots=True)
class Scope:
    """What every part component reads besides its objects."""

    protect: bool
    """Protect stateful objects (the plan's `protect`, set for prod)."""
    after: tuple[pulumi.Resource, ...] = ()
    """What every object waits for: the Namespace it lives in, and (for workloads) the configuration bundles."""
    secrets: Mapping[str, pulumi.Output[str]] | None = None
    """Values for the environment's Secret; None leaves them out (render mode writes values to disk in plain text)."""
    exec_in: Cluster | None = None
    """Where the event bus's streams are declared as resources through pods/exec; None: by the translation's Job."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """The cluster as the provider reaches it, for what runs through the API server outside a typed resource."""

    kubeconfig: pulumi.Output[str] | None
    context: str | None


class Bundled(pulumi.ComponentResource):
    """The canonical shell: one typed resource per translated object, each a child of the component.

    Subclasses set `TYPE`, declare their typed outputs and pick them in `expose`; they never compute a spec.
    """

    TYPE: ClassVar[str]
    objects: tuple[Obj, ...]
    """The translated objects, as `koyalite render` prints them."""
    resources: dict[str, pulumi.CustomResource]
    """Every object's resource by logical name, in translation order."""

    def __init__(self, name: str, objects: Sequence[Obj], scope: Scope, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.objects = tuple(objects)
        objects = [obj for obj in objects if self.applies(obj, scope)]
        created: dict[str, pulumi.CustomResource] = {}
        # configuration first: a workload whose ConfigMap or Secret does not exist yet cannot start its pods
        for obj in sorted(objects, key=lambda o: not is_configuration(o)):
            after = scope.after if is_configuration(obj) else (*scope.after, *created.values())
            child = options(obj, protect=scope.protect, parent=self, depends_on=after)
            created[logical_name(obj)] = create(obj, child, **self.extra(obj, scope))
        self.resources = {logical_name(obj): created[logical_name(obj)] for obj in objects}
        self.resources |= self.more(scope)
        self.expose()
        self.register_outputs({"objects": list(self.resources)})

    def extra(self, obj: Obj, scope: Scope) -> dict[str, Any]:
        """Constructor arguments only Pulumi knows (none by default)."""
        return {}

    def applies(self, obj: Obj, scope: Scope) -> bool:
        """Whether an object becomes a resource (all do by default)."""
        return True

    def more(self, scope: Scope) -> dict[str, pulumi.CustomResource]:
        """Resources besides the objects', created after them (none by default)."""
        return {}

    def expose(self) -> None:
        """Set the typed outputs the subclass declares."""

    def of(self, cls: type[R]) -> list[R]:
        """The resources of one class, in translation order."""
        return [r for r in self.resources.values() if isinstance(r, cls)]

    def one(self, cls: type[R]) -> R:
        found = self.of(cls)
        if len(found) != 1:
            raise ComponentError(
                f"{self.TYPE} `{self.pulumi_resource_name}` needs exactly one {cls.__name__}, the translation gave {len(found)}",
                "the Kubernetes translator and this component disagree; fix the translator",
            )
        return found[0]


class Namespace(Bundled):
    """The environment's namespace: every other object depends on it; it is stateful (deleting it deletes all)."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Namespace"
    namespace: core.v1.Namespace
    name: pulumi.Output[str]

    def expose(self) -> None:
        self.namespace = self.one(core.v1.Namespace)
        self.name = self.namespace.metadata.apply(lambda m: m.name or "")


class Config(Bundled):
    """The project ConfigMap: feature flags, limits and service URLs."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Config"
    config_map: core.v1.ConfigMap

    def expose(self) -> None:
        self.config_map = self.one(core.v1.ConfigMap)


class Secrets(Bundled):
    """The environment's Secret: the translation names its keys, the values come from stack secrets here."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Secrets"
    secret: core.v1.Secret

    def extra(self, obj: Obj, scope: Scope) -> dict[str, Any]:
        if obj["kind"] != "Secret":
            return {}
        if "data" in obj or "stringData" in obj:
            # Translations are printed by `koyalite render` and kept in git: values never belong there.
            raise ComponentError(
                f"the translated Secret `{name_of(obj)}` carries values",
                "a translated Secret names its keys only; values come from stack config",
            )
        return {} if scope.secrets is None else {"string_data": dict(scope.secrets)}

    def expose(self) -> None:
        self.secret = self.one(core.v1.Secret)


class Service(Bundled):
    """A stateless KoyaLite service: Deployment and Service, with its HPA and PDB when the plan has them."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Service"
    deployment: apps.v1.Deployment
    service: core.v1.Service

    def expose(self) -> None:
        self.deployment = self.one(apps.v1.Deployment)
        self.service = self.one(core.v1.Service)


class EdgeRuntime(Service):
    """The Deno runtime serving every edge function, with the functions' code in ConfigMaps."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:EdgeRuntime"


class Stateful(Bundled):
    """A data-plane part: StatefulSets whose claims hold data, and their Services."""

    TYPE: ClassVar[str]
    stateful_sets: list[apps.v1.StatefulSet]
    services: list[core.v1.Service]

    def expose(self) -> None:
        self.stateful_sets = self.of(apps.v1.StatefulSet)
        self.services = self.of(core.v1.Service)


class LiteFS(Stateful):
    """Replicated SQLite: a StatefulSet per region, the primary region's the lease candidate."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:LiteFS"


class SeaweedFS(Stateful):
    """Object storage: master, volume and filer StatefulSets and the S3 gateway."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:SeaweedFS"


class Weaviate(Stateful):
    """Vector search: the Weaviate StatefulSet and its headless Service."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Weaviate"


class EventBus(Stateful):
    """NATS with JetStream: the server StatefulSet and its Services, then the streams and consumers.

    Those are declared either as resources (components/nats.py) that run the nats CLI in the first server's pod
    through the API server, guarded and kept like the Docker target's, or, with `kubernetes.streams_via: job` and
    in render mode, by the translation's Job (no pods/exec permission needed; the guard cannot see them).
    """

    TYPE: ClassVar[str] = "koyalite:kubernetes:EventBus"
    jobs: list[batch.v1.Job]
    streams: list[nats.Stream]
    consumers: list[nats.Consumer]

    def applies(self, obj: Obj, scope: Scope) -> bool:
        return scope.exec_in is None or obj["kind"] != "Job"

    def more(self, scope: Scope) -> dict[str, pulumi.CustomResource]:
        if scope.exec_in is None:
            return {}
        (server,) = (o for o in self.objects if o["kind"] == "StatefulSet")
        declared = next((o for o in self.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-streams")), None)
        if declared is None:
            return {}
        name, namespace = server["metadata"]["name"], server["metadata"]["namespace"]
        container = server["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        via = {
            "via": "kubernetes",
            "kubeconfig": scope.exec_in.kubeconfig,
            "context": scope.exec_in.context,
            "namespace": namespace,
            "pod": f"{name}-0",
            "container": container["name"],
            "user": env["NATS_USER"],
        }
        servers = self.resources[logical_name(server)]

        def keep(*after: pulumi.Resource, protect: bool = False) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self, depends_on=list(after), retain_on_delete=True, protect=protect, additional_secret_outputs=["kubeconfig"]
            )

        streams: dict[str, nats.Stream] = {}
        for key, text in sorted(declared["data"].items()):
            if key.startswith("stream."):
                config = json.loads(text)
                streams[config["name"]] = nats.Stream(
                    f"stream-{name}-{config['name']}",
                    {**via, "config": config},
                    keep(servers, protect=scope.protect),
                )
        made: dict[str, pulumi.CustomResource] = {f"stream-{name}-{stream}": r for stream, r in streams.items()}
        for key, text in sorted(declared["data"].items()):
            if key.startswith("consumer."):
                stream, consumer = key.removeprefix("consumer.").removesuffix(".json").split(".")
                # kept like its stream: its position is what it has delivered, and a new one would deliver it all again
                made[f"consumer-{name}-{stream}-{consumer}"] = nats.Consumer(
                    f"consumer-{name}-{stream}-{consumer}",
                    {**via, "stream": stream, "name": consumer, "config": json.loads(text)},
                    keep(servers, streams[stream]),
                )
        return made

    def expose(self) -> None:
        super().expose()
        self.jobs = self.of(batch.v1.Job)
        self.streams = self.of(nats.Stream)
        self.consumers = self.of(nats.Consumer)


class EventWorker(Service):
    """koyalite-events: publishes for the services and delivers the bus's queues and webhooks."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:EventWorker"


class Cron(Bundled):
    """One scheduled call: a CronJob."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Cron"
    cron_job: batch.v1.CronJob

    def expose(self) -> None:
        self.cron_job = self.one(batch.v1.CronJob)


class Network(Bundled):
    """NetworkPolicies (default deny plus the plan's edges) and the Ingress, when there are public routes."""

    TYPE: ClassVar[str] = "koyalite:kubernetes:Network"
    network_policies: list[networking.v1.NetworkPolicy]
    ingress: networking.v1.Ingress | None
    url: str | None
    """The public address, read from the translated Ingress (https when it has TLS)."""

    def expose(self) -> None:
        self.network_policies = self.of(networking.v1.NetworkPolicy)
        ingresses = self.of(networking.v1.Ingress)
        self.ingress = ingresses[0] if ingresses else None
        self.url = next((_url(obj) for obj in self.objects if obj["kind"] == "Ingress"), None)


def _url(ingress: Obj) -> str | None:
    spec = ingress.get("spec", {})
    hosts = [rule["host"] for rule in spec.get("rules", []) if rule.get("host")]
    if not hosts:
        return None
    return f"{'https' if spec.get('tls') else 'http'}://{hosts[0]}"


PARTS: dict[str, type[Bundled]] = {
    "namespace": Namespace,
    "config": Config,
    "secrets": Secrets,
    "service": Service,
    "edge-runtime": EdgeRuntime,
    "litefs": LiteFS,
    "seaweedfs": SeaweedFS,
    "weaviate": Weaviate,
    "event-bus": EventBus,
    "event-worker": EventWorker,
    "cron": Cron,
    "network": Network,
}
"""Bundle kind -> component. Every plan kind has one (a test loops over them); a missing one is an error."""
