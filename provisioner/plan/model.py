"""The plan: what one environment runs, as frozen, backend-neutral data (no pydantic, Pulumi or YAML here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar


@dataclass(frozen=True, slots=True)
class Image:
    """An image reference: repository plus a tag or a sha256 digest."""

    repository: str
    tag: str

    def __str__(self) -> str:
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.tag}"


@dataclass(frozen=True, slots=True)
class Resources:
    """Kubernetes quantities; None means unset."""

    cpu_request: str | None = None
    memory_request: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """An HTTP health endpoint."""

    path: str
    port: int
    period_s: int = 10
    timeout_s: int = 2
    failure_threshold: int = 3


@dataclass(frozen=True, slots=True)
class SecretEnv:
    """An environment variable whose value is the named secret of the environment."""

    env: str
    secret: str


@dataclass(frozen=True, slots=True)
class Autoscale:
    min: int
    max: int
    cpu_percent: int


@dataclass(frozen=True, slots=True)
class Volume:
    """A persistent volume per replica: claim name, mount path, size and storage class."""

    name: str
    mount_path: str
    size: str
    storage_class: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Edge:
    """A network path the stack needs: `source` role may open TCP `port` on `target` role."""

    source: str
    target: str
    port: int


@dataclass(frozen=True, slots=True, order=True)
class Route:
    """A public HTTP path prefix served by a role."""

    path: str
    role: str
    port: int


@dataclass(frozen=True, slots=True)
class Part:
    """One deployable part of the stack. `kind` selects the translator in each target's registry."""

    kind: ClassVar[str] = ""
    name: str
    role: str


P = TypeVar("P", bound=Part)


@dataclass(frozen=True, slots=True)
class ProjectConfig(Part):
    """Project settings every service reads: feature flags, limits and where the other services are."""

    kind: ClassVar[str] = "config"
    data: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SecretSet(Part):
    """The environment's secrets: names only; values come from Pulumi stack config at deploy time."""

    kind: ClassVar[str] = "secrets"
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatelessService(Part):
    """A stateless KoyaLite service (api, auth, project, rls, search, email, studio)."""

    kind: ClassVar[str] = "service"
    image: Image
    replicas: int
    autoscale: Autoscale | None
    resources: Resources
    port: int
    metrics_port: int | None
    probe: Probe
    env: tuple[tuple[str, str], ...]
    secrets: tuple[SecretEnv, ...]


@dataclass(frozen=True, slots=True)
class FunctionCode:
    """One edge function and its source text."""

    name: str
    entrypoint: str
    source: str
    routes: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    secrets: tuple[SecretEnv, ...]
    timeout_s: float
    memory: str


@dataclass(frozen=True, slots=True)
class EdgeRuntime(Part):
    """The Deno edge runtime serving every function."""

    kind: ClassVar[str] = "edge-runtime"
    image: Image
    replicas: int
    autoscale: Autoscale | None
    resources: Resources
    port: int
    probe: Probe
    verify_jwt: bool
    functions: tuple[FunctionCode, ...]


@dataclass(frozen=True, slots=True)
class LiteFSRegion:
    """The LiteFS nodes of one region; only the primary region's nodes are lease candidates."""

    region: str
    name: str
    nodes: int
    candidate: bool


@dataclass(frozen=True, slots=True)
class LiteFS(Part):
    """Replicated SQLite: LiteFS with KoyaLite's database gateway as the app it serves.

    Ports: `api_port` is LiteFS's own HTTP API (replication), `proxy_port` the LiteFS proxy that
    forwards writes to the primary, `gateway_port` the database gateway behind that proxy.
    """

    kind: ClassVar[str] = "litefs"
    image: Image
    primary_region: str
    regions: tuple[LiteFSRegion, ...]
    lease: str
    consul_url: str | None
    consul_key: str | None
    consul_ttl: str
    volume: Volume
    resources: Resources
    database: str = "koyalite.db"
    api_port: int = 20202
    proxy_port: int = 8080
    gateway_port: int = 8081
    mount_dir: str = "/litefs"
    data_dir: str = "/var/lib/litefs"


@dataclass(frozen=True, slots=True)
class VolumeServer:
    """One SeaweedFS volume server and its place: data centre (region) and rack."""

    region: str
    rack: str
    ordinal: int


