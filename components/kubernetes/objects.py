"""Translated Kubernetes objects as typed pulumi_kubernetes resources: the kind registry, names and options."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes import apps, autoscaling, batch, core, networking, policy

from components.errors import ComponentError

Obj = Mapping[str, Any]


def _never(obj: Obj) -> bool:
    return False


def _always(obj: Obj) -> bool:
    return True


def _has_claims(obj: Obj) -> bool:
    """A StatefulSet holds data when it has volumeClaimTemplates: replacing it must never touch the claims."""
    return bool(obj.get("spec", {}).get("volumeClaimTemplates"))


@dataclass(frozen=True, slots=True)
class Kind:
    """How one Kubernetes kind becomes a Pulumi resource."""

    resource: Callable[..., pulumi.CustomResource]
    """The typed pulumi_kubernetes class (typed inputs, secret-marking of Secret data, await logic)."""
    stateful: Callable[[Obj], bool] = _never
    """Whether the object holds or owns data: protected when the plan says (the guard refuses to replace it too)."""
    retained: Callable[[Obj], bool] = _never
    """Whether the object *is* the data and stays in the cluster when Pulumi deletes it (retain_on_delete)."""
    secret_outputs: tuple[str, ...] = ()
    """Output properties that are secret whatever their inputs are."""


KINDS: dict[tuple[str, str], Kind] = {
    # deleting a namespace deletes every claim in it: it stays, as the claims do
    ("v1", "Namespace"): Kind(core.v1.Namespace, stateful=_always, retained=_always),
    ("v1", "ConfigMap"): Kind(core.v1.ConfigMap),
    ("v1", "Secret"): Kind(core.v1.Secret, secret_outputs=("data", "stringData")),
    ("v1", "Service"): Kind(core.v1.Service),
    ("v1", "PersistentVolumeClaim"): Kind(core.v1.PersistentVolumeClaim, stateful=_always, retained=_always),
    ("apps/v1", "Deployment"): Kind(apps.v1.Deployment),
    # a StatefulSet goes on `destroy` (its pods stop, as containers do on Docker); the claims it made stay, since
    # its persistentVolumeClaimRetentionPolicy says Retain, and the next `up` binds them again
    ("apps/v1", "StatefulSet"): Kind(apps.v1.StatefulSet, stateful=_has_claims),
    ("batch/v1", "CronJob"): Kind(batch.v1.CronJob),
    ("batch/v1", "Job"): Kind(batch.v1.Job),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): Kind(autoscaling.v2.HorizontalPodAutoscaler),
    ("policy/v1", "PodDisruptionBudget"): Kind(policy.v1.PodDisruptionBudget),
    ("networking.k8s.io/v1", "NetworkPolicy"): Kind(networking.v1.NetworkPolicy),
    ("networking.k8s.io/v1", "Ingress"): Kind(networking.v1.Ingress),
}
"""(apiVersion, kind) -> how to create it. A kind missing here is an error, never a silent drop."""

FIELDS = {
    "metadata": "metadata",
    "spec": "spec",
    "data": "data",
    "binaryData": "binary_data",
    "stringData": "string_data",
    "type": "type",
    "immutable": "immutable",
}
"""Top-level object fields -> constructor arguments. Nested fields keep their Kubernetes (camelCase) names."""

HEADER = ("apiVersion", "kind")
"""Fields the typed class sets itself."""


def kind_of(obj: Obj) -> Kind:
    """The registry entry for an object; an unknown (apiVersion, kind) names the object and what is supported."""
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    found = KINDS.get(key)
    if found is None:
        supported = ", ".join(f"{v}/{k}" for v, k in sorted(KINDS))
        raise ComponentError(
            f"no Pulumi resource for Kubernetes kind {key[0]}/{key[1]} (object `{name_of(obj)}`)",
            f"add it to components.kubernetes.objects.KINDS; supported: {supported}",
        )
    return found


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def logical_name(obj: Obj) -> str:
    """The Pulumi name: derived only from the object, so URNs are stable across runs (`deployment-acme-prod-api`).

    Changing it replaces the object (pulumi/pulumi-kubernetes#2948): keep the formula, or add aliases.
    """
    return f"{obj['kind'].lower()}-{name_of(obj)}"


def is_stateful(obj: Obj) -> bool:
    """Whether the object holds data (Namespace, PersistentVolumeClaim, StatefulSet with volume claims)."""
    return kind_of(obj).stateful(obj)


def is_retained(obj: Obj) -> bool:
    """Whether the object stays in the cluster when Pulumi deletes it (Namespace, PersistentVolumeClaim)."""
    return kind_of(obj).retained(obj)


def options(
    obj: Obj,
    *,
    protect: bool,
    parent: pulumi.Resource | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> pulumi.ResourceOptions:
    """The Pulumi options of one object: the data-keeping policy lives here and only here.

    A stateful object is `protect`ed when the plan asks (the engine refuses to delete or replace it at all); the
    data itself (claims, and the namespace that holds them) is always `retain_on_delete`, so a destroy never
    deletes it in the cluster. Nothing sets `delete_before_replace` or `ignore_changes`: a change the cluster
    cannot apply must fail loudly.
    """
    kind = kind_of(obj)
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=list(depends_on) or None,
        protect=protect if kind.stateful(obj) else None,
        retain_on_delete=True if kind.retained(obj) else None,
        additional_secret_outputs=list(kind.secret_outputs) or None,
    )


def arguments(obj: Obj) -> dict[str, Any]:
    """Constructor arguments of the typed class; an unknown kind or a field it cannot take is an error, not a drop."""
    kind_of(obj)
    unknown = sorted(set(obj) - set(FIELDS) - set(HEADER))
    if unknown:
        raise ComponentError(
            f"{obj['kind']} `{name_of(obj)}` has fields the Pulumi resource cannot take: {', '.join(unknown)}",
            "translate into spec/data fields, or extend components.kubernetes.objects.FIELDS",
        )
    return {FIELDS[key]: value for key, value in obj.items() if key in FIELDS}


WAIT_FOR = {"Service": "jsonpath={.spec.clusterIP}"}
"""Readiness the provider awaits instead of its own, by kind (its `pulumi.com/waitFor` annotation).

A Service: the provider's own await sleeps 10 s after every change of the Service's endpoints before it calls them
settled, which made each Service of a deploy take at least 10 s (bench/REPORT-deploy.md). The pods behind our Services
are awaited by their own workloads (Deployments available, StatefulSets' pods ready), so a Service is ready once the
API server has given it its address (`None` for a headless one)."""


def create(obj: Obj, opts: pulumi.ResourceOptions, **extra: Any) -> pulumi.CustomResource:
    """One typed resource for one translated object; `extra` adds what only Pulumi knows (secret values, readiness)."""
    wait_for = WAIT_FOR.get(obj["kind"])
    if wait_for is not None:
        metadata = obj["metadata"]
        obj = {**obj, "metadata": {**metadata, "annotations": {**metadata.get("annotations", {}), "pulumi.com/waitFor": wait_for}}}
    return kind_of(obj).resource(logical_name(obj), opts=opts, **arguments(obj), **extra)
