"""The Kubernetes target under the platform: an explicit provider, then one component per translated bundle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.errors import ComponentError
from components.kubernetes.objects import arguments, logical_name
from components.kubernetes.parts import PARTS, Bundled, Cluster, Namespace, Network, Scope, is_configuration
from components.platform import Deployed, Platform, register
from components.secrets import stack_secrets
from components.stack import Settings
from provisioner.plan.model import Plan, SecretSet
from provisioner.targets import Bundle
from provisioner.targets.kubernetes import translate

PROVIDER = "kubernetes"
"""Logical name of the explicit provider. Its context or kubeconfig pointing at another cluster replaces every object."""


def provider(platform: Platform, plan: Plan, settings: Settings) -> k8s.Provider:
    """The explicit provider: stack config's context first, then the manifest's; render mode when config asks."""
    where = cluster(plan, settings)
    return k8s.Provider(
        PROVIDER,
        context=where.context,
        kubeconfig=where.kubeconfig,
        render_yaml_to_directory=settings.render_directory,
        # Explicit, whatever PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY says: client-side apply copies a Secret's values
        # into the last-applied-configuration annotation in plain text (pulumi/pulumi-kubernetes#965).
        enable_server_side_apply=True,
        # A ConfigMap's data is updated in place. By default the provider replaces a changed ConfigMap, which, with the
        # fixed names the translation gives, deletes it before creating it again: pods starting in between fail to
        # mount it. The runtime's pods roll through their code-hash annotation instead.
        enable_config_map_mutable=True,
        opts=pulumi.ResourceOptions(parent=platform),
    )


def cluster(plan: Plan, settings: Settings) -> Cluster:
    """The cluster the provider reaches (same context, same kubeconfig), for the bus's stream resources."""
    return Cluster(settings.kubeconfig, settings.kube_context or (plan.kubernetes.context if plan.kubernetes else None))


def secret_values(plan: Plan, settings: Settings) -> Mapping[str, pulumi.Output[str]] | None:
    """Values of the plan's secrets; None in render mode, where they would be written to disk in plain text."""
    keys = [key for part in plan.of(SecretSet) for key in part.keys]
    if settings.render_directory:
        pulumi.log.warn(f"rendering to {settings.render_directory}: Secrets are written without values; provide them in the cluster")
        return None
    return stack_secrets(keys, settings)


def check_objects(bundles: Sequence[Bundle]) -> None:
    """Refuse, before anything registers, an object of an unknown kind or field, and two objects with one URN."""
    for bundle in bundles:
        for obj in bundle.objects:
            arguments(obj)
    counts = Counter(logical_name(obj) for bundle in bundles for obj in bundle.objects)
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
        raise ComponentError(f"the translation has several objects named {', '.join(twice)}", "Kubernetes kind and name must be unique")


@register("kubernetes")
def deploy(platform: Platform, plan: Plan, settings: Settings) -> Deployed:
    """Namespace first (everything else depends on it), then the plan's parts in plan order.

    Everything that can fail (translation, names, missing secrets) is checked before the first registration.
    """
    bundles = translate(plan)
    check_objects(bundles)
    head, *rest = bundles
    if head.kind != "namespace":
        raise ComponentError(f"the Kubernetes translation starts with a {head.kind} bundle", "the namespace bundle must come first")
    unknown = sorted({b.kind for b in rest} - set(PARTS))
    if unknown:
        raise ComponentError(f"no Pulumi component for plan kinds {', '.join(unknown)}", "add them to components.kubernetes.parts.PARTS")
    secrets = secret_values(plan, settings)
    opts = pulumi.ResourceOptions(parent=platform, providers=[provider(platform, plan, settings)])
    exec_in = None if settings.render_directory or (plan.kubernetes and plan.kubernetes.streams_via == "job") else cluster(plan, settings)
    namespace = Namespace(head.name, head.objects, Scope(plan.protect), opts)
    scope = Scope(plan.protect, after=(namespace.namespace,), secrets=secrets)
    parts: dict[str, Bundled] = {head.name: namespace}
    # bundles of configuration only (the environment's ConfigMap and Secret, the webhooks' file) come first, and
    # every other bundle waits for them: the engine works through resources with bounded parallelism, and a
    # Deployment created before the ConfigMap it mounts waits minutes for the kubelet's retry (found on the node tier)
    configuration = [b for b in rest if all(is_configuration(o) for o in b.objects)]
    for bundle in configuration:
        parts[bundle.name] = PARTS[bundle.kind](bundle.name, bundle.objects, scope, opts)
    made = tuple(r for b in configuration for r in parts[b.name].resources.values())
    workloads = Scope(plan.protect, after=(namespace.namespace, *made), secrets=secrets, exec_in=exec_in)
    for bundle in rest:
        if bundle not in configuration:
            parts[bundle.name] = PARTS[bundle.kind](bundle.name, bundle.objects, workloads, opts)
    parts = {b.name: parts[b.name] for b in bundles}  # plan order, whatever the order of creation
    return Deployed(parts, exports(plan, namespace, parts.values(), settings))


def exports(plan: Plan, namespace: Namespace, parts: Iterable[Bundled], settings: Settings) -> dict[str, pulumi.Input[Any]]:
    """Stack outputs: the environment, its namespace, the public URL and, in render mode, where the YAML went."""
    out: dict[str, pulumi.Input[Any]] = {"environment": plan.environment, "namespace": namespace.name}
    url = next((p.url for p in parts if isinstance(p, Network) and p.url), None)
    if url:
        out["url"] = url
    if settings.render_directory:
        out["renderedTo"] = settings.render_directory
    return out
