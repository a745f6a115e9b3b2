"""Replacement risks: changes Kubernetes (or Docker Compose) cannot apply in place, and removals that lose data.

A rule per object kind, registered by target. Each rule sees one compared object and names the changes that would
force a delete-and-recreate (immutable fields), shrink or move a volume, or delete data outright.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from provisioner.gitops.changes import Change, Loc, Op, json_path
from provisioner.manifest.models.types import format_bytes, parse_bytes


@dataclass(frozen=True, slots=True)
class Risk:
    """A change that cannot be applied in place, or loses data; `loc` is () for the whole object."""

    loc: Loc
    reason: str


@dataclass(frozen=True, slots=True)
class Compared:
    """One object in both renders: its status, both versions (None where absent) and its field changes."""

    kind: str
    status: Op | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changes: tuple[Change, ...]


Rule = Callable[[Compared], Iterator[Risk]]
RULES: dict[str, dict[str, list[Rule]]] = {"kubernetes": {}, "docker": {}}
"""Target -> object kind -> rules."""


def rule(target: str, *kinds: str) -> Callable[[Rule], Rule]:
    def add(fn: Rule) -> Rule:
        for kind in kinds:
            RULES[target].setdefault(kind, []).append(fn)
        return fn

    return add


def risks(target: str, compared: Compared) -> list[Risk]:
    """Every risk the target's rules find in one compared object, in rule order."""
    return [r for check in RULES[target].get(compared.kind, []) for r in check(compared)]


# --- helpers -------------------------------------------------------------------------------------


def _bytes(value: Any) -> int | None:
    try:
        return parse_bytes(str(value))
    except (ValueError, KeyError):
        return None


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)


def _volume_risk(change: Change) -> str | None:
    """A storage class change or a storage shrink: the two changes no volume survives in place."""
    last = change.loc[-1] if change.loc else None
    if last == "storageClassName":
        return f"storageClassName changes from {_show(change.old)} to {_show(change.new)}: a bound volume cannot change its class, only new (empty) claims get it"
    if change.loc[-3:] == ("resources", "requests", "storage") and change.op is Op.CHANGED:
        old, new = _bytes(change.old), _bytes(change.new)
        if old is not None and new is not None and new < old:
            return f"storage shrinks from {format_bytes(old)} to {format_bytes(new)}: a volume cannot shrink"
    return None


def _under(change: Change, *prefix: str) -> bool:
    return change.loc[: len(prefix)] == prefix


def _spec_field(change: Change) -> str | None:
    return change.loc[1] if len(change.loc) > 1 and change.loc[0] == "spec" and isinstance(change.loc[1], str) else None


# --- Kubernetes ----------------------------------------------------------------------------------

STATEFULSET_MUTABLE = frozenset(
    {
        "replicas",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "ordinals",
        "revisionHistoryLimit",
    }
)
"""The StatefulSet spec fields the API server lets an update change; any other change is refused (a replacement)."""

_STATEFULSET_REASONS = {
    "volumeClaimTemplates": "volumeClaimTemplates cannot change in place: the StatefulSet must be deleted and recreated, "
    "and the claims it already made keep their old size and class",
    "serviceName": "serviceName cannot change in place: the StatefulSet must be deleted and recreated, and its pods' DNS names change",
    "selector": "the selector cannot change in place: the StatefulSet must be deleted and recreated",
    "podManagementPolicy": "podManagementPolicy cannot change in place: the StatefulSet must be deleted and recreated",
}


@rule("kubernetes", "StatefulSet")
def statefulset(c: Compared) -> Iterator[Risk]:
    if c.status is Op.REMOVED:  # a removed or renamed part; `koyalite up`'s data-loss guard refuses it too
        policy = ((c.old or {}).get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenDeleted") == "Delete":
            yield Risk((), "removing the StatefulSet deletes its PersistentVolumeClaims (whenDeleted: Delete) and their data")
        else:
            yield Risk((), "removing the StatefulSet stops its pods: the claims it made stay, but nothing serves their data any more")
        return
    for change in c.changes:
        field = _spec_field(change)
        if change.loc == ("spec",) or (field is not None and field not in STATEFULSET_MUTABLE):
            reason = _volume_risk(change) if field == "volumeClaimTemplates" else None
            if reason is not None:
                reason += "; and volumeClaimTemplates are immutable: the StatefulSet must be deleted and recreated"
            else:
                reason = _STATEFULSET_REASONS.get(
                    str(field), f"spec.{field} cannot change in place: the StatefulSet must be deleted and recreated"
                )
            yield Risk(change.loc, reason)


@rule("kubernetes", "Deployment", "DaemonSet")
def selector(c: Compared) -> Iterator[Risk]:
    for change in c.changes:
        if _under(change, "spec", "selector"):
            yield Risk(change.loc, f"the selector cannot change in place: the {c.kind} must be deleted and recreated")


@rule("kubernetes", "PersistentVolumeClaim")
def claim(c: Compared) -> Iterator[Risk]:
    if c.status is Op.REMOVED:
        yield Risk((), "removing a PersistentVolumeClaim deletes its volume's data unless the volume's reclaim policy is Retain")
        return
    for change in c.changes:
        if not _under(change, "spec"):
            continue
        reason = _volume_risk(change)
        if reason is None and not _under(change, "spec", "resources", "requests"):
            reason = f"{json_path(change.loc)} cannot change in place: only spec.resources.requests of a claim may change"
        if reason is not None:
            yield Risk(change.loc, reason)


@rule("kubernetes", "Service")
def cluster_ip(c: Compared) -> Iterator[Risk]:
    for change in c.changes:
        if _under(change, "spec", "clusterIP") or _under(change, "spec", "clusterIPs"):
            yield Risk(change.loc, "clusterIP cannot change in place: the Service must be deleted and recreated")


@rule("kubernetes", "Job")
def job(c: Compared) -> Iterator[Risk]:
    for change in c.changes:
        if _under(change, "spec", "selector") or _under(change, "spec", "template"):
            yield Risk(change.loc, f"{json_path(change.loc[:2])} of a Job cannot change: the Job must be deleted and recreated")


@rule("kubernetes", "CronJob")
def cronjob(c: Compared) -> Iterator[Risk]:
    for change in c.changes:
        if _under(change, "spec", "jobTemplate", "spec", "selector"):
            yield Risk(change.loc, "the job template's selector cannot change in place: the CronJob must be deleted and recreated")


@rule("kubernetes", "Namespace")
def namespace(c: Compared) -> Iterator[Risk]:
    if c.status is Op.REMOVED:
        yield Risk((), "removing the Namespace deletes every object in it, PersistentVolumeClaims and their data included")


# --- Docker Compose ------------------------------------------------------------------------------


@rule("docker", "volume")
def compose_volume(c: Compared) -> Iterator[Risk]:
    if c.status is Op.REMOVED:
        yield Risk(
            (), "the named volume leaves the render: no container mounts its data any more, and a deploy that prunes volumes deletes it"
        )
        return
    for change in c.changes:
        if change.loc[:1] == ("name",):
            yield Risk(
                change.loc,
                f"the volume's name changes from {_show(change.old)} to {_show(change.new)}: containers start on an empty volume",
            )
