"""`services`: the stateless KoyaLite services and the knobs every workload shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.types import ByteQuantity, CpuQuantity, Duration, EnvVarName, HttpPath, SecretRef

IMAGE = r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

Port = Annotated[int, Field(ge=1, le=65535)]
EnvValue = str | int | bool


class ResourceAmounts(Model):
    """CPU and memory, as Kubernetes quantities."""

    cpu: CpuQuantity | None = Field(None, description="CPU: millicores (500m) or cores (1).", examples=["500m"])
    memory: ByteQuantity | None = Field(None, description="Memory, a byte quantity.", examples=["512Mi"])


class Resources(Model):
    """Requests reserve capacity on a node; limits cap what a container may use."""

    requests: ResourceAmounts = Field(default_factory=ResourceAmounts, description="Capacity reserved for each replica.")
    limits: ResourceAmounts = Field(
        default_factory=ResourceAmounts, description="Most each replica may use; required in protected environments."
    )


class Autoscale(Model):
    """Horizontal autoscaling on CPU utilisation."""

    min: int = Field(1, ge=1, le=1000, description="Fewest replicas.")
    max: int = Field(ge=1, le=1000, description="Most replicas.", examples=[10])
    cpu: int = Field(70, ge=1, le=100, description="Target average CPU utilisation, in percent of requests.")

    @model_validator(mode="after")
    def _order(self) -> Autoscale:
        if self.min > self.max:
            raise PydanticCustomError(
                "koyalite", "autoscale min {min} is above max {max}", {"min": self.min, "max": self.max, "hint": "set min <= max"}
            )
        return self


class Health(Model):
    """The HTTP endpoint that tells whether a replica is alive and ready."""

    path: HttpPath = Field("/health", description="Path answered with 2xx when the replica is healthy.")
    period: Duration = Field("10s", description="Time between probes.")
    timeout: Duration = Field("2s", description="Time a probe may take.")
    failure_threshold: int = Field(3, ge=1, le=100, description="Failed probes in a row before the replica is restarted or taken out.")


class Workload(Model):
    """Settings every long-running workload has: image, scale, resources, configuration."""

    image: Annotated[str, Field(pattern=IMAGE)] | None = Field(
        None,
        description="Image override (repository, optionally with :tag or @sha256 digest); defaults to <registry>/<service>.",
        examples=["ghcr.io/acme/api:1.4.1"],
    )
    tag: Annotated[str, Field(pattern=TAG)] | None = Field(
        None, description="Image tag override; defaults to project.release.", examples=["1.4.1"]
    )
    replicas: int = Field(1, ge=0, le=1000, description="Replicas when autoscale is off, and the starting count when it is on.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory requests and limits per replica.")
    autoscale: Autoscale | None = Field(None, description="Scale between min and max replicas on CPU; off when unset.")
    env: dict[EnvVarName, EnvValue] = Field(
        default_factory=dict, description="Plain configuration as environment variables; never secrets.", examples=[{"LOG_LEVEL": "info"}]
    )
    secrets: dict[EnvVarName, SecretRef] = Field(
        default_factory=dict,
        description="Environment variables filled from named secrets: VARIABLE -> secret name.",
        examples=[{"JWT_SECRET": "jwt_secret"}],
    )


class Service(Workload):
    """A stateless KoyaLite service."""

    port: Port = Field(8080, description="Port the service listens on.")
    metrics_port: Port | None = Field(None, description="Port serving Prometheus metrics, when it differs from `port`.")
    health: Health = Field(default_factory=Health, description="Health endpoint for liveness, readiness and startup probes.")


class ApiService(Service):
    """The API gateway: REST, auth checks and rate limits."""

    port: Port = Field(8000, description="Port the API listens on.")


class AuthService(Service):
    """Auth: users, sessions and JWTs."""

    port: Port = Field(9999, description="Port Auth listens on.")


class ProjectService(Service):
    """Project: settings, keys and quotas."""

    port: Port = Field(8100, description="Port Project listens on.")


class RlsService(Service):
    """RLS: row-level security policies over the database."""

    port: Port = Field(8200, description="Port RLS listens on.")


class SearchService(Service):
    """Search: the query front end of Weaviate."""

    port: Port = Field(8300, description="Port Search listens on.")


class EmailService(Service):
    """Email: templates and outgoing mail."""

    port: Port = Field(8400, description="Port Email listens on.")


class StudioService(Service):
    """Studio: the web console."""

    port: Port = Field(3000, description="Port Studio listens on.")


class Services(Model):
    """The stateless services. Search, Email and Studio run only when their feature is on."""

    api: ApiService = Field(default_factory=ApiService, description=ApiService.__doc__)
    auth: AuthService = Field(default_factory=AuthService, description=AuthService.__doc__)
    project: ProjectService = Field(default_factory=ProjectService, description=ProjectService.__doc__)
    rls: RlsService = Field(default_factory=RlsService, description=RlsService.__doc__)
    search: SearchService = Field(default_factory=SearchService, description=SearchService.__doc__)
    email: EmailService = Field(default_factory=EmailService, description=EmailService.__doc__)
    studio: StudioService = Field(default_factory=StudioService, description=StudioService.__doc__)

    def items(self) -> list[tuple[str, Service]]:
        """(name, service) pairs in manifest order."""
        return [(name, getattr(self, name)) for name in type(self).model_fields]
