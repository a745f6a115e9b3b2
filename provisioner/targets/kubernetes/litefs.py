"""LiteFS: one StatefulSet per region, a litefs.yml ConfigMap, and the Services that find the primary.

Objects, for a part named `P` with region sets `P-<region>` (LiteFSRegion.name):

- ConfigMap `P-config`: `litefs.yml`, shared by every node; per-pod values come from environment variables
  that LiteFS expands when it reads the file.
- Service `P` (ClusterIP, proxy port): every LiteFS node; reads go to any of them (KOYALITE_DATABASE_URL).
- Service `P-<primary region>` (ClusterIP, proxy port): only the lease holder(s) (KOYALITE_DATABASE_PRIMARY_URL).
  With the static lease that is pod 0 of the primary region's set, selected by its pod-name label; with the
  Consul lease it is every node of the primary region (the candidates), and the lease decides among them.
  Outside Fly.io a replica's proxy does not forward a write: it answers with a `fly-replay` header naming
  the primary's `lease.hostname`. So writes go to this Service, and `lease.hostname` is a resolvable DNS name.
- Service `P-<region>-headless` per set (headless, not-ready addresses published): the stable pod names that
  `lease.hostname` and `lease.advertise-url` use. It governs its StatefulSet.
- StatefulSet `P-<region>` per region, pinned to that region's nodes when the project has several regions.
- PodDisruptionBudget `P-<region>` per set with more than one node.
"""

from __future__ import annotations

import hashlib

from provisioner.plan.model import LiteFS, LiteFSRegion
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import (
    Context,
    Obj,
    config_from,
    metadata,
    pdb,
    pod_dns,
    region_affinity,
    resources,
    selector,
    service,
    statefulset,
    tmp_volume,
    volume_claim,
)
from provisioner.targets.litefs_config import litefs_config

CONFIG_DIR = "/etc/litefs"
CONFIG_FILE = "litefs.yml"
HEALTH_PATH = "/litefs/health"
"""The LiteFS proxy's health endpoint: 200, or 503 while this node lags the primary by more than its max-lag."""
REGION_LABEL = "koyalite.dev/region"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
"""Set by the StatefulSet controller on every pod: the only label that tells pod 0 from its siblings."""

CHECKOV_SKIPS: tuple[tuple[str, str], ...] = (
    ("CKV_K8S_16", "FUSE needs mount(2) and the /dev/fuse device, which only a privileged container may open on a real node"),
    ("CKV_K8S_20", "a privileged container cannot forbid privilege escalation"),
    ("CKV_K8S_23", "litefs mounts a FUSE file system and runs as root (upstream: `litefs mount` as root)"),
    ("CKV_K8S_28", "privileged: every capability, NET_RAW included, is the host's"),
    ("CKV_K8S_37", "privileged: capabilities cannot be dropped"),
    ("CKV_K8S_40", "runs as UID 0 (root) for the FUSE mount, so it cannot run as a high UID"),
)
"""Checkov checks the LiteFS StatefulSets fail by design, with the reason; every other workload passes them.

Still enforced here: read-only root file system (CKV_K8S_22), RuntimeDefault seccomp on the pod (CKV_K8S_31), no
host path volume.
"""


def checkov_annotations() -> dict[str, str]:
    """CHECKOV_SKIPS as checkov's own object annotations (`checkov.io/skipN: ID=reason`): the reason ships with the manifest."""
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(CHECKOV_SKIPS, start=1)}


def headless_name(region: LiteFSRegion) -> str:
    return f"{region.name}-headless"


def primary(part: LiteFS) -> LiteFSRegion:
    """The primary region's set: the only one whose nodes may hold the lease."""
    return next(r for r in part.regions if r.candidate)


def match(ctx: Context, part: LiteFS, region: LiteFSRegion) -> dict[str, str]:
    """One set's pods; the sets' selectors are disjoint, and `selector(ctx, part)` spans them all."""
    return {**selector(ctx, part), REGION_LABEL: region.region}


def config(part: LiteFS, ctx: Context) -> str:
    """litefs.yml: the static primary is pod 0 of the primary region's set, named by its stable DNS name."""
    head = primary(part)
    pod = f"{head.name}-0"
    candidate = f'${{POD_NAME == "{pod}"}}' if part.lease == "static" else "${LITEFS_CANDIDATE}"
    return litefs_config(part, primary_host=pod_dns(ctx, pod, headless_name(head)), candidate=candidate)


