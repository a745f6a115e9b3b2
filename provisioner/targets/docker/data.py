"""The data plane on Docker: LiteFS nodes, SeaweedFS roles and Weaviate nodes, each with a named volume."""

from __future__ import annotations

from provisioner.plan.model import LiteFS, SeaweedFS, SecretEnv, Weaviate
from provisioner.targets.docker import REGISTRY
from provisioner.targets.docker.common import Context, Obj, container, healthcheck, volume
from provisioner.targets.filer_events import filer_events
from provisioner.targets.litefs_config import LITEFS_CONFIG, litefs_config


@REGISTRY.register(LiteFS)
def litefs(part: LiteFS, ctx: Context) -> list[Obj]:
    """Every region's nodes run side by side; the primary region's first node holds the static lease.

    LiteFS mounts a FUSE filesystem: its containers get /dev/fuse and CAP_SYS_ADMIN and run as root — the one
    exception to the restricted defaults, for the same reason as on Kubernetes.
    """
    primary = next(r for r in part.regions if r.candidate)
    primary_node = f"{primary.name}-0"
    config = {"path": LITEFS_CONFIG, "content": litefs_config(part, primary_host=primary_node, candidate="${LITEFS_CANDIDATE}")}
    objs: list[Obj] = []
    for region in part.regions:
        for i in range(region.nodes):
            name = f"{region.name}-{i}"
            candidate = region.candidate and (part.lease == "consul" or i == 0)
            env = {"LITEFS_CANDIDATE": str(candidate).lower(), "LITEFS_HOSTNAME": name, "KOYALITE_REGION": region.region}
            # Writes go to the primary only (KOYALITE_DATABASE_PRIMARY_URL): LiteFS's proxy answers a write on a
            # replica with a fly-replay header instead of forwarding it, so only the static primary carries that alias.
            aliases = [part.name, primary.name] if name == primary_node and part.lease == "static" else [part.name]
            spec = container(
                ctx,
                part,
                name,
                str(part.image),
                component="litefs",
                command=["litefs", "mount", "-config", LITEFS_CONFIG],
                env=env,
                volumes=[{"volume": name, "target": part.data_dir}],
                files=[config],
                health=healthcheck(part.proxy_port, "/litefs/health", start_s=60),
                resources=part.resources,
                aliases=aliases,
                depends_on=[] if name == primary_node else [primary_node],
                restricted=False,
            )
            spec.update({"devices": ["/dev/fuse"], "cap_add": ["SYS_ADMIN"], "security_opt": ["apparmor:unconfined"]})
            objs += [volume(ctx, part, name, "litefs"), spec]
    return objs


@REGISTRY.register(SeaweedFS)
def seaweedfs(part: SeaweedFS, ctx: Context) -> list[Obj]:
    """Masters first, then volume servers, then filers, then the S3 gateway: each waits for the one before."""
    base, image = part.name, str(part.image)
    masters = [f"{base}-master-{i}" for i in range(part.masters)]
    peers = ",".join(f"{m}:{part.master_port}" for m in masters)
    objs: list[Obj] = []
    for name in masters:
        command = [
            "weed",
            "master",
            f"-ip={name}",
            "-ip.bind=0.0.0.0",
            f"-port={part.master_port}",
            "-mdir=/data",
            f"-peers={peers}",
            f"-defaultReplication={part.replication}",
            "-volumeSizeLimitMB=1000",
        ]
        objs += [
            volume(ctx, part, name, "master"),
            container(
                ctx,
                part,
                name,
                image,
                component="master",
                command=command,
                resources=part.resources,
                volumes=[{"volume": name, "target": "/data"}],
                health=healthcheck(part.master_port, "/cluster/status"),
                koyalite_config=False,
            ),
        ]
    servers = [f"{base}-volume-{v.ordinal}" for v in part.volume_servers]
    for server, name in zip(part.volume_servers, servers, strict=True):
        command = [
            "weed",
            "volume",
            f"-ip={name}",
            "-ip.bind=0.0.0.0",
            f"-port={part.volume_port}",
            "-dir=/data",
            "-max=0",
            f"-master={peers}",
            f"-dataCenter={server.region}",
            f"-rack={server.rack}",
        ]
        objs += [
            volume(ctx, part, name, "volume"),
            container(
                ctx,
                part,
                name,
                image,
                component="volume",
                command=command,
                volumes=[{"volume": name, "target": "/data"}],
                health=healthcheck(part.volume_port, "/status"),
                resources=part.resources,
                depends_on=masters,
                koyalite_config=False,
            ),
        ]
    filers = [f"{base}-filer-{i}" for i in range(part.filers)]
    notify, notify_secrets = filer_events(part)
    for name in filers:
        command = [
            "weed",
            "filer",
            f"-ip={name}",
            "-ip.bind=0.0.0.0",
            f"-port={part.filer_port}",
            f"-master={peers}",
            f"-defaultReplicaPlacement={part.replication}",
        ]
        objs += [
            volume(ctx, part, name, "filer"),
            container(
                ctx,
                part,
                name,
                image,
                component="filer",
                command=command,
                resources=part.resources,
                volumes=[{"volume": name, "target": "/data"}],
                env={"WEED_LEVELDB2_ENABLED": "true", "WEED_LEVELDB2_DIR": "/data/filerldb2", **notify},
                secrets=notify_secrets,
                health=healthcheck(part.filer_port, "/"),
                aliases=[f"{base}-filer"],
                depends_on=servers,
                koyalite_config=False,
            ),
        ]
    if part.s3:
        name = f"{base}-s3"
        command = ["weed", "s3", "-ip.bind=0.0.0.0", f"-port={part.s3_port}", f"-filer={filers[0]}:{part.filer_port}"]
        objs.append(
            container(
                ctx,
                part,
                name,
                image,
                component="s3",
                command=command,
                resources=part.resources,
                health=healthcheck(part.s3_port, "/status"),
                port=part.s3_port,
                depends_on=filers,
                koyalite_config=False,
            )
        )
    return objs


