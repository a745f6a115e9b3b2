"""Configuration parts: the project ConfigMap, the environment's Secret (names only) and the webhooks file."""

from __future__ import annotations

from provisioner.plan.model import ProjectConfig, SecretSet, Webhooks
from provisioner.targets.json_file import json_file
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


@REGISTRY.register(Webhooks)
def webhooks(part: Webhooks, ctx: Context) -> list[Obj]:
    document = json_file(part.document())
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(ctx, part.name, part), "data": {"webhooks.json": document}}]