@dataclass(frozen=True, slots=True)
class SeaweedFS(Part):
    """Object storage: masters (Raft), volume servers, filers and the S3 gateway."""

    kind: ClassVar[str] = "seaweedfs"
    image: Image
    masters: int
    master_volume: Volume
    volume_servers: tuple[VolumeServer, ...]
    volume: Volume
    filers: int
    filer_volume: Volume
    s3: bool
    replication: str
    resources: Resources
    notify_url: str | None = None
    """Where the filers POST their create and delete events (the event worker's /sources/seaweedfs), if anywhere."""
    notify_token_secret: str | None = None
    """The secret both sides read as the bearer token of those POSTs."""
    master_port: int = 9333
    master_grpc_port: int = 19333
    volume_port: int = 8080
    volume_grpc_port: int = 18080
    filer_port: int = 8888
    filer_grpc_port: int = 18888
    s3_port: int = 8333


@dataclass(frozen=True, slots=True)
class Weaviate(Part):
    """Vector search: a Weaviate cluster with API-key auth and anonymous access off."""

    kind: ClassVar[str] = "weaviate"
    image: Image
    replicas: int
    shards: int
    replication_factor: int
    modules: tuple[str, ...]
    volume: Volume
    resources: Resources
    api_key_secret: str
    raft_bootstrap_expect: int
    http_port: int = 8080
    grpc_port: int = 50051
    gossip_port: int = 7000
    data_port: int = 7001
    raft_port: int = 8300
    raft_rpc_port: int = 8301


@dataclass(frozen=True, slots=True)
class CronTask(Part):
    """A schedule that POSTs to a URL: a function through the runtime, or an outside address."""

    kind: ClassVar[str] = "cron"
    schedule: str
    timezone: str
    url: str
    function: str | None
    deadline_s: int
    suspend: bool
    image: Image


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A JetStream stream: what it captures and how much it keeps (0 or -1: no limit, as JetStream writes it)."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: int
    max_bytes: int
    max_msgs: int
    storage: str
    replicas: int
    discard: str

    def config(self) -> dict[str, object]:
        """The stream's JetStream configuration (the JSON `nats stream add --config` reads)."""
        return {
            "name": self.name,
            "subjects": list(self.subjects),
            "retention": "limits",
            "max_consumers": -1,
            "max_msgs_per_subject": -1,
            "max_msgs": self.max_msgs,
            "max_bytes": self.max_bytes,
            "max_age": self.max_age_s * 1_000_000_000,
            "max_msg_size": -1,
            "storage": self.storage,
            "discard": self.discard,
            "num_replicas": self.replicas,
            "duplicate_window": 120_000_000_000,
        }


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A durable consumer the event worker drains: each message POSTed to `url` until a 2xx, retried after the
    waits in `backoff_s` (the last repeats), moved to `dead_letter` after `max_deliver` tries."""

    name: str
    stream: str
    subjects: tuple[str, ...]
    deliver: str  # function | webhook
    target: str
    url: str
    secret: str | None
    ack_wait_s: float
    max_deliver: int
    backoff_s: tuple[float, ...]
    max_in_flight: int
    timeout_s: float
    dead_letter: str

    def config(self) -> dict[str, object]:
        """The consumer's JetStream configuration: durable, pull, explicit acknowledgement."""
        found: dict[str, object] = {
            "durable_name": self.name,
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "ack_wait": int(self.ack_wait_s * 1_000_000_000),
            "max_deliver": self.max_deliver,
            "max_ack_pending": self.max_in_flight,
            "replay_policy": "instant",
        }
        if len(self.subjects) == 1:
            found["filter_subject"] = self.subjects[0]
        elif self.subjects:
            found["filter_subjects"] = list(self.subjects)
        return found

    @property
    def secret_env(self) -> str | None:
        """The environment variable the worker reads the signing secret from."""
        return self.secret.upper() if self.secret else None


@dataclass(frozen=True, slots=True)
class EventBus(Part):
    """NATS with JetStream: the servers, and the streams and consumers they hold."""

    kind: ClassVar[str] = "event-bus"
    streams_role: ClassVar[str] = "nats-streams"
    """The role of the one-shot that declares the streams and consumers where no Pulumi resource does (a compose
    service, a Kubernetes Job): a network identity of its own, since it serves nothing."""
    image: Image
    servers: int
    volume: Volume
    resources: Resources
    streams: tuple[StreamSpec, ...]
    consumers: tuple[ConsumerSpec, ...]
    password_secret: str = "nats_password"
    user: str = "koyalite"
    client_port: int = 4222
    cluster_port: int = 6222
    monitor_port: int = 8222
    store_dir: str = "/data"


