"""Build the plan of one environment from a checked manifest: features and limits applied, names fixed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from provisioner.errors import Diagnostic, ManifestError
from provisioner.manifest import Checked, images
from provisioner.manifest.models import Function as ManifestFunction
from provisioner.manifest.models import Manifest, Service, Webhook
from provisioner.manifest.models.events import WEBHOOK_STREAM, Queue, Stream, captures, dead_letter_subject, parse_age, webhook_subjects
from provisioner.manifest.models.services import Health
from provisioner.manifest.models.services import Resources as ManifestResources
from provisioner.manifest.models.types import parse_bytes, parse_duration
from provisioner.manifest.naming import object_name
from provisioner.manifest.rules.dataplane import placement
from provisioner.manifest.rules.policy import enabled_services
from provisioner.plan.model import (
    Autoscale,
    ConsumerSpec,
    CronTask,
    DockerHints,
    Edge,
    EdgeApp,
    EdgeCron,
    EdgeRuntime,
    EventBus,
    EventWorker,
    FunctionCode,
    Image,
    KubernetesHints,
    LiteFS,
    LiteFSRegion,
    Network,
    Part,
    Plan,
    Probe,
    ProjectConfig,
    Resources,
    Route,
    SeaweedFS,
    SecretEnv,
    SecretSet,
    StatelessService,
    StreamSpec,
    Volume,
    VolumeServer,
    Weaviate,
)

FUNCTIONS_PREFIX = "/functions/v1"
"""Public path prefix of edge function routes."""

RUNTIME_HEALTH = "/_internal/health"


def _resources(r: ManifestResources) -> Resources:
    return Resources(r.requests.cpu, r.requests.memory, r.limits.cpu, r.limits.memory)


def _probe(health: Health, port: int) -> Probe:
    return Probe(
        health.path, port, int(parse_duration(health.period)), max(1, int(parse_duration(health.timeout))), health.failure_threshold
    )


def _env(values: dict[str, str | int | bool]) -> tuple[tuple[str, str], ...]:
    # booleans as YAML writes them (true/false), never Python's True/False
    return tuple(sorted((k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items()))


def _secrets(values: dict[str, str]) -> tuple[SecretEnv, ...]:
    return tuple(SecretEnv(env, secret) for env, secret in sorted(values.items()))


def _autoscale(m: object) -> Autoscale | None:
    scale = getattr(m, "autoscale", None)
    return Autoscale(scale.min, scale.max, scale.cpu) if scale else None


class _Builder:
    def __init__(self, checked: Checked, base_dir: Path | None) -> None:
        assert checked.environment is not None and checked.settings is not None
        self.m: Manifest = checked.manifest
        self.env = checked.environment
        self.settings = checked.settings
        self.base_dir = base_dir
        self.docker = self.settings.target == "docker"
        self.regions = tuple(self.m.project.regions)

    def name(self, *parts: str) -> str:
        return object_name(self.m.project.name, self.env, *parts)

    def image(self, component: str, image: str | None, tag: str | None, default_tag: str | None = None) -> Image:
        repository, resolved = images.resolve(self.m.project.registry, component, image, tag, default_tag or self.m.project.release)
        return Image(repository, resolved)

    def storage_class(self, own: str | None) -> str | None:
        k8s = self.settings.kubernetes
        return own or (k8s.storage_class if k8s else None)

    # --- parts -------------------------------------------------------------------------------

    def services(self) -> list[StatelessService]:
        found = []
        for role in enabled_services(self.m):
            s: Service = getattr(self.m.services, role)
            found.append(
                StatelessService(
                    name=self.name(role),
                    role=role,
                    image=self.image(role, s.image, s.tag),
                    replicas=s.autoscale.min if s.autoscale and s.replicas < s.autoscale.min else s.replicas,
                    autoscale=_autoscale(s),
                    resources=_resources(s.resources),
                    port=s.port,
                    metrics_port=s.metrics_port,
                    probe=_probe(s.health, s.port),
                    env=_env(s.env),
                    secrets=_secrets(s.secrets),
                )
            )
        return found

    def function_code(self, fn: ManifestFunction) -> FunctionCode:
        return FunctionCode(
            fn.name,
            fn.entrypoint,
            self.source(fn.entrypoint),
            tuple(fn.routes),
            _env(fn.env),
            _secrets(fn.secrets),
            parse_duration(fn.timeout),
            fn.memory,
        )

    def runtime(self) -> EdgeRuntime | None:
        """The self-hosted runtime, serving the functions no hosted platform runs (none left: no runtime)."""
        if not self.m.features.edge_functions:
            return None
        rt = self.m.functions.runtime
        mine = [fn for fn in sorted(self.m.functions.items, key=lambda f: f.name) if self.m.functions.platform_of(fn) == "self-hosted"]
        if not mine and self.m.functions.items:
            return None
        return EdgeRuntime(
            name=self.name("functions"),
            role="functions",
            image=self.image("edge-runtime", rt.image, rt.tag),
            replicas=rt.replicas,
            autoscale=_autoscale(rt),
            resources=_resources(rt.resources),
            port=rt.port,
            probe=Probe(RUNTIME_HEALTH, rt.port),
            verify_jwt=rt.verify_jwt,
            functions=tuple(self.function_code(fn) for fn in mine),
        )

    def edge(self) -> tuple[EdgeApp, ...]:
        """One app per hosted platform that runs functions: its functions, the cron jobs calling them, settings."""
        m = self.m
        if not m.features.edge_functions:
            return ()
        host = self._host()
        shared = {
            "KOYALITE_PROJECT": m.project.name,
            "KOYALITE_ENVIRONMENT": self.env,
            "KOYALITE_PUBLIC_URL": f"https://{host}" if host else "",
            "KOYALITE_API_URL": m.functions.api_url or (f"https://{host}" if host else ""),
        }
        jwt = m.services.auth.secrets.get("JWT_SECRET") if m.functions.runtime.verify_jwt else None
        apps = []
        for platform in ("cloudflare-workers", "deno-deploy"):
            functions = [fn for fn in sorted(m.functions.items, key=lambda f: f.name) if self.m.functions.platform_of(fn) == platform]
            if not functions:
                continue
            names = {fn.name for fn in functions}
            crons = tuple(
                EdgeCron(job.name, job.schedule, job.function, job.suspend)
                for job in sorted(m.cron, key=lambda j: j.name)
                if m.features.cron and job.function in names
            )
            app = EdgeApp(
                platform=platform,
                name=f"{m.project.name}-{self.env}-functions",
                account="",
                functions=tuple(self.function_code(fn) for fn in functions),
                crons=crons,
                shared=tuple(sorted(shared.items())),
                verify_jwt=m.functions.runtime.verify_jwt,
                jwt_secret=jwt,
            )
            cf, dd = m.functions.cloudflare, m.functions.deno_deploy
            if platform == "cloudflare-workers" and cf is not None:  # the rules ask for the settings
                longest = max(fn.timeout_s for fn in app.functions)
                app = replace(
                    app,
                    name=cf.name or app.name,
                    account=cf.account_id,
                    compatibility_date=cf.compatibility_date,
                    routes=tuple((r.pattern, r.zone_name) for r in cf.routes),
                    workers_dev=cf.workers_dev,
                    cpu_ms=cf.cpu_ms or min(300_000, int(longest * 1000)),
                )
            elif platform == "deno-deploy" and dd is not None:
                app = replace(app, name=dd.app or app.name, account=dd.org)
            apps.append(app)
        return tuple(apps)

    def source(self, entrypoint: str) -> str:
        if self.base_dir is None:
            return ""
        path = self.base_dir / entrypoint
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(
                [
                    Diagnostic(
                        f"cannot read function source {entrypoint}: {exc}", "functions.items", hint="check the file exists and is UTF-8"
                    )
                ]
            ) from None

    def litefs(self) -> LiteFS:
        db = self.m.database
        primary = db.primary_region or self.regions[0]
        regions = []
        for region in self.regions:
            nodes = db.replicas.get(region, 0) + (db.candidates if region == primary else 0)
            if nodes:
                regions.append(LiteFSRegion(region, self.name("litefs", region), nodes, region == primary))
        consul = db.consul
        return LiteFS(
            name=self.name("litefs"),
            role="litefs",
            image=self.image("litefs", db.image, None),
            primary_region=primary,
            regions=tuple(regions),
            lease=db.lease,
            consul_url=consul.url if consul else None,
            consul_key=(consul.key or f"litefs/{self.m.project.name}-{self.env}") if consul else None,
            consul_ttl=consul.ttl if consul else "10s",
            volume=Volume("data", "/var/lib/litefs", db.volume, self.storage_class(db.storage_class)),
            resources=_resources(db.resources),
        )

    def seaweedfs(self) -> SeaweedFS | None:
        if not self.m.features.storage:
            return None
        s = self.m.storage
        regions = (self.regions[0],) if self.docker else self.regions
        cells = placement(s.volume_servers, len(regions), s.racks)
        servers: list[VolumeServer] = []
        for (region, rack), count in sorted(cells.items()):
            servers += [VolumeServer(regions[region], f"rack{rack + 1}", 0) for _ in range(count)]
        numbered = [VolumeServer(v.region, v.rack, i) for i, v in enumerate(sorted(servers, key=lambda v: (v.region, v.rack)))]
        sc = self.storage_class(s.storage_class)
        return SeaweedFS(
            name=self.name("seaweedfs"),
            role="seaweedfs",
            image=self.image("seaweedfs", s.image, None, images.SEAWEEDFS_VERSION),
            masters=s.masters,
            master_volume=Volume("master", "/data", s.master_volume, sc),
            volume_servers=tuple(numbered),
            volume=Volume("data", "/data", s.volume, sc),
            filers=s.filer.replicas,
            filer_volume=Volume("filer", "/data", s.filer.volume, sc),
            s3=s.s3,
            replication=s.replication,
            resources=_resources(s.resources),
        )

    def weaviate(self) -> Weaviate | None:
        if not self.m.features.search:
            return None
        w = self.m.search
        # Weaviate's own rule for RAFT voters (helm chart): 1 below 3 nodes, 3 up to 9, then 5.
        expect = 1 if w.replicas < 3 else 3 if w.replicas < 10 else 5
        return Weaviate(
            name=self.name("weaviate"),
            role="weaviate",
            image=self.image("weaviate", w.image, None, images.WEAVIATE_VERSION),
            replicas=w.replicas,
            shards=w.shards,
            replication_factor=w.replication_factor,
            modules=tuple(sorted(w.modules)),
            volume=Volume("data", "/var/lib/weaviate", w.volume, self.storage_class(w.storage_class)),
            resources=_resources(w.resources),
            api_key_secret=w.api_key_secret,
            raft_bootstrap_expect=expect,
        )

    def cron(self, runtime: EdgeRuntime | None) -> list[CronTask]:
        if not self.m.features.cron:
            return []
        tasks = []
        hosted = {fn.name for fn in self.m.functions.items if self.m.functions.platform_of(fn) != "self-hosted"}
        for job in sorted(self.m.cron, key=lambda j: j.name):
            if job.function is not None:
                if runtime is None or job.function in hosted:
                    continue  # the rules refuse the first; the platform's own scheduler calls the second (edge())
                url = f"http://{runtime.name}:{runtime.port}/{job.function}"
            else:
                assert job.url is not None
                url = job.url
            tasks.append(
                CronTask(
                    name=self.name("cron", job.name),
                    role="cron",
                    schedule=job.schedule,
                    timezone=job.timezone,
                    url=url,
                    function=job.function,
                    deadline_s=int(parse_duration(job.deadline)),
                    suspend=job.suspend,
                    image=self.image("cron", None, None),
                )
            )
        return tasks

    def events(self, runtime: EdgeRuntime | None) -> list[Part]:
        """The bus and its worker: the declared streams (and the one webhook events need), a consumer per queue and
        per webhook and stream it reads."""
        m = self.m
        if not m.features.events:
            return []
        bus = m.events.bus
        servers = 1 if self.settings.target == "docker" else bus.replicas
        hooks = sorted(m.webhooks, key=lambda h: h.name) if m.features.webhooks else []
        streams = [_stream(s) for s in m.events.streams]
        needed = webhook_subjects(m.events.streams, [(h.name, list(h.events)) for h in hooks])
        if needed:
            streams.append(
                StreamSpec(
                    WEBHOOK_STREAM,
                    tuple(needed),
                    7 * 86400,
                    min(parse_bytes("1Gi"), parse_bytes(bus.volume)),
                    -1,
                    "file",
                    min(3, servers),
                    "old",
                )
            )
        consumers = [c for q in sorted(m.events.queues, key=lambda q: q.name) if (c := self._queue(q, runtime)) is not None]
        for hook in hooks:
            consumers += _webhook_consumers(hook, streams)
        name = self.name("nats")
        event_bus = EventBus(
            name=name,
            role="nats",
            image=self.image("nats", bus.image, None, images.NATS_VERSION),
            servers=servers,
            volume=Volume("data", "/data", bus.volume, self.storage_class(bus.storage_class)),
            resources=_resources(bus.resources),
            streams=tuple(streams),
            consumers=tuple(consumers),
        )
        worker = EventWorker(
            name=self.name("events"),
            role="events",
            image=self.image("events", None, None),
            replicas=1 if servers == 1 else 2,
            resources=Resources("50m", "64Mi", "500m", "256Mi"),
            bus_url=f"nats://{name}:{event_bus.client_port}",
            user=event_bus.user,
            password_secret=event_bus.password_secret,
            consumers=tuple(consumers),
            publish=tuple(sorted({p for s in streams for p in s.subjects})),
        )
        return [event_bus, worker]

    def _queue(self, queue: Queue, runtime: EdgeRuntime | None) -> ConsumerSpec | None:
        if queue.function is not None:
            fn = next((f for f in runtime.functions if f.name == queue.function), None) if runtime else None
            if runtime is None or fn is None:
                return None  # the rules refuse both: a disabled runtime, or a function on a hosted platform
            url, secret, timeout = f"http://{runtime.name}:{runtime.port}/{fn.name}", None, fn.timeout_s
        else:
            hook = next(h for h in self.m.webhooks if h.name == queue.webhook)
            url, secret, timeout = hook.url, hook.secret, parse_duration(hook.timeout)
        return ConsumerSpec(
            name=f"queue-{queue.name}",
            stream=queue.stream,
            subjects=tuple(queue.subjects),
            deliver="function" if queue.function else "webhook",
            target=queue.function or queue.webhook or "",
            url=url,
            secret=secret,
            ack_wait_s=max(parse_duration(queue.ack_wait), timeout + 5),
            max_deliver=queue.max_deliver,
            backoff_s=tuple(parse_duration(b) for b in queue.backoff) or (1.0,),
            max_in_flight=queue.max_in_flight,
            timeout_s=timeout,
            dead_letter=dead_letter_subject("queue", queue.name, queue.dead_letter),
        )

    def config(self, parts: Iterable[Part]) -> ProjectConfig:
        m = self.m
        data: dict[str, str] = {
            "KOYALITE_PROJECT": m.project.name,
            "KOYALITE_ENVIRONMENT": self.env,
            "KOYALITE_REGIONS": ",".join(self.regions),
            "KOYALITE_PUBLIC_URL": f"https://{self._host()}" if self._host() else "",
            "KOYALITE_LIMIT_MAX_FUNCTIONS": str(m.limits.max_functions),
            "KOYALITE_LIMIT_MAX_CRON_JOBS": str(m.limits.max_cron_jobs),
            "KOYALITE_LIMIT_MAX_WEBHOOKS": str(m.limits.max_webhooks),
            "KOYALITE_LIMIT_MAX_DB_SIZE": m.limits.max_db_size,
            "KOYALITE_LIMIT_MAX_UPLOAD_SIZE": m.limits.max_upload_size,
            "KOYALITE_LIMIT_STORAGE_QUOTA": m.limits.storage_quota or "",
            "KOYALITE_RATE_LIMIT_RPS": str(m.limits.rate_limit.rps),
            "KOYALITE_RATE_LIMIT_BURST": str(m.limits.rate_limit.burst),
        }
        for flag in type(m.features).model_fields:
            data[f"KOYALITE_FEATURE_{flag.upper()}"] = str(m.features.enabled(flag)).lower()
        for flag, on in m.features.namespaced.items():
            data[f"KOYALITE_FEATURE_{flag.upper().replace('.', '_')}"] = str(on).lower()
        for part in parts:
            for key, url in _urls(part):
                data[key] = url
        return ProjectConfig(name=self.name("config"), role="config", data=tuple(sorted(data.items())))

    def _host(self) -> str | None:
        k8s = self.settings.kubernetes
        if k8s and k8s.ingress:
            return k8s.ingress.host or self.m.project.domain
        return self.m.project.domain if not self.docker else None

    def secret_set(self, parts: Iterable[Part]) -> SecretSet:
        keys: set[str] = set()
        for part in parts:
            if isinstance(part, StatelessService):
                keys |= {s.secret for s in part.secrets}
            if isinstance(part, EdgeRuntime):
                keys |= {s.secret for fn in part.functions for s in fn.secrets}
            if isinstance(part, Weaviate):
                keys.add(part.api_key_secret)
            if isinstance(part, EventWorker):
                keys |= {s.secret for s in part.secrets}
            if isinstance(part, SeaweedFS) and part.notify_token_secret:
                keys.add(part.notify_token_secret)
        return SecretSet(name=self.name("secrets"), role="secrets", keys=tuple(sorted(keys)))

    def network(self, parts: list[Part]) -> Network:
        roles = {p.role for p in parts}
        ports = {p.role: p.port for p in parts if isinstance(p, StatelessService | EdgeRuntime)}
        edges: set[Edge] = set()

        def allow(source: str, target: str, *target_ports: int) -> None:
            if source in roles and target in roles:
                edges.update(Edge(source, target, port) for port in target_ports)

        db = next(p for p in parts if isinstance(p, LiteFS))
        for role in ("api", "auth", "project", "rls"):
            allow(role, "litefs", db.proxy_port)
        allow("litefs", "litefs", db.api_port)
        for role in ("auth", "project", "rls", "search", "email", "functions"):
            if role in ports:
                allow("api", role, ports[role])
        allow("auth", "email", ports.get("email", 0))
        allow("studio", "api", ports.get("api", 0))
        allow("functions", "api", ports.get("api", 0))
        allow("cron", "functions", ports.get("functions", 0))
        for sw in (p for p in parts if isinstance(p, SeaweedFS)):
            allow(
                "seaweedfs",
                "seaweedfs",
                sw.master_port,
                sw.master_grpc_port,
                sw.volume_port,
                sw.volume_grpc_port,
                sw.filer_port,
                sw.filer_grpc_port,
            )
            allow("api", "seaweedfs", sw.s3_port if sw.s3 else sw.filer_port)
        for w in (p for p in parts if isinstance(p, Weaviate)):
            allow("weaviate", "weaviate", w.gossip_port, w.data_port, w.raft_port, w.raft_rpc_port)
            allow("search", "weaviate", w.http_port, w.grpc_port)
        for bus in (p for p in parts if isinstance(p, EventBus)):
            allow("nats", "nats", bus.cluster_port)
            allow("events", "nats", bus.client_port)
            if bus.streams or bus.consumers:  # the one-shot that declares them (no part of its own)
                edges.add(Edge(bus.streams_role, "nats", bus.client_port))
        for worker in (p for p in parts if isinstance(p, EventWorker)):
            for role in ("api", "auth", "project", "rls", "search", "email", "functions"):
                allow(role, "events", worker.port)
            allow("events", "functions", ports.get("functions", 0))
            if worker.source_token_secret:
                allow("seaweedfs", "events", worker.port)
        egress = {"api", "email", "functions"} & roles
        if any(isinstance(p, EventWorker) and any(c.deliver == "webhook" for c in p.consumers) for p in parts):
            egress.add("events")
        if any(isinstance(p, CronTask) and p.function is None for p in parts):
            egress.add("cron")
        routes = [Route("/", "api", ports["api"])]
        if "studio" in ports:
            routes.append(Route("/studio", "studio", ports["studio"]))
        if "functions" in ports:
            routes.append(Route(FUNCTIONS_PREFIX, "functions", ports["functions"]))
        return Network(
            name=self.name("network"),
            role="network",
            edges=tuple(sorted(e for e in edges if e.port)),
            egress=tuple(sorted(egress)),
            routes=tuple(routes),
        )

    def hints(self) -> tuple[KubernetesHints | None, DockerHints | None]:
        s = self.settings
        if s.target == "docker":
            d = s.docker
            publish = d.publish if d else {"api": 8000, "studio": 3000}
            return None, DockerHints(d.host if d else None, tuple(sorted(publish.items())), d.bind if d else "127.0.0.1")
        k = s.kubernetes
        ingress = k.ingress if k else None
        return KubernetesHints(
            namespace=(k.namespace if k and k.namespace else self.name()),
            context=k.context if k else None,
            region_label=k.region_label if k else "topology.kubernetes.io/region",
            storage_class=k.storage_class if k else None,
            ingress_class=ingress.class_name if ingress else None,
            ingress_host=self._host() if ingress else None,
            tls_issuer=ingress.tls.issuer if ingress and ingress.tls else None,
            tls_secret=ingress.tls.secret if ingress and ingress.tls else None,
            streams_via=k.streams_via if k else "exec",
        ), None

    def build(self) -> Plan:
        runtime = self.runtime()
        parts: list[Part] = [*self.services()]
        optional: list[Part | None] = [runtime, self.litefs(), self.seaweedfs(), self.weaviate()]
        parts += [p for p in optional if p is not None]
        parts += self.events(runtime)
        parts = _storage_events(parts)
        parts += self.cron(runtime)
        parts = [self.config(parts), self.secret_set(parts), *parts]
        parts.append(self.network(parts))
        kubernetes, docker = self.hints()
        return Plan(
            project=self.m.project.name,
            environment=self.env,
            target=self.settings.target,
            protect=self.settings.protect,
            regions=self.regions,
            parts=tuple(parts),
            kubernetes=kubernetes,
            docker=docker,
            edge=self.edge(),
        )


STORAGE_EVENTS = ("storage.object.created", "storage.object.deleted")
SOURCE_TOKEN = "events_source_token"


def _storage_events(parts: list[Part]) -> list[Part]:
    """The filers report object creates and deletes to the event worker when a stream keeps those events."""
    storage = next((p for p in parts if isinstance(p, SeaweedFS)), None)
    worker = next((p for p in parts if isinstance(p, EventWorker)), None)
    if storage is None or worker is None or not any(captures(f, e) for f in worker.publish for e in STORAGE_EVENTS):
        return parts
    notified = replace(storage, notify_url=f"http://{worker.name}:{worker.port}/sources/seaweedfs", notify_token_secret=SOURCE_TOKEN)
    return [notified if p is storage else replace(p, source_token_secret=SOURCE_TOKEN) if p is worker else p for p in parts]


def _stream(stream: Stream) -> StreamSpec:
    return StreamSpec(
        stream.name,
        tuple(stream.subjects),
        parse_age(stream.max_age) if stream.max_age else 0,
        parse_bytes(stream.max_bytes) if stream.max_bytes else -1,
        stream.max_msgs or -1,
        stream.storage,
        stream.replicas,
        stream.discard,
    )


def _webhook_consumers(hook: Webhook, streams: list[StreamSpec]) -> list[ConsumerSpec]:
    """One consumer per stream that keeps some of the webhook's events (most webhooks read one stream)."""
    retry, timeout = hook.retry, parse_duration(hook.timeout)
    first, most = parse_duration(retry.initial_interval), parse_duration(retry.max_interval)
    waits = [min(most, first * (2**i if retry.backoff == "exponential" else 1)) for i in range(max(1, retry.max_attempts - 1))]
    by_stream: dict[str, list[str]] = {}
    for event in hook.events:
        stream = next(s for s in streams if any(captures(p, event) for p in s.subjects))
        by_stream.setdefault(stream.name, []).append(event)
    return [
        ConsumerSpec(
            name=f"webhook-{hook.name}" if len(by_stream) == 1 else f"webhook-{hook.name}-{stream}",
            stream=stream,
            subjects=tuple(events),
            deliver="webhook",
            target=hook.name,
            url=hook.url,
            secret=hook.secret,
            ack_wait_s=timeout + 5,
            max_deliver=retry.max_attempts,
            backoff_s=tuple(waits),
            max_in_flight=1,
            timeout_s=timeout,
            dead_letter=dead_letter_subject("webhook", hook.name),
        )
        for stream, events in sorted(by_stream.items())
    ]


