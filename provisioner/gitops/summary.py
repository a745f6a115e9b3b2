"""Plan summary: what one environment deploys and what it asks for, computed from the target's translated objects.

Counting the translated objects (not the manifest) keeps one source of truth: the numbers are those of the pods,
containers and claims that `render` prints and the components create. CPU is in millicores, memory and storage in
bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from provisioner.manifest import Checked
from provisioner.manifest.models.types import parse_bytes, parse_cpu
from provisioner.manifest.rules.limits import claims as manifest_claims
from provisioner.plan.model import CronTask, EdgeRuntime, EventBus, Plan


@dataclass(frozen=True, slots=True)
class Range:
    """A count or amount between `low` (autoscale min) and `high` (autoscale max); equal when fixed."""

    low: int
    high: int

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.high + other.high)

    def scaled(self, each: int | None) -> Range:
        return Range(self.low * (each or 0), self.high * (each or 0))


ZERO = Range(0, 0)


@dataclass(frozen=True, slots=True)
class Amounts:
    """CPU (millicores) and memory (bytes) of one replica; None when unset."""

    cpu_request: int | None = None
    cpu_limit: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Workload:
    """Something that runs replicas: a Deployment or StatefulSet, or a Docker container."""

    kind: str
    name: str
    replicas: Range
    each: Amounts


@dataclass(frozen=True, slots=True)
class Claims:
    """`count` persistent volumes of `each` bytes, claimed by one part of the stack."""

    part: str
    claim: str
    count: int
    each: int

    @property
    def total(self) -> int:
        return self.count * self.each


@dataclass(frozen=True, slots=True)
class LimitUse:
    """How much of one project limit the environment uses; `limit` None means unbounded."""

    name: str
    used: int
    limit: int | None
    unit: str = "count"


@dataclass(frozen=True, slots=True)
class Hosted:
    """The functions an environment runs on a hosted edge platform (one Worker or one Deno Deploy app)."""

    platform: str
    app: str
    account: str
    functions: tuple[str, ...]
    crons: tuple[str, ...]
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    environment: str
    target: str
    where: str
    kinds: tuple[tuple[str, int], ...]
    workloads: tuple[Workload, ...]
    claims: tuple[Claims, ...]
    limits: tuple[LimitUse, ...] = ()
    notes: tuple[str, ...] = ()
    hosted: tuple[Hosted, ...] = ()
    cpu_requests_apply: bool = True
    """False on Docker, which reserves no CPU: a request becomes a relative weight (cpu_shares)."""
    storage_enforced: bool = True
    """False on Docker, whose named volumes have no size: storage is what the manifest declares."""

    def total(self, amount: str) -> Range:
        """The sum over every workload's replicas of one field of Amounts (`cpu_request`, `memory_limit`, ...)."""
        found = ZERO
        for w in self.workloads:
            found += w.replicas.scaled(getattr(w.each, amount))
        return found

    @property
    def storage(self) -> int:
        return sum(c.total for c in self.claims)

    @property
    def replicas(self) -> Range:
        found = ZERO
        for w in self.workloads:
            found += w.replicas
        return found


# --- Kubernetes ----------------------------------------------------------------------------------

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
"""Kinds whose pods run all the time; a CronJob's pods run briefly and are noted, not counted."""


def _quantity(parse: Callable[[str], int], value: Any) -> int | None:
    return None if value is None else parse(str(value))


def _container(c: dict[str, Any]) -> Amounts:
    """A container's amounts; like the API server, a request left unset defaults to the limit."""
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    cpu_limit, memory_limit = _quantity(parse_cpu, lim.get("cpu")), _quantity(parse_bytes, lim.get("memory"))
    cpu_request, memory_request = _quantity(parse_cpu, req.get("cpu")), _quantity(parse_bytes, req.get("memory"))
    return Amounts(
        cpu_limit if cpu_request is None else cpu_request,
        cpu_limit,
        memory_limit if memory_request is None else memory_request,
        memory_limit,
    )


