"""The event bus on Kubernetes: a NATS cluster with JetStream, its streams and consumers, and the event worker.

Objects, for a bus named `B` and a worker named `W`:

- ConfigMap `B-config`: nats.conf (no secret: the password is `$NATS_PASSWORD`, from the environment's Secret).
- Service `B-headless` (headless, not-ready addresses published): client and cluster ports; it governs the
  StatefulSet, so each server keeps its name and the cluster routes resolve (`B-<i>.B-headless`).
- Service `B` (ClusterIP): the client port (KOYALITE_NATS_URL).
- StatefulSet `B` (podManagementPolicy Parallel: a JetStream cluster needs its peers up together to elect a
  leader), a claim per server, kept when the set is deleted or scaled down.
- PodDisruptionBudget `B` when there are 3 or more servers: never fewer than a quorum.
- ConfigMap `B-streams` (every declared stream and consumer configuration) and Job `B-streams-<hash>`: the nats CLI
  creates or updates them once the servers answer (idempotent; it deletes nothing, and a change NATS refuses fails
  the Job and so the deploy). A new configuration is a new Job (a Job's pods cannot change). `koyalite up` uses
  the Job only with `kubernetes.streams_via: job`; by default it declares the ConfigMap's streams and consumers
  as guarded resources instead (components/kubernetes/parts.py EventBus).
- ConfigMap `W` and Deployment `W` (koyalite-events) with its Service and, with 2 replicas, a PodDisruptionBudget.
"""

from __future__ import annotations

import hashlib
import json

from provisioner.manifest.models.types import parse_bytes
from provisioner.plan.model import EventBus, EventWorker, SecretEnv
from provisioner.targets.json_file import json_file
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import (
    Context,
    Obj,
    config_from,
    container_security,
    deployment,
    drain,
    metadata,
    pdb,
    pod_dns,
    pod_security,
    probes,
    resources,
    secret_env,
    selector,
    service,
    statefulset,
    tmp_volume,
    volume_claim,
)
from provisioner.targets.nats_config import APPLY_DIR, APPLY_SCRIPT, SERVER_COMMAND, nats_config

EVENTS_FILE = "/etc/koyalite/events/events.json"
LEADER_ELECTION_S = 60
"""How long a server may take to join its cluster and start JetStream before its startup probe gives up."""


def headless_name(part: EventBus) -> str:
    return f"{part.name}-headless"


def _bus_container(part: EventBus, ctx: Context) -> Obj:
    _, tmp = tmp_volume()
    health = {"httpGet": {"path": "/healthz?js-enabled-only=true", "port": part.monitor_port}, "periodSeconds": 10, "timeoutSeconds": 3}
    return {
        "name": "nats",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "command": SERVER_COMMAND,
        "ports": [
            {"name": "client", "containerPort": part.client_port, "protocol": "TCP"},
            {"name": "cluster", "containerPort": part.cluster_port, "protocol": "TCP"},
            {"name": "monitor", "containerPort": part.monitor_port, "protocol": "TCP"},
        ],
        # NATS_URL, NATS_USER and NATS_PASSWORD are what the nats CLI reads: `kubectl exec` of it in a server (as
        # the stream resources do, components/kubernetes/nats.py) needs no credentials of its own
        "env": [
            {"name": "SERVER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NATS_URL", "value": f"nats://127.0.0.1:{part.client_port}"},
            {"name": "NATS_USER", "value": part.user},
            *secret_env(ctx, (_password(part),)),
        ],
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": part.volume.name, "mountPath": part.store_dir},
            {"name": "config", "mountPath": "/etc/nats", "readOnly": True},
            tmp,
        ],
        # Ready once JetStream runs (a cluster's JetStream needs its meta leader); live while the process answers.
        "readinessProbe": {**health, "failureThreshold": 3},
        "livenessProbe": {
            "httpGet": {"path": "/healthz?js-server-only=true", "port": part.monitor_port},
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "startupProbe": {**health, "periodSeconds": 2, "failureThreshold": LEADER_ELECTION_S // 2},
        # lame-duck mode (the server is PID 1): clients move to another server before this one stops
        "lifecycle": {"preStop": {"exec": {"command": ["nats-server", "--signal", "ldm=1"]}}},
    }


def _password(part: EventBus) -> SecretEnv:
    return SecretEnv("NATS_PASSWORD", part.password_secret)


def _apply_job(part: EventBus, ctx: Context) -> list[Obj]:
    """The ConfigMap of stream and consumer configurations and the Job that applies them with the nats CLI."""
    data = {"apply.sh": APPLY_SCRIPT}
    # stream.<name>.json, consumer.<stream>.<name>.json: NATS names have no dots
    data |= {f"stream.{s.name}.json": json_file(s.config()) for s in part.streams}
    data |= {f"consumer.{c.stream}.{c.name}.json": json_file(c.config()) for c in part.consumers}
    name = f"{part.name}-streams"
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
    items = [{"key": "apply.sh", "path": "apply.sh"}]
    items += [{"key": f"stream.{s.name}.json", "path": f"streams/{s.name}.json"} for s in part.streams]
    items += [{"key": f"consumer.{c.stream}.{c.name}.json", "path": f"consumers/{c.stream}/{c.name}.json"} for c in part.consumers]
    _, tmp = tmp_volume()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(ctx, f"{name}-{digest}", part, "streams"),
        "spec": {
            "backoffLimit": 10,
            "template": {
                # its own name label: the bus's Services select `nats` pods, and this one serves nothing
                "metadata": {"labels": {**metadata(ctx, name, part, "streams")["labels"], "app.kubernetes.io/name": part.streams_role}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "restartPolicy": "OnFailure",
                    "securityContext": pod_security(),
                    "containers": [
                        {
                            "name": "apply",
                            "image": str(part.image),
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", f"{APPLY_DIR}/apply.sh"],
                            "env": [
                                {"name": "NATS_URL", "value": f"nats://{part.name}:{part.client_port}"},
                                {"name": "NATS_USER", "value": part.user},
                                *secret_env(ctx, (_password(part),)),
                            ],
                            "resources": resources(part.resources),
                            "securityContext": container_security(),
                            "volumeMounts": [{"name": "streams", "mountPath": APPLY_DIR, "readOnly": True}, tmp],
                        }
                    ],
                    "volumes": [{"name": "streams", "configMap": {"name": name, "items": items}}, tmp_volume()[0]],
                },
            },
        },
    }
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(ctx, name, part, "streams"), "data": data}
    return [config, job]