def _urls(part: Part) -> list[tuple[str, str]]:
    """Service discovery: KOYALITE_<ROLE>_URL for every part others call."""
    if isinstance(part, StatelessService | EdgeRuntime):
        return [(f"KOYALITE_{part.role.upper()}_URL", f"http://{part.name}:{part.port}")]
    if isinstance(part, LiteFS):
        primary = next(r for r in part.regions if r.candidate)
        return [
            ("KOYALITE_DATABASE_URL", f"http://{part.name}:{part.proxy_port}"),
            ("KOYALITE_DATABASE_PRIMARY_URL", f"http://{primary.name}:{part.proxy_port}"),
        ]
    if isinstance(part, SeaweedFS):
        found = [("KOYALITE_FILER_URL", f"http://{part.name}-filer:{part.filer_port}")]
        if part.s3:
            found.append(("KOYALITE_S3_URL", f"http://{part.name}-s3:{part.s3_port}"))
        return found
    if isinstance(part, Weaviate):
        return [
            ("KOYALITE_WEAVIATE_URL", f"http://{part.name}:{part.http_port}"),
            ("KOYALITE_WEAVIATE_GRPC", f"{part.name}:{part.grpc_port}"),
        ]
    if isinstance(part, EventWorker):
        return [("KOYALITE_EVENTS_URL", f"http://{part.name}:{part.port}")]
    if isinstance(part, EventBus):
        return [("KOYALITE_NATS_URL", f"nats://{part.name}:{part.client_port}")]
    return []


def build(checked: Checked, base_dir: Path | None = None) -> Plan:
    """The plan of the checked environment; function sources are read from base_dir when given."""
    if checked.environment is None or checked.settings is None:
        raise ValueError("a plan is built for one environment; check the manifest with an environment first")
    return _Builder(checked, base_dir).build()
