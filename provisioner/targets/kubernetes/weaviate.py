"""Weaviate: a StatefulSet started in parallel (Raft bootstrap), a headless Service for the cluster, API-key auth.

Objects, for a part named `P`:

- Service `P-headless` (headless, not-ready addresses published): gossip, data and Raft ports; CLUSTER_JOIN
  resolves it, and it governs the StatefulSet so each node keeps its name (CLUSTER_HOSTNAME = pod name).
- Service `P` (ClusterIP, never LoadBalancer): REST and gRPC (KOYALITE_WEAVIATE_URL, KOYALITE_WEAVIATE_GRPC).
- StatefulSet `P` (podManagementPolicy Parallel: Raft needs its voters up together to bootstrap).
- PodDisruptionBudget `P` when there is more than one node.
"""

from __future__ import annotations

from provisioner.plan.model import SeaweedFS, SecretEnv, Weaviate
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import (
    Context,
    Obj,
    container_security,
    pdb,
    pod_security,
    resources,
    secret_env,
    selector,
    service,
    statefulset,
    tmp_volume,
    volume_claim,
)

API_KEY_USER = "koyalite"
"""The identity Weaviate gives the one API key (AUTHENTICATION_APIKEY_USERS pairs users with keys by position)."""
QUERY_DEFAULTS_LIMIT = 100
QUERY_MAXIMUM_RESULTS = 100000
"""Both from the upstream Helm chart's defaults."""
TERMINATION_GRACE_S = 600
"""As the upstream chart: a node flushes its memtables and hands over Raft leadership before it stops."""


def headless_name(part: Weaviate) -> str:
    return f"{part.name}-headless"


def raft_join(part: Weaviate) -> str:
    """The Raft voters: the first `raft_bootstrap_expect` pods, by node name (= pod name)."""
    return ",".join(f"{part.name}-{i}" for i in range(part.raft_bootstrap_expect))


def backup_env(part: Weaviate, ctx: Context) -> list[Obj]:
    """backup-s3 refuses to start without a bucket; point it at the stack's own S3 gateway when there is one."""
    if "backup-s3" not in part.modules:
        return []
    found = [{"name": "BACKUP_S3_BUCKET", "value": f"{part.name}-backups"}]
    gateways = [p for p in ctx.plan.of(SeaweedFS) if p.s3]
    if gateways:
        found += [
            {"name": "BACKUP_S3_ENDPOINT", "value": f"{gateways[0].name}-s3.{ctx.namespace}.svc:{gateways[0].s3_port}"},
            {"name": "BACKUP_S3_USE_SSL", "value": "false"},
        ]
    return found


def env(part: Weaviate, ctx: Context) -> list[Obj]:
    def plain(name: str, value: object) -> Obj:
        return {"name": name, "value": str(value)}

    found: list[Obj] = [
        {"name": "CLUSTER_HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        plain("PERSISTENCE_DATA_PATH", part.volume.mount_path),
        plain("CLUSTER_GOSSIP_BIND_PORT", part.gossip_port),
        plain("CLUSTER_DATA_BIND_PORT", part.data_port),
        plain("CLUSTER_JOIN", f"{headless_name(part)}.{ctx.namespace}.svc"),
        plain("RAFT_PORT", part.raft_port),
        plain("RAFT_INTERNAL_RPC_PORT", part.raft_rpc_port),
        plain("RAFT_JOIN", raft_join(part)),
        plain("RAFT_BOOTSTRAP_EXPECT", part.raft_bootstrap_expect),
        plain("GRPC_PORT", part.grpc_port),
        plain("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED", "false"),
        plain("AUTHENTICATION_APIKEY_ENABLED", "true"),
        *secret_env(ctx, (SecretEnv("AUTHENTICATION_APIKEY_ALLOWED_KEYS", part.api_key_secret),)),
        plain("AUTHENTICATION_APIKEY_USERS", API_KEY_USER),
        plain("DEFAULT_VECTORIZER_MODULE", "none"),
    ]
    if part.modules:
        found.append(plain("ENABLE_MODULES", ",".join(sorted(part.modules))))
    found += [
        plain("QUERY_DEFAULTS_LIMIT", QUERY_DEFAULTS_LIMIT),
        plain("QUERY_MAXIMUM_RESULTS", QUERY_MAXIMUM_RESULTS),
        plain("REPLICATION_MINIMUM_FACTOR", part.replication_factor),
        *backup_env(part, ctx),
    ]
    return found


def container(part: Weaviate, ctx: Context) -> Obj:
    _, tmp = tmp_volume()
    return {
        "name": "weaviate",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        # `command` names the binary: `args` alone would replace an image's CMD (`weaviate --host ...` in ours) and
        # leave its entrypoint without a program to run (found on the node tier; upstream's image has the same PATH)
        "command": ["weaviate"],
        "args": ["--host", "0.0.0.0", "--port", str(part.http_port), "--scheme", "http", "--read-timeout=60s", "--write-timeout=60s"],
        "ports": [
            {"name": "http", "containerPort": part.http_port, "protocol": "TCP"},
            {"name": "grpc", "containerPort": part.grpc_port, "protocol": "TCP"},
            {"name": "gossip", "containerPort": part.gossip_port, "protocol": "TCP"},
            {"name": "gossip-udp", "containerPort": part.gossip_port, "protocol": "UDP"},  # memberlist probes over UDP
            {"name": "data", "containerPort": part.data_port, "protocol": "TCP"},
            {"name": "raft", "containerPort": part.raft_port, "protocol": "TCP"},
            {"name": "raft-rpc", "containerPort": part.raft_rpc_port, "protocol": "TCP"},
        ],
        "env": env(part, ctx),
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": [{"name": part.volume.name, "mountPath": part.volume.mount_path}, tmp],
        # The chart's timings: loading large shards can take many minutes, so liveness waits 15 minutes.
        "readinessProbe": {
            "httpGet": {"path": "/v1/.well-known/ready", "port": part.http_port},
            "initialDelaySeconds": 3,
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/v1/.well-known/live", "port": part.http_port},
            "initialDelaySeconds": 900,
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 30,
        },
    }


@REGISTRY.register(Weaviate)
def translate(part: Weaviate, ctx: Context) -> list[Obj]:
    match = selector(ctx, part)
    tmp, _ = tmp_volume()
    pod: Obj = {
        "securityContext": {**pod_security(), "fsGroupChangePolicy": "OnRootMismatch"},
        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
        "containers": [container(part, ctx)],
        "volumes": [tmp],
    }
    cluster_ports = [("gossip", part.gossip_port), ("data", part.data_port), ("raft", part.raft_port), ("raft-rpc", part.raft_rpc_port)]
    objs = [
        service(ctx, headless_name(part), part, match, cluster_ports, headless=True),
        service(ctx, part.name, part, match, [("http", part.http_port), ("grpc", part.grpc_port)]),
        statefulset(
            ctx,
            part.name,
            part,
            match,
            pod,
            service=headless_name(part),
            replicas=part.replicas,
            claims=[volume_claim(part.volume.name, part.volume.size, part.volume.storage_class)],
            parallel=True,
        ),
    ]
    if part.replicas > 1:
        objs.append(pdb(ctx, part.name, part, match))
    return objs