@dataclass(frozen=True, slots=True)
class EventWorker(Part):
    """koyalite-events: publishes what the services report and delivers the bus's consumers (functions, webhooks)."""

    kind: ClassVar[str] = "event-worker"
    image: Image
    replicas: int
    resources: Resources
    bus_url: str
    user: str
    password_secret: str
    consumers: tuple[ConsumerSpec, ...]
    publish: tuple[str, ...]
    source_token_secret: str | None = None
    """The bearer token SeaweedFS's filers present at /sources/seaweedfs (None: no storage events)."""
    port: int = 8080
    probe: Probe = Probe("/health", 8080)

    @property
    def secrets(self) -> tuple[SecretEnv, ...]:
        """The bus password and every webhook's signing secret, as the worker's environment."""
        hooks = {(c.secret_env, c.secret) for c in self.consumers if c.secret and c.secret_env}
        source = (SecretEnv("KOYALITE_SOURCE_TOKEN", self.source_token_secret),) if self.source_token_secret else ()
        return (SecretEnv("NATS_PASSWORD", self.password_secret), *source, *(SecretEnv(env, s) for env, s in sorted(hooks)))

    def document(self) -> dict[str, object]:
        """The worker's configuration file: no secret values, only the variables that hold them."""
        return {
            "bus": {"url": self.bus_url, "user": self.user},
            "publish": list(self.publish),
            "consumers": [
                {
                    "name": c.name,
                    "stream": c.stream,
                    "deliver": c.deliver,
                    "target": c.target,
                    "url": c.url,
                    "secret_env": c.secret_env,
                    "timeout_s": c.timeout_s,
                    "max_deliver": c.max_deliver,
                    "backoff_s": list(c.backoff_s),
                    "max_in_flight": c.max_in_flight,
                    "dead_letter": c.dead_letter,
                }
                for c in self.consumers
            ],
        }


@dataclass(frozen=True, slots=True)
class Network(Part):
    """Who may talk to whom, what reaches the outside, and the public routes."""

    kind: ClassVar[str] = "network"
    edges: tuple[Edge, ...]
    egress: tuple[str, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class KubernetesHints:
    """Settings only the Kubernetes target reads."""

    namespace: str
    context: str | None
    region_label: str
    storage_class: str | None
    ingress_class: str | None
    ingress_host: str | None
    tls_issuer: str | None
    tls_secret: str | None
    streams_via: Literal["exec", "job"] = "exec"
    """How `koyalite up` declares the event bus's streams (components/kubernetes/parts.py EventBus)."""


@dataclass(frozen=True, slots=True)
class DockerHints:
    """Settings only the Docker target reads."""

    host: str | None
    publish: tuple[tuple[str, int], ...]
    bind: str


@dataclass(frozen=True, slots=True)
class EdgeCron:
    """A cron job that calls a function on a hosted platform: the platform's own scheduler runs it (in UTC)."""

    name: str
    schedule: str
    function: str
    suspend: bool


@dataclass(frozen=True, slots=True)
class EdgeApp:
    """The functions an environment runs on one hosted edge platform: one Cloudflare Worker, or one Deno Deploy app.

    Not a part: the targets do not translate it, the platform's own project (provisioner/targets/edge) is deployed
    beside them (components/edge.py)."""

    platform: str
    """cloudflare-workers or deno-deploy."""
    name: str
    """The Worker's or the app's name."""
    account: str
    """Cloudflare account ID, or Deno Deploy organization."""
    functions: tuple[FunctionCode, ...]
    crons: tuple[EdgeCron, ...]
    shared: tuple[tuple[str, str], ...]
    """Project settings every function reads (KOYALITE_API_URL, …)."""
    verify_jwt: bool
    jwt_secret: str | None
    """The secret holding the project's JWT signing key, when verify_jwt."""
    compatibility_date: str = ""
    routes: tuple[tuple[str, str], ...] = ()
    """Cloudflare routes: (pattern, zone name)."""
    workers_dev: bool = False
    cpu_ms: int | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets the platform must hold, sorted."""
        names = {s.secret for fn in self.functions for s in fn.secrets} | ({self.jwt_secret} if self.jwt_secret else set())
        return tuple(sorted(names))


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one environment deploys, in a stable order."""

    project: str
    environment: str
    target: str
    protect: bool
    regions: tuple[str, ...]
    parts: tuple[Part, ...]
    kubernetes: KubernetesHints | None = None
    docker: DockerHints | None = None
    edge: tuple[EdgeApp, ...] = ()
    """Functions on hosted edge platforms, deployed beside the target's parts."""

    def of(self, kind: type[P]) -> tuple[P, ...]:
        """The parts of one type, in plan order."""
        return tuple(p for p in self.parts if isinstance(p, kind))

    def secret_keys(self) -> list[str]:
        """The names of the secrets the workloads and the hosted functions need, sorted."""
        return sorted({key for part in self.of(SecretSet) for key in part.keys} | {key for app in self.edge for key in app.secrets})