def backup_env(part: Weaviate, ctx: Context) -> dict[str, str]:
    """backup-s3 refuses to start without a bucket; point it at the stack's own S3 gateway when there is one."""
    if "backup-s3" not in part.modules:
        return {}
    found = {"BACKUP_S3_BUCKET": f"{part.name}-backups"}
    gateways = [p for p in ctx.plan.of(SeaweedFS) if p.s3]
    if gateways:
        found |= {"BACKUP_S3_ENDPOINT": f"{gateways[0].name}-s3:{gateways[0].s3_port}", "BACKUP_S3_USE_SSL": "false"}
    return found


@REGISTRY.register(Weaviate)
def weaviate(part: Weaviate, ctx: Context) -> list[Obj]:
    nodes = [f"{part.name}-{i}" for i in range(part.replicas)]
    voters = ",".join(nodes[: part.raft_bootstrap_expect])
    objs: list[Obj] = []
    for i, name in enumerate(nodes):
        env = {
            "PERSISTENCE_DATA_PATH": part.volume.mount_path,
            "CLUSTER_HOSTNAME": name,
            "CLUSTER_GOSSIP_BIND_PORT": str(part.gossip_port),
            "CLUSTER_DATA_BIND_PORT": str(part.data_port),
            "RAFT_PORT": str(part.raft_port),
            "RAFT_INTERNAL_RPC_PORT": str(part.raft_rpc_port),
            "RAFT_JOIN": voters,
            "RAFT_BOOTSTRAP_EXPECT": str(part.raft_bootstrap_expect),
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
            "AUTHENTICATION_APIKEY_ENABLED": "true",
            "AUTHENTICATION_APIKEY_USERS": "koyalite",
            "DEFAULT_VECTORIZER_MODULE": "none",
            "REPLICATION_MINIMUM_FACTOR": str(part.replication_factor),
            "QUERY_DEFAULTS_LIMIT": "100",
        }
        if part.modules:
            env["ENABLE_MODULES"] = ",".join(part.modules)
        env |= backup_env(part, ctx)
        if i > 0:
            env["CLUSTER_JOIN"] = f"{nodes[0]}:{part.gossip_port}"
        objs += [
            volume(ctx, part, name, "weaviate"),
            container(
                ctx,
                part,
                name,
                str(part.image),
                component="weaviate",
                env=env,
                secrets=(SecretEnv("AUTHENTICATION_APIKEY_ALLOWED_KEYS", part.api_key_secret),),
                volumes=[{"volume": name, "target": part.volume.mount_path}],
                health=healthcheck(part.http_port, "/v1/.well-known/ready", start_s=60),
                resources=part.resources,
                aliases=[part.name],
                depends_on=nodes[:1] if i > 0 else [],
                koyalite_config=False,
            ),
        ]
    return objs
