"""SeaweedFS: Raft masters, volume servers per (region, rack) cell, filers, and the S3 gateway.

Objects, for a part named `P`:

- Service `P-master` (headless) and StatefulSet `P-master`: the Raft masters, each peer named by its stable
  DNS name; PodDisruptionBudget `P-master` keeps a majority.
- Service `P-volume` (headless) governing one StatefulSet `P-volume-<region>-<rack>` per placement cell,
  started with `-dataCenter=<region> -rack=<rack>` so replication `XYZ` sees the real topology;
  PodDisruptionBudget `P-volume` lets one volume server go at a time.
- Service `P-filer-headless` governing StatefulSet `P-filer` (embedded leveldb2 store on its claim), Service
  `P-filer` (ClusterIP, KOYALITE_FILER_URL) and PodDisruptionBudget `P-filer`.
- With S3 on: Deployment, Service (ClusterIP, KOYALITE_S3_URL) and PodDisruptionBudget `P-s3`.
"""

from __future__ import annotations

from provisioner.plan.model import SeaweedFS, Volume
from provisioner.targets.filer_events import filer_events
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import (
    Context,
    Obj,
    container_security,
    metadata,
    pdb,
    pod_dns,
    pod_security,
    region_affinity,
    resources,
    secret_env,
    selector,
    service,
    spread,
    statefulset,
    tmp_volume,
    volume_claim,
)

WEED = "/usr/bin/weed"
VOLUME_SIZE_LIMIT_MB = 1000
"""Size of one SeaweedFS volume (file); the upstream chart's default."""
CELL_LABEL = "koyalite.dev/cell"


