"""Pieces every Kubernetes translator shares: labels, metadata, security contexts, probes, env, spread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner.plan.model import KubernetesHints, Part, Plan, Probe, Resources, SecretEnv

Obj = dict[str, Any]

RUN_AS = 10001
"""UID/GID of every non-root container: above 10000, so it matches no host user (checkov CKV_K8S_40)."""

MANAGED_BY = "koyalite"


@dataclass(frozen=True, slots=True)
class Context:
    """What translators read besides their part: the plan and its Kubernetes settings."""

    plan: Plan
    hints: KubernetesHints

    @property
    def namespace(self) -> str:
        return self.hints.namespace

    @property
    def config_name(self) -> str:
        return f"{self.plan.project}-{self.plan.environment}-config"

    @property
    def secret_name(self) -> str:
        return f"{self.plan.project}-{self.plan.environment}-secrets"


def selector(ctx: Context, part: Part, component: str | None = None) -> dict[str, str]:
    """The labels that select a workload's pods: stable for the object's lifetime (a change replaces it)."""
    labels = {"app.kubernetes.io/instance": f"{ctx.plan.project}-{ctx.plan.environment}", "app.kubernetes.io/name": part.role}
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


def labels(ctx: Context, part: Part | None, component: str | None = None) -> dict[str, str]:
    """`app.kubernetes.io/*` and `koyalite.dev/*` labels for every object."""
    found = {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": ctx.plan.project,
        "app.kubernetes.io/instance": f"{ctx.plan.project}-{ctx.plan.environment}",
        "koyalite.dev/project": ctx.plan.project,
        "koyalite.dev/environment": ctx.plan.environment,
    }
    if part is not None:
        found["app.kubernetes.io/name"] = part.role
        found["koyalite.dev/role"] = part.role
    if component:
        found["app.kubernetes.io/component"] = component
    return found


def metadata(ctx: Context, name: str, part: Part | None, component: str | None = None, **extra: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": ctx.namespace, "labels": labels(ctx, part, component)}
    meta.update({k: v for k, v in extra.items() if v})
    return meta


def resources(r: Resources) -> Obj:
    out: Obj = {}
    requests = {k: v for k, v in (("cpu", r.cpu_request), ("memory", r.memory_request)) if v}
    limits = {k: v for k, v in (("cpu", r.cpu_limit), ("memory", r.memory_limit)) if v}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


DRAIN_S = 5
"""How long a stopping pod of a Deployment keeps serving: endpoints and kube-proxy's rules are updated only after
the pod is marked terminating, so a process that exits at once drops the requests still routed to it (a rolling
update of the API lost 2 of 337 requests on the node tier without it)."""


def drain() -> Obj:
    """The container lifecycle that waits DRAIN_S before the process gets SIGTERM (the kubelet's own sleep action:
    no shell needed in the image)."""
    return {"lifecycle": {"preStop": {"sleep": {"seconds": DRAIN_S}}}}


def container_security() -> Obj:
    """The restricted Pod Security Standard for a container."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def probes(probe: Probe, startup_budget_s: int = 60) -> Obj:
    """Liveness, readiness and startup probes on one HTTP endpoint; startup allows `startup_budget_s` to come up."""
    get = {"path": probe.path, "port": probe.port}
    common = {"httpGet": get, "periodSeconds": probe.period_s, "timeoutSeconds": probe.timeout_s}
    return {
        "livenessProbe": {**common, "failureThreshold": probe.failure_threshold},
        "readinessProbe": {**common, "failureThreshold": probe.failure_threshold},
        "startupProbe": {**common, "periodSeconds": 2, "failureThreshold": max(1, startup_budget_s // 2)},
    }


def secret_env(ctx: Context, secrets: tuple[SecretEnv, ...]) -> list[Obj]:
    """Variables filled from the environment's Secret: never a literal value."""
    return [{"name": s.env, "valueFrom": {"secretKeyRef": {"name": ctx.secret_name, "key": s.secret}}} for s in secrets]


def plain_env(values: tuple[tuple[str, str], ...]) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in values]


def config_from(ctx: Context) -> list[Obj]:
    """Every KoyaLite container reads the project's flags, limits and service URLs from the config map."""
    return [{"configMapRef": {"name": ctx.config_name}}]


def spread(ctx: Context, match: dict[str, str]) -> list[Obj]:
    """Spread replicas over zones, and over regions when the project has several."""
    keys = ["topology.kubernetes.io/zone"]
    if len(ctx.plan.regions) > 1:
        keys.insert(0, ctx.hints.region_label)
    return [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": match}} for key in keys
    ]


def tmp_volume() -> tuple[Obj, Obj]:
    """A writable /tmp for a read-only root filesystem: (volume, mount)."""
    return {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, {"name": "tmp", "mountPath": "/tmp"}


def volume_claim(name: str, size: str, storage_class: str | None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


RETAIN = {"whenDeleted": "Retain", "whenScaled": "Retain"}
"""persistentVolumeClaimRetentionPolicy of every StatefulSet: data outlives the set and its scale-downs."""


def service(
    ctx: Context,
    name: str,
    part: Part,
    match: dict[str, str],
    ports: list[tuple[str, int]],
    headless: bool = False,
    component: str | None = None,
) -> Obj:
    spec: Obj = {
        "type": "ClusterIP",
        "selector": match,
        "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports],
    }
    if headless:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(ctx, name, part, component), "spec": spec}


def pdb(ctx: Context, name: str, part: Part, match: dict[str, str], component: str | None = None, quorum: int | None = None) -> Obj:
    """One pod at a time through voluntary disruptions (drains, rolling node upgrades); with `quorum`, never fewer
    than that many. `maxUnavailable` rather than a `minAvailable` computed from the replica count: a count change
    (one replica more, an HPA scaling out) then leaves the budget alone, and it stays one pod, not `min - 1`."""
    budget: Obj = {"minAvailable": quorum} if quorum is not None else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(ctx, name, part, component),
        "spec": {**budget, "selector": {"matchLabels": match}},
    }


def deployment(
    ctx: Context,
    part: Part,
    match: dict[str, str],
    container: Obj,
    volumes: list[Obj],
    *,
    replicas: int | None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A Deployment that rolls one pod at a time and never goes below its count (`maxUnavailable: 0`); `replicas`
    None leaves the count to an HPA (a fixed one would fight it on every deploy). `annotations` on the pod template
    roll the pods when what they read at start changes."""
    template: Obj = {"labels": metadata(ctx, part.name, part)["labels"]}
    if annotations:
        template["annotations"] = dict(sorted(annotations.items()))
    spec: Obj = {
        "replicas": replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": match},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": template,
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": pod_security(),
                "topologySpreadConstraints": spread(ctx, match),
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    if replicas is None:
        del spec["replicas"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(ctx, part.name, part), "spec": spec}


# --- Stateful workloads (LiteFS, SeaweedFS, Weaviate) ------------------------------------------


def pod_dns(ctx: Context, pod: str, service: str) -> str:
    """A StatefulSet pod's stable DNS name through its headless Service; no cluster domain, so any domain resolves it."""
    return f"{pod}.{service}.{ctx.namespace}.svc"


def region_affinity(ctx: Context, region: str) -> Obj | None:
    """Pin pods to one region's nodes; None when the project has a single region (any node will do)."""
    if len(ctx.plan.regions) < 2:
        return None
    term = {"matchExpressions": [{"key": ctx.hints.region_label, "operator": "In", "values": [region]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def statefulset(
    ctx: Context,
    name: str,
    part: Part,
    match: dict[str, str],
    pod: Obj,
    *,
    service: str,
    replicas: int,
    claims: list[Obj],
    parallel: bool,
    component: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A StatefulSet whose claims outlive it and its scale-downs (RETAIN); `pod` is the pod spec's own fields.

    Every stateful part goes through here so the data-safety settings cannot be forgotten by one of them:
    retention policy, governing Service, no service-account token, no service-link variables, spread over nodes.
    """
    template: Obj = {"labels": {**labels(ctx, part, component), **match}}
    if annotations:
        template["annotations"] = dict(sorted(annotations.items()))
    node_spread = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": match},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(ctx, name, part, component),
        "spec": {
            "serviceName": service,
            "replicas": replicas,
            "podManagementPolicy": "Parallel" if parallel else "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": dict(RETAIN),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": template,
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "topologySpreadConstraints": [*spread(ctx, match), node_spread],
                    **pod,
                },
            },
            "volumeClaimTemplates": claims,
        },
    }
