"""`environments`: where each environment deploys, its policy, and what it overrides."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.types import DnsLabel, Hostname

SECTIONS = ("project", "features", "limits", "services", "database", "storage", "search", "functions", "cron", "webhooks", "events")
"""Top-level sections an environment may override."""

_OVERRIDE = (
    "Partial override, merged over the base section (mappings merge, lists and scalars replace, named lists merge by name, null deletes)."
)


class Tls(Model):
    """TLS for the ingress: a cert-manager issuer, or an existing certificate Secret."""

    issuer: DnsLabel | None = Field(None, description="cert-manager ClusterIssuer that issues the certificate.", examples=["letsencrypt"])
    secret: DnsLabel | None = Field(None, description="Existing kubernetes.io/tls Secret to serve.")


class Ingress(Model):
    """The public entry point."""

    class_name: DnsLabel = Field("nginx", alias="class", description="IngressClass name.")
    host: Hostname | None = Field(None, description="Public host; defaults to project.domain.")
    tls: Tls | None = Field(None, description="TLS settings; required in protected environments.")


class KubernetesTarget(Model):
    """Settings of a Kubernetes environment."""

    namespace: DnsLabel | None = Field(None, description="Namespace; defaults to <project>-<environment>.")
    context: str | None = Field(None, description="kubeconfig context; the current context when unset.")
    storage_class: DnsLabel | None = Field(None, description="Default StorageClass for every volume claim.")
    region_label: Annotated[str, Field(pattern=r"^[a-z0-9./-]+$")] = Field(
        "topology.kubernetes.io/region", description="Node label holding a node's region."
    )
    ingress: Ingress | None = Field(None, description="Ingress; no public entry point when unset.")
    streams_via: Literal["exec", "job"] = Field(
        "exec",
        description="How `koyalite up` declares the event bus's streams and consumers: `exec`, as resources that run the nats CLI "
        "in a bus pod through the API server (needs pods/exec; the data-loss guard sees a stream's removal or recreation); "
        "`job`, by a Job in the namespace (no pods/exec; the guard cannot see stream changes).",
    )


class DockerTarget(Model):
    """Settings of a Docker environment."""

    host: Annotated[str, Field(pattern=r"^(unix|tcp|ssh)://[^\s]+$")] | None = Field(
        None, description="Docker daemon address; DOCKER_HOST or the local socket when unset."
    )
    publish: dict[DnsLabel, Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: {"api": 8000, "studio": 3000}, description="Roles published on the host: role -> host port."
    )
    bind: Annotated[str, Field(pattern=r"^[0-9a-f.:]+$")] = Field("127.0.0.1", description="Host address published ports bind to.")


class Policy(Model):
    """Environment policy. Unset toggles follow `protect`."""

    pinned_images: bool | None = Field(None, description="Refuse images without a fixed tag or digest (and `latest`).")
    min_replicas: int | None = Field(None, ge=0, le=100, description="Fewest replicas of each stateless service (2 when protected).")
    resource_limits: bool | None = Field(None, description="Require CPU and memory limits on every workload.")
    ingress_tls: bool | None = Field(None, description="Require TLS on the ingress.")
    allow_experimental: bool = Field(False, description="Allow `experimental.*` flags in a protected environment.")


class Environment(Model):
    """One deployment of the project: dev, staging, prod or any name."""

    target: Literal["docker", "kubernetes"] = Field(description="Where it deploys.")
    protect: bool = Field(
        False, description="A production-like environment: stricter policy, Pulumi protect on stateful resources, guarded destroy."
    )
    policy: Policy = Field(default_factory=Policy, description="Policy toggles.")
    kubernetes: KubernetesTarget | None = Field(None, description="Kubernetes settings (target kubernetes only).")
    docker: DockerTarget | None = Field(None, description="Docker settings (target docker only).")
    project: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    features: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    limits: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    services: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    database: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    storage: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    search: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    functions: dict[str, Any] | None = Field(None, description=_OVERRIDE)
    cron: list[Any] | None = Field(None, description=_OVERRIDE)
    webhooks: list[Any] | None = Field(None, description=_OVERRIDE)
    events: dict[str, Any] | None = Field(None, description=_OVERRIDE)

    def effective_policy(self) -> Policy:
        """The policy with unset toggles filled in from `protect`."""
        p = self.policy
        return Policy(
            pinned_images=self.protect if p.pinned_images is None else p.pinned_images,
            min_replicas=(2 if self.protect else 0) if p.min_replicas is None else p.min_replicas,
            resource_limits=self.protect if p.resource_limits is None else p.resource_limits,
            ingress_tls=self.protect if p.ingress_tls is None else p.ingress_tls,
            allow_experimental=p.allow_experimental,
        )