def pod_name_env() -> Obj:
    """POD_NAME from the pod's own name: Kubernetes expands `$(POD_NAME)` in the arguments with it."""
    return {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def master_name(part: SeaweedFS) -> str:
    return f"{part.name}-master"


def volume_service_name(part: SeaweedFS) -> str:
    return f"{part.name}-volume"


def cell_name(part: SeaweedFS, region: str, rack: str) -> str:
    return f"{part.name}-volume-{region}-{rack}"


def filer_name(part: SeaweedFS) -> str:
    return f"{part.name}-filer"


def filer_headless_name(part: SeaweedFS) -> str:
    return f"{part.name}-filer-headless"


def s3_name(part: SeaweedFS) -> str:
    return f"{part.name}-s3"


def address(host: str, port: int, grpc_port: int) -> str:
    """A SeaweedFS server address; `host:port.grpc` only when gRPC is not on SeaweedFS's default port+10000."""
    return f"{host}:{port}" if grpc_port == port + 10000 else f"{host}:{port}.{grpc_port}"


def masters(part: SeaweedFS, ctx: Context) -> str:
    """Every master's stable address, in ordinal order: the `-peers` of the masters and the `-master` of the rest."""
    return ",".join(
        address(pod_dns(ctx, f"{master_name(part)}-{i}", master_name(part)), part.master_port, part.master_grpc_port)
        for i in range(part.masters)
    )


def cells(part: SeaweedFS) -> list[tuple[str, str, int]]:
    """(region, rack, servers) per placement cell, sorted."""
    counts: dict[tuple[str, str], int] = {}
    for server in part.volume_servers:
        counts[server.region, server.rack] = counts.get((server.region, server.rack), 0) + 1
    return [(region, rack, n) for (region, rack), n in sorted(counts.items())]


def http_probes(path: str, port: int, startup_budget_s: int, live_path: str | None = None) -> Obj:
    get = {"path": path, "port": port}
    live = {"path": live_path or path, "port": port}
    return {
        "startupProbe": {"httpGet": get, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": startup_budget_s // 5},
        "readinessProbe": {"httpGet": get, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
        "livenessProbe": {"httpGet": live, "periodSeconds": 20, "timeoutSeconds": 3, "failureThreshold": 5},
    }


def container(
    part: SeaweedFS, role: str, args: list[str], ports: list[tuple[str, int]], mounts: list[Obj], probes: Obj, env: list[Obj] | None = None
) -> Obj:
    """One `weed <role>` container, logging to stderr, with the restricted security context."""
    return {
        "name": role,
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "command": [WEED],
        "args": ["-logtostderr=true", role, *args],
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
        "env": [pod_name_env()] if env is None else env,
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": mounts,
        **probes,
    }


def pod(containers: list[Obj], ctx: Context, region: str | None = None) -> Obj:
    tmp, _ = tmp_volume()
    # OnRootMismatch: a volume server's claim holds many files; a recursive chown on every start is slow.
    found: Obj = {
        "securityContext": {**pod_security(), "fsGroupChangePolicy": "OnRootMismatch"},
        "containers": containers,
        "volumes": [tmp],
    }
    affinity = region_affinity(ctx, region) if region else None
    if affinity:
        found["affinity"] = affinity
    return found


def mounts(volume: Volume) -> list[Obj]:
    _, tmp = tmp_volume()
    return [{"name": volume.name, "mountPath": volume.mount_path}, tmp]


def claim(volume: Volume) -> Obj:
    return volume_claim(volume.name, volume.size, volume.storage_class)


def master(part: SeaweedFS, ctx: Context) -> list[Obj]:
    name = master_name(part)
    match = selector(ctx, part, "master")
    args = [
        f"-port={part.master_port}",
        f"-port.grpc={part.master_grpc_port}",
        f"-mdir={part.master_volume.mount_path}",
        f"-ip={pod_dns(ctx, '$(POD_NAME)', name)}",  # must equal this master's entry in -peers
        "-ip.bind=0.0.0.0",
        f"-peers={masters(part, ctx)}",
        f"-defaultReplication={part.replication}",
        f"-volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
    ]
    ports = [("http", part.master_port), ("grpc", part.master_grpc_port)]
    box = container(part, "master", args, ports, mounts(part.master_volume), http_probes("/cluster/status", part.master_port, 120))
    objs = [
        service(ctx, name, part, match, ports, headless=True, component="master"),
        statefulset(
            ctx,
            name,
            part,
            match,
            pod([box], ctx),
            service=name,
            replicas=part.masters,
            claims=[claim(part.master_volume)],
            parallel=True,  # Raft needs its peers up together to elect a leader
            component="master",
        ),
    ]
    if part.masters > 1:
        objs.append(pdb(ctx, name, part, match, component="master", quorum=part.masters // 2 + 1))
    return objs


def volume_cell(part: SeaweedFS, ctx: Context, region: str, rack: str, servers: int) -> Obj:
    name = cell_name(part, region, rack)
    governing = volume_service_name(part)
    args = [
        f"-port={part.volume_port}",
        f"-port.grpc={part.volume_grpc_port}",
        f"-dir={part.volume.mount_path}",
        "-max=0",  # as many volumes as the disk holds
        f"-dataCenter={region}",
        f"-rack={rack}",
        f"-ip={pod_dns(ctx, '$(POD_NAME)', governing)}",
        "-ip.bind=0.0.0.0",
        f"-master={masters(part, ctx)}",
    ]
    ports = [("http", part.volume_port), ("grpc", part.volume_grpc_port)]
    # /healthz fails while the server cannot reach the masters: right for readiness, wrong for liveness
    probes = http_probes("/healthz", part.volume_port, 120, live_path="/status")
    box = container(part, "volume", args, ports, mounts(part.volume), probes)
    return statefulset(
        ctx,
        name,
        part,
        {**selector(ctx, part, "volume"), CELL_LABEL: f"{region}-{rack}"},
        pod([box], ctx, region),
        service=governing,
        replicas=servers,
        claims=[claim(part.volume)],
        parallel=True,
        component="volume",
    )


def volumes(part: SeaweedFS, ctx: Context) -> list[Obj]:
    match = selector(ctx, part, "volume")
    ports = [("http", part.volume_port), ("grpc", part.volume_grpc_port)]
    objs = [service(ctx, volume_service_name(part), part, match, ports, headless=True, component="volume")]
    objs += [volume_cell(part, ctx, region, rack, n) for region, rack, n in cells(part)]
    total = len(part.volume_servers)
    if total > 1:
        objs.append(pdb(ctx, volume_service_name(part), part, match, component="volume"))
    return objs


def filer(part: SeaweedFS, ctx: Context) -> list[Obj]:
    name, governing = filer_name(part), filer_headless_name(part)
    match = selector(ctx, part, "filer")
    store = part.filer_volume.mount_path
    args = [
        f"-port={part.filer_port}",
        f"-port.grpc={part.filer_grpc_port}",
        f"-ip={pod_dns(ctx, '$(POD_NAME)', governing)}",  # filers find each other through the masters by this name
        "-ip.bind=0.0.0.0",
        f"-master={masters(part, ctx)}",
        f"-defaultStoreDir={store}",
    ]
    ports = [("http", part.filer_port), ("grpc", part.filer_grpc_port)]
    # the metadata store: leveldb2 on the claim, whether or not the image ships a filer.toml
    env = [pod_name_env(), {"name": "WEED_LEVELDB2_DIR", "value": f"{store}/filerldb2"}, {"name": "WEED_LEVELDB2_ENABLED", "value": "true"}]
    notify, notify_secrets = filer_events(part)
    env += [*({"name": k, "value": v} for k, v in notify.items()), *secret_env(ctx, notify_secrets)]
    box = container(part, "filer", args, ports, mounts(part.filer_volume), http_probes("/", part.filer_port, 120), env)
    objs = [
        service(ctx, governing, part, match, ports, headless=True, component="filer"),
        statefulset(
            ctx,
            name,
            part,
            match,
            pod([box], ctx),
            service=governing,
            replicas=part.filers,
            claims=[claim(part.filer_volume)],
            parallel=True,
            component="filer",
        ),
        service(ctx, name, part, match, ports, component="filer"),
    ]
    if part.filers > 1:
        objs.append(pdb(ctx, name, part, match, component="filer"))
    return objs


def s3(part: SeaweedFS, ctx: Context) -> list[Obj]:
    """The S3 gateway: stateless, one per filer (the plan has no count of its own)."""
    name = s3_name(part)
    match = selector(ctx, part, "s3")
    args = [
        f"-port={part.s3_port}",
        f"-filer={address(f'{filer_name(part)}.{ctx.namespace}.svc', part.filer_port, part.filer_grpc_port)}",
        "-ip.bind=0.0.0.0",
    ]
    _, tmp = tmp_volume()
    box = container(part, "s3", args, [("http", part.s3_port)], [tmp], http_probes("/status", part.s3_port, 60), env=[])
    replicas = part.filers
    spec = pod([box], ctx)
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(ctx, name, part, "s3"),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": match},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": metadata(ctx, name, part, "s3")["labels"]},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "topologySpreadConstraints": spread(ctx, match),
                    **spec,
                },
            },
        },
    }
    objs = [deployment, service(ctx, name, part, match, [("http", part.s3_port)], component="s3")]
    if replicas > 1:
        objs.append(pdb(ctx, name, part, match, component="s3"))
    return objs


@REGISTRY.register(SeaweedFS)
def translate(part: SeaweedFS, ctx: Context) -> list[Obj]:
    objs = [*master(part, ctx), *volumes(part, ctx), *filer(part, ctx)]
    if part.s3:
        objs += s3(part, ctx)
    return objs
