"""Before the engine touches a Kubernetes environment: the kubeconfig and context exist, the API server answers, and
the namespace is free or already this environment's. The one adapter to the Kubernetes API (the official client).

The provider would find the first two out too, but only as a raw error on the first resource; and with server-side
apply it would silently adopt a namespace someone else owns. Nothing here changes the cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provisioner.deploy.engine import DeployError, RefusedError

CONNECT_TIMEOUT_S = 5.0
OWNER_LABEL = "app.kubernetes.io/instance"
MANAGER_LABEL = "app.kubernetes.io/managed-by"


@dataclass(frozen=True, slots=True)
class Target:
    """Where one environment deploys: kubeconfig (a path, a kubeconfig's contents, or None for $KUBECONFIG and
    ~/.kube/config, as the provider reads them), context (None: the kubeconfig's current one) and namespace."""

    environment: str
    namespace: str
    instance: str
    """`<project>-<environment>`: the `app.kubernetes.io/instance` label our namespace carries."""
    context: str | None = None
    kubeconfig: str | None = None


def _load(target: Target) -> tuple[Any, str, str]:
    """An API client for the target, the context's name and the server URL; errors name the kubeconfig and context."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    source = target.kubeconfig
    contents = yaml.safe_load(source) if source and "\n" in source else None  # `pulumi config set --secret` of a file
    path = None if contents is not None else source or None
    where = "the stack's kubeconfig" if contents is not None else path or _default_kubeconfig()
    configuration = client.Configuration()
    try:
        if contents is not None:
            contexts = [c["name"] for c in contents.get("contexts") or []]
            current = contents.get("current-context", "")
        else:
            listed, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
            contexts, current = [c["name"] for c in listed], active["name"]
        if target.context and target.context not in contexts:
            raise _missing_context(target, where, contexts)
        if contents is not None:
            config.load_kube_config_from_dict(contents, context=target.context, client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(config_file=path, context=target.context, client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise DeployError(
            f"cannot use the kubeconfig for environment {target.environment} ({where}): {exc}",
            "point KUBECONFIG (or `koyalite:kubeconfig` in the stack config) at a kubeconfig, e.g. `make cluster` writes "
            ".koyalite/cluster/kubeconfig",
        ) from None
    except OSError as exc:
        raise DeployError(
            f"cannot read the kubeconfig for environment {target.environment} ({where}): {exc.strerror or exc}",
            "point KUBECONFIG (or `koyalite:kubeconfig` in the stack config) at a kubeconfig",
        ) from None
    name = target.context or current
    return client.ApiClient(configuration), name, str(configuration.host)


def _default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


def _missing_context(target: Target, where: str, contexts: list[str]) -> DeployError:
    return DeployError(
        f"context `{target.context}` of environment {target.environment} is not in {where}",
        f"contexts there: {', '.join(contexts) or 'none'}; set environments.{target.environment}.kubernetes.context "
        f"or `pulumi config set koyalite:kubeContext NAME -s {target.environment}`",
    )


def preflight(target: Target) -> str:
    """Check the target; returns `context (server)` for the log. DeployError (exit 4) when the cluster cannot be used,
    RefusedError (exit 3) when the namespace belongs to something else."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api, context, server = _load(target)
    where = f"context `{context}` ({server})"
    with api:
        core = client.CoreV1Api(api)
        try:
            namespace = core.read_namespace(target.namespace, _request_timeout=CONNECT_TIMEOUT_S)
        except ApiException as exc:
            if exc.status == 404:
                return where
            if exc.status in (401, 403):
                raise DeployError(
                    f"the cluster of {where} refuses our credentials for namespace {target.namespace} (HTTP {exc.status})",
                    "the kubeconfig's user needs rights to manage the namespace and its objects",
                ) from None
            raise DeployError(f"the cluster of {where} answered HTTP {exc.status}: {exc.reason}", "check the API server") from None
        except (HTTPError, OSError) as exc:
            raise DeployError(
                f"cannot reach the Kubernetes API of {where} for environment {target.environment}: {_reason(exc)}",
                "start the cluster (`make cluster` for the local one) or choose another context; nothing was changed",
            ) from None
    meta = namespace.metadata
    labels = (meta.labels if meta else None) or {}
    if meta and meta.deletion_timestamp:
        raise DeployError(
            f"namespace {target.namespace} on {where} is being deleted",
            "wait until `kubectl get namespace` no longer lists it, then deploy again",
        )
    if labels.get(OWNER_LABEL) != target.instance or labels.get(MANAGER_LABEL) != "koyalite":
        owner = labels.get(OWNER_LABEL) or labels.get(MANAGER_LABEL) or "something else"
        raise RefusedError(
            f"namespace {target.namespace} on {where} already exists and belongs to {owner}, not {target.instance}",
            f"choose another namespace in environments.{target.environment}.kubernetes.namespace; to hand this one over, "
            f"label it: kubectl label namespace {target.namespace} {OWNER_LABEL}={target.instance} {MANAGER_LABEL}=koyalite",
        )
    return where


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection error, in a few words (urllib3 nests them)."""
    text = str(getattr(exc, "reason", None) or exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host", "certificate verify failed"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200]