def env(part: LiteFS, ctx: Context, region: LiteFSRegion) -> list[Obj]:
    found: list[Obj] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "KOYALITE_REGION", "value": region.region},
    ]
    if part.lease == "consul":
        host = pod_dns(ctx, "$(POD_NAME)", headless_name(region))  # Kubernetes expands $(POD_NAME) defined above
        found += [
            {"name": "LITEFS_HOSTNAME", "value": host},
            {"name": "LITEFS_CANDIDATE", "value": str(region.candidate).lower()},
        ]
    return found


def container(part: LiteFS, ctx: Context, region: LiteFSRegion) -> Obj:
    get = {"path": HEALTH_PATH, "port": part.proxy_port}
    return {
        "name": "litefs",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "command": ["litefs", "mount", "-config", f"{CONFIG_DIR}/{CONFIG_FILE}"],
        "ports": [
            {"name": "proxy", "containerPort": part.proxy_port, "protocol": "TCP"},
            {"name": "api", "containerPort": part.api_port, "protocol": "TCP"},
        ],
        "env": env(part, ctx, region),
        "envFrom": config_from(ctx),
        "resources": resources(part.resources),
        # The one place the restricted profile is relaxed: mounting a FUSE file system needs mount(2) and the
        # /dev/fuse device. CAP_SYS_ADMIN with /dev/fuse mounted from the host is not enough on a real node: the
        # container runtime's device cgroup lets a container open only the devices Kubernetes hands it (a device
        # plugin's), so `fusermount3` gets EPERM (found on the node tier). A privileged container sees the host's
        # devices, as LiteFS's own Kubernetes examples run it. Still: read-only root file system, no service account
        # token, its own namespace whose Pod Security enforce level is `privileged` only because of this.
        "securityContext": {
            "allowPrivilegeEscalation": True,
            "privileged": True,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": False,
            "runAsUser": 0,
            "runAsGroup": 0,
        },
        "volumeMounts": [
            {"name": part.volume.name, "mountPath": part.data_dir},
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "mount", "mountPath": part.mount_dir},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # Ready (and started) only while replication lag is within bounds, so lagging nodes leave the read
        # Service. Liveness asks only whether the process answers: restarting a lagging node makes it lag more.
        "startupProbe": {"httpGet": get, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {"httpGet": get, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
        "livenessProbe": {"tcpSocket": {"port": part.api_port}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
    }


def region_set(part: LiteFS, ctx: Context, region: LiteFSRegion, config_hash: str) -> Obj:
    tmp, _ = tmp_volume()
    pod: Obj = {
        "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(part, ctx, region)],
        "volumes": [
            {"name": "config", "configMap": {"name": config_name(part)}},
            # the FUSE mount point must exist on a read-only root file system
            {"name": "mount", "emptyDir": {"sizeLimit": "16Mi"}},
            tmp,
        ],
    }
    affinity = region_affinity(ctx, region.region)
    if affinity:
        pod["affinity"] = affinity
    found = statefulset(
        ctx,
        region.name,
        part,
        match(ctx, part, region),
        pod,
        service=headless_name(region),
        replicas=region.nodes,
        claims=[volume_claim(part.volume.name, part.volume.size, part.volume.storage_class)],
        parallel=False,  # OrderedReady: pod 0 (the static primary) is up before its replicas start
        annotations={"koyalite.dev/config-hash": config_hash},
    )
    found["metadata"]["annotations"] = checkov_annotations()
    return found


def config_name(part: LiteFS) -> str:
    return f"{part.name}-config"


@REGISTRY.register(LiteFS)
def translate(part: LiteFS, ctx: Context) -> list[Obj]:
    text = config(part, ctx)
    config_hash = hashlib.sha256(text.encode()).hexdigest()[:16]  # rolls the pods when litefs.yml changes
    config_map: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, config_name(part), part),
        "data": {CONFIG_FILE: text},
    }
    head = primary(part)
    writer = match(ctx, part, head)
    if part.lease == "static":
        writer[POD_NAME_LABEL] = f"{head.name}-0"
    objs = [
        config_map,
        service(ctx, part.name, part, selector(ctx, part), [("proxy", part.proxy_port)]),
        service(ctx, head.name, part, writer, [("proxy", part.proxy_port)]),
    ]
    for region in part.regions:
        pods = match(ctx, part, region)
        objs.append(service(ctx, headless_name(region), part, pods, [("api", part.api_port), ("proxy", part.proxy_port)], headless=True))
        objs.append(region_set(part, ctx, region, config_hash))
        if region.nodes > 1:
            objs.append(pdb(ctx, region.name, part, pods))
    return objs