@REGISTRY.register(EventBus)
def event_bus(part: EventBus, ctx: Context) -> list[Obj]:
    match = selector(ctx, part)
    tmp, _ = tmp_volume()
    routes = [f"nats://{pod_dns(ctx, f'{part.name}-{i}', headless_name(part))}:{part.cluster_port}" for i in range(part.servers)]
    config = nats_config(
        part,
        server_name="$SERVER_NAME",
        max_file_store=parse_bytes(part.volume.size),
        routes=routes if part.servers > 1 else None,
        cluster=f"{ctx.plan.project}-{ctx.plan.environment}",
    )
    pod: Obj = {
        "securityContext": {**pod_security(), "fsGroupChangePolicy": "OnRootMismatch"},
        "terminationGracePeriodSeconds": 60,
        "containers": [_bus_container(part, ctx)],
        "volumes": [{"name": "config", "configMap": {"name": f"{part.name}-config"}}, tmp],
    }
    config_hash = hashlib.sha256(config.encode()).hexdigest()[:16]
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(ctx, f"{part.name}-config", part), "data": {"nats.conf": config}},
        service(ctx, headless_name(part), part, match, [("client", part.client_port), ("cluster", part.cluster_port)], headless=True),
        service(ctx, part.name, part, match, [("client", part.client_port)]),
        statefulset(
            ctx,
            part.name,
            part,
            match,
            pod,
            service=headless_name(part),
            replicas=part.servers,
            claims=[volume_claim(part.volume.name, part.volume.size, part.volume.storage_class)],
            parallel=True,
            annotations={"koyalite.dev/config-hash": config_hash},
        ),
    ]
    if part.servers >= 3:
        objs.append(pdb(ctx, part.name, part, match, quorum=part.servers // 2 + 1))
    if part.streams or part.consumers:
        objs += _apply_job(part, ctx)
    return objs


@REGISTRY.register(EventWorker)
def event_worker(part: EventWorker, ctx: Context) -> list[Obj]:
    match = selector(ctx, part)
    tmp, tmp_mount = tmp_volume()
    document = json_file(part.document())
    container: Obj = {
        "name": "events",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": part.port, "protocol": "TCP"}],
        "env": [
            {"name": "PORT", "value": str(part.port)},
            {"name": "KOYALITE_EVENTS_FILE", "value": EVENTS_FILE},
            {"name": "NATS_USER", "value": part.user},
            *secret_env(ctx, part.secrets),
        ],
        "envFrom": config_from(ctx),
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": [tmp_mount, {"name": "config", "mountPath": "/etc/koyalite/events", "readOnly": True}],
        **probes(part.probe, startup_budget_s=120),
        **drain(),
    }
    volumes = [tmp, {"name": "config", "configMap": {"name": part.name}}]
    config_hash = hashlib.sha256(document.encode()).hexdigest()[:16]
    rollout = deployment(
        ctx, part, match, container, volumes, replicas=part.replicas, annotations={"koyalite.dev/config-hash": config_hash}
    )
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(ctx, part.name, part), "data": {"events.json": document}},
        rollout,
        service(ctx, part.name, part, match, [("http", part.port)]),
    ]
    if part.replicas > 1:
        objs.append(pdb(ctx, part.name, part, match))
    return objs
