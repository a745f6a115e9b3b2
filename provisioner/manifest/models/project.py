"""`project`, `features` and `limits`: who the project is, what it turns on, and what it may use."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.types import ByteQuantity, DnsLabel, Hostname

IMAGE_REGISTRY = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
RELEASE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
NAMESPACED_FLAG = r"^(experimental|enterprise)\.[a-z][a-z0-9_]*$"
_NAMESPACED_FLAG = re.compile(NAMESPACED_FLAG)


class Project(Model):
    """The project: its name, public domain, regions and the KoyaLite release it runs."""

    name: DnsLabel = Field(description="Project name; prefixes every object the provisioner creates.", examples=["acme"])
    domain: Hostname | None = Field(
        None, description="Public domain; the ingress serves the API, Studio and functions under it.", examples=["acme.example.com"]
    )
    regions: list[DnsLabel] = Field(
        ["local"],
        min_length=1,
        description="Regions the project runs in; the first is the default.",
        examples=[["fra", "iad"]],
        json_schema_extra={"uniqueItems": True},
    )
    release: Annotated[str, Field(pattern=RELEASE)] = Field(
        description="KoyaLite release: the image tag of every service unless a service pins its own.", examples=["1.4.0"]
    )
    registry: Annotated[str, Field(pattern=IMAGE_REGISTRY)] = Field(
        "koyalite", description="Image registry and namespace the service images are pulled from.", examples=["ghcr.io/acme"]
    )

    @model_validator(mode="after")
    def _unique_regions(self) -> Project:
        seen: set[str] = set()
        for region in self.regions:
            if region in seen:
                raise PydanticCustomError(
                    "koyalite", "region '{region}' is listed twice", {"region": region, "hint": "list each region once"}
                )
            seen.add(region)
        return self


class Features(Model):
    """Feature flags. Known flags switch parts of the stack; `experimental.*` and `enterprise.*` pass through to the services."""

    model_config = Model.model_config | {
        "extra": "allow",
        "json_schema_extra": {
            "patternProperties": {NAMESPACED_FLAG: {"type": "boolean", "description": "A namespaced experimental or enterprise flag."}},
            "additionalProperties": False,
        },
    }

    edge_functions: bool = Field(True, description="Deploy the Deno edge runtime and the project's functions.")
    storage: bool = Field(True, description="Deploy SeaweedFS object storage (masters, volume servers, filer, S3 gateway).")
    search: bool = Field(True, description="Deploy Weaviate and the Search service.")
    email: bool = Field(True, description="Deploy the Email service.")
    studio: bool = Field(True, description="Deploy Studio, the web console.")
    cron: bool = Field(True, description="Run the project's cron jobs.")
    webhooks: bool = Field(True, description="Deliver the project's webhooks (through the event bus).")
    events: bool = Field(True, description="Run the event bus (NATS JetStream), its streams and queues.")

    @model_validator(mode="after")
    def _namespaced(self) -> Features:
        for key, value in (self.model_extra or {}).items():
            if not _NAMESPACED_FLAG.match(key):
                raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted", {"key": key})
            if not isinstance(value, bool):
                raise PydanticCustomError(
                    "koyalite", "flag '{key}' must be true or false", {"key": key, "hint": f"write `{key}: true` or `{key}: false`"}
                )
        return self

    @property
    def namespaced(self) -> dict[str, bool]:
        """The `experimental.*` and `enterprise.*` flags, by full name."""
        return {k: bool(v) for k, v in sorted((self.model_extra or {}).items())}

    def enabled(self, name: str) -> bool:
        """Whether a known or namespaced flag is on."""
        if name in type(self).model_fields:
            return bool(getattr(self, name))
        return self.namespaced.get(name, False)


class RateLimit(Model):
    """A token bucket applied per client by the API gateway."""

    rps: int = Field(100, ge=1, le=1_000_000, description="Sustained requests per second per client.")
    burst: int = Field(200, ge=1, le=10_000_000, description="Requests a client may send at once above the sustained rate.")


class Limits(Model):
    """Project-scoped limits: checked at validate time where they are static, passed to the services otherwise."""

    max_functions: int = Field(100, ge=0, le=10_000, description="Most edge functions the project may define.")
    max_cron_jobs: int = Field(100, ge=0, le=10_000, description="Most cron jobs the project may define.")
    max_webhooks: int = Field(100, ge=0, le=10_000, description="Most webhooks the project may define.")
    max_streams: int = Field(20, ge=0, le=1_000, description="Most event streams the project may define.")
    max_queues: int = Field(50, ge=0, le=10_000, description="Most work queues the project may define.")
    storage_quota: ByteQuantity | None = Field(
        None, description="Upper bound on all persistent volumes the environment claims; unset means no bound.", examples=["500Gi"]
    )
    max_db_size: ByteQuantity = Field("10Gi", description="Largest SQLite database the services accept; must fit the LiteFS volume.")
    max_upload_size: ByteQuantity = Field("50Mi", description="Largest object the storage API accepts in one upload.")
    rate_limit: RateLimit = Field(default_factory=RateLimit, description="API rate limit per client.")