def _combine(values: Iterable[int | None], pick: Callable[[list[int]], int]) -> int | None:
    known = [v for v in values if v is not None]
    return pick(known) if known else None


def pod_amounts(spec: dict[str, Any]) -> Amounts:
    """A pod's effective amounts: its containers' sum, or its largest init container when that is larger."""
    containers = [_container(c) for c in spec.get("containers") or []]
    inits = [_container(c) for c in spec.get("initContainers") or []]
    out = {}
    for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit"):
        running = _combine((getattr(a, name) for a in containers), sum)
        first = _combine((getattr(a, name) for a in inits), max)
        out[name] = _combine((running, first), max)
    return Amounts(**out)


def _scalers(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Range]:
    """(kind, name) a HorizontalPodAutoscaler scales -> its replica range."""
    found = {}
    for obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler":
            spec = obj["spec"]
            ref = spec["scaleTargetRef"]
            found[(ref["kind"], ref["name"])] = Range(int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]))
    return found


def _kubernetes(checked: Checked, plan: Plan) -> Summary:
    from provisioner.targets import kubernetes

    assert plan.kubernetes is not None
    bundles = kubernetes.translate(plan)
    objects = [obj for bundle in bundles for obj in bundle.objects]
    scalers = _scalers(objects)
    workloads = []
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            name, spec = obj["metadata"]["name"], obj["spec"]
            fixed = int(spec.get("replicas", 1))
            replicas = scalers.get((obj["kind"], name), Range(fixed, fixed))
            workloads.append(Workload(obj["kind"], name, replicas, pod_amounts(spec["template"]["spec"])))
    groups: dict[tuple[str, str, int], int] = {}
    for bundle in bundles:
        for obj in bundle.objects:
            labels = obj["metadata"].get("labels", {})
            part = "/".join(p for p in (bundle.kind, labels.get("app.kubernetes.io/component")) if p)
            if obj["kind"] == "StatefulSet":
                for claim in obj["spec"].get("volumeClaimTemplates", []):
                    key = (part, claim["metadata"]["name"], parse_bytes(claim["spec"]["resources"]["requests"]["storage"]))
                    groups[key] = groups.get(key, 0) + int(obj["spec"].get("replicas", 1))
            elif obj["kind"] == "PersistentVolumeClaim":
                key = (part, obj["metadata"]["name"], parse_bytes(obj["spec"]["resources"]["requests"]["storage"]))
                groups[key] = groups.get(key, 0) + 1
    notes = []
    jobs = sum(obj["kind"] == "CronJob" for obj in objects)
    if jobs:
        notes.append(f"{jobs} CronJob{'s' if jobs != 1 else ''} run briefly on schedule and are not counted")
    once = sum(obj["kind"] == "Job" for obj in objects)
    if once:
        many = once != 1
        notes.append(
            f"{once} Job{'s run' if many else ' runs'} once per deploy (declaring the event streams) and {'are' if many else 'is'} not counted"
        )
    if any(w.each.cpu_request is None or w.each.memory_request is None for w in workloads):
        notes.append("some workloads request no CPU or memory: they count as 0")
    return Summary(
        plan.environment,
        plan.target,
        f"namespace {plan.kubernetes.namespace}",
        _kinds(objects),
        tuple(workloads),
        tuple(Claims(part, claim, count, each) for (part, claim, each), count in groups.items()),
        notes=tuple(notes),
    )


# --- Docker --------------------------------------------------------------------------------------


def _docker(checked: Checked, plan: Plan) -> Summary:
    from provisioner.targets import docker

    assert plan.docker is not None
    objects = docker.objects(plan)
    workloads = []
    for obj in objects:
        if obj["kind"] == "Container":
            cpus = obj.get("cpus")
            each = Amounts(None, None if cpus is None else round(float(cpus) * 1000), obj.get("memory_reservation"), obj.get("memory"))
            workloads.append(Workload("Container", obj["name"], Range(1, 1), each))
    return Summary(
        plan.environment,
        plan.target,
        f"Docker host {plan.docker.host}" if plan.docker.host else "the local Docker host",
        _kinds(objects),
        tuple(workloads),
        tuple(Claims(what, "", count, each) for what, count, each in manifest_claims(checked.manifest) if count),
        notes=(
            "Docker reserves no CPU: requests become relative weights (cpu_shares), so only limits are summed",
            "Docker volumes have no size: storage is what the manifest declares, as limits.storage_quota counts it",
        ),
        cpu_requests_apply=False,
        storage_enforced=False,
    )


