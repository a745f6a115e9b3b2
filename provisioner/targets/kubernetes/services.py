"""Stateless services: Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget."""

from __future__ import annotations

from provisioner.plan.model import Autoscale, Part, StatelessService
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
    plain_env,
    probes,
    resources,
    secret_env,
    selector,
    service,
    tmp_volume,
)


def hpa(ctx: Context, part: Part, scale: Autoscale) -> Obj:
    """Scale the Deployment named like the part on CPU utilisation."""
    name = part.name
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(ctx, name, part),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scale.min,
            "maxReplicas": scale.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": scale.cpu_percent}},
                }
            ],
        },
    }


@REGISTRY.register(StatelessService)
def translate(part: StatelessService, ctx: Context) -> list[Obj]:
    match = selector(ctx, part)
    tmp, tmp_mount = tmp_volume()
    volumes, mounts = [tmp], [tmp_mount]
    ports = [{"name": "http", "containerPort": part.port, "protocol": "TCP"}]
    if part.metrics_port:
        ports.append({"name": "metrics", "containerPort": part.metrics_port, "protocol": "TCP"})
    env = [{"name": "PORT", "value": str(part.port)}, *plain_env(part.env), *secret_env(ctx, part.secrets)]
    container: Obj = {
        "name": part.role,
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        "ports": ports,
        "env": env,
        "envFrom": config_from(ctx),
        "resources": resources(part.resources),
        "securityContext": container_security(),
        "volumeMounts": mounts,
        **probes(part.probe),
        **drain(),
    }
    fixed = None if part.autoscale else part.replicas  # an HPA owns the count of an autoscaled one
    objs = [deployment(ctx, part, match, container, volumes, replicas=fixed)]
    svc_ports = [("http", part.port)] + ([("metrics", part.metrics_port)] if part.metrics_port else [])
    objs.append(service(ctx, part.name, part, match, svc_ports))
    if part.autoscale:
        objs.append(hpa(ctx, part, part.autoscale))
    replicas = part.autoscale.min if part.autoscale else part.replicas
    if replicas > 1:
        objs.append(pdb(ctx, part.name, part, match))
    return objs
