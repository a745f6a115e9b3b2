"""Configuration parts: the project ConfigMap and the environment's Secret (names only)."""

from __future__ import annotations

from provisioner.plan.model import ProjectConfig, SecretSet
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import Context, Obj, metadata

KEYS_ANNOTATION = "koyalite.dev/secret-keys"
"""Lists the keys a Secret must hold. Rendered Secrets carry no values: the Pulumi component fills them from
stack secrets; GitOps users supply them with an existing Secret, External Secrets or Sealed Secrets."""


@REGISTRY.register(ProjectConfig)
def project_config(part: ProjectConfig, ctx: Context) -> list[Obj]:
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(ctx, part.name, part), "data": dict(part.data)}]


@REGISTRY.register(SecretSet)
def secret_set(part: SecretSet, ctx: Context) -> list[Obj]:
    meta = metadata(ctx, part.name, part, annotations={KEYS_ANNOTATION: ",".join(part.keys)})
    return [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta}]