def _kinds(objects: list[dict[str, Any]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(str(o["kind"]) for o in objects).items()))


SUMMARIZERS: dict[str, Callable[[Checked, Plan], Summary]] = {"kubernetes": _kubernetes, "docker": _docker}
"""Target -> how its translated objects are counted."""


def summarize(checked: Checked, plan: Plan) -> Summary:
    """The summary of one environment's plan, with its use of the project's limits."""
    if plan.target not in SUMMARIZERS:
        raise ValueError(f"no plan summary for target `{plan.target}`")
    found = SUMMARIZERS[plan.target](checked, plan)
    limits = checked.manifest.limits
    hosted = tuple(
        Hosted(a.platform, a.name, a.account, tuple(f.name for f in a.functions), tuple(c.name for c in a.crons), a.secrets)
        for a in plan.edge
    )
    functions = sum(len(p.functions) for p in plan.of(EdgeRuntime)) + sum(len(h.functions) for h in hosted)
    uses = (
        LimitUse("max_functions", functions, limits.max_functions),
        LimitUse("max_cron_jobs", len(plan.of(CronTask)) + sum(len(h.crons) for h in hosted), limits.max_cron_jobs),
        LimitUse("max_webhooks", len(checked.manifest.webhooks) if checked.manifest.features.webhooks else 0, limits.max_webhooks),
        # declared streams and queues, as the rules count them (the stream webhook events may add is not the user's)
        LimitUse("max_streams", len(checked.manifest.events.streams) if plan.of(EventBus) else 0, limits.max_streams),
        LimitUse("max_queues", len(checked.manifest.events.queues) if plan.of(EventBus) else 0, limits.max_queues),
        LimitUse("storage_quota", found.storage, parse_bytes(limits.storage_quota) if limits.storage_quota else None, "bytes"),
    )
    return replace(found, limits=uses, hosted=hosted)


def _range(r: Range) -> dict[str, int]:
    return {"min": r.low, "max": r.high}


def as_dict(s: Summary) -> dict[str, Any]:
    """The summary for machines: exact numbers, CPU in millicores, memory and storage in bytes."""
    amounts = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
    units = {"cpu_request": "cpu_requests_millicores", "cpu_limit": "cpu_limits_millicores"}
    units |= {"memory_request": "memory_requests_bytes", "memory_limit": "memory_limits_bytes"}
    return {
        "environment": s.environment,
        "target": s.target,
        "where": s.where,
        "objects": dict(s.kinds),
        "workloads": [
            {
                "kind": w.kind,
                "name": w.name,
                "replicas": _range(w.replicas),
                "each": {units[a]: getattr(w.each, a) for a in amounts},
            }
            for w in s.workloads
        ],
        "totals": {
            "replicas": _range(s.replicas),
            **{units[a]: _range(s.total(a)) for a in amounts},
            **({} if s.cpu_requests_apply else {"cpu_requests_millicores": None}),
            "storage_bytes": s.storage,
            "storage_enforced": s.storage_enforced,
        },
        "storage": [{"part": c.part, "claim": c.claim, "count": c.count, "each_bytes": c.each, "total_bytes": c.total} for c in s.claims],
        "limits": [{"name": u.name, "used": u.used, "limit": u.limit, "unit": u.unit} for u in s.limits],
        "hosted": [
            {
                "platform": h.platform,
                "app": h.app,
                "account": h.account,
                "functions": list(h.functions),
                "crons": list(h.crons),
                "secrets": list(h.secrets),
            }
            for h in s.hosted
        ],
        "notes": list(s.notes),
    }
