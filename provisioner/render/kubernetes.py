"""Kubernetes render: one stream, or one file per object named so `kubectl apply -f DIR` applies in a safe order."""

from __future__ import annotations

from typing import Any

from provisioner.render.dump import dumps, dumps_all

ORDER = {
    "Namespace": 0,
    "NetworkPolicy": 10,
    "Secret": 20,
    "ConfigMap": 20,
    "Service": 30,
    "PersistentVolumeClaim": 30,
    "StatefulSet": 40,
    "Deployment": 40,
    "HorizontalPodAutoscaler": 50,
    "PodDisruptionBudget": 50,
    "CronJob": 60,
    "Job": 65,
    "Ingress": 70,
}
"""Apply order (and file-name prefix): the namespace first, the ingress last. Stable, so adding an object renames nothing."""


def file_name(obj: dict[str, Any]) -> str:
    kind = str(obj["kind"])
    return f"{ORDER.get(kind, 90):02d}-{kind.lower()}-{obj['metadata']['name']}.yaml"


def stream(objects: list[dict[str, Any]]) -> str:
    return dumps_all(sorted(objects, key=lambda o: (ORDER.get(o["kind"], 90), o["kind"], o["metadata"]["name"])))


def files(objects: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    tags: dict[tuple[str, Any], Any] = {}  # resolved scalar tags, shared by the files of one render
    for obj in objects:
        name = file_name(obj)
        if name in out:
            raise ValueError(f"two objects render to {name}")
        out[name] = dumps(obj, tags)
    return dict(sorted(out.items()))
