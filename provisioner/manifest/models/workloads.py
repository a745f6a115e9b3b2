"""`functions`, `cron` and `webhooks`: the project's code and the events that drive it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.services import Autoscale, EnvValue, Resources
from provisioner.manifest.models.types import (
    ByteQuantity,
    DnsLabel,
    Duration,
    EnvVarName,
    HttpPath,
    SecretRef,
)

ENTRYPOINT = r"^[A-Za-z0-9_][A-Za-z0-9._/-]*\.(ts|js|mts|mjs|tsx|jsx)$"
URL = r"^https?://[^\s/$.?#][^\s]*$"
EVENT = r"^[a-z]+(\.[a-z_]+)+$"


class Runtime(Model):
    """The Deno edge runtime that serves every function."""

    image: Annotated[str, Field(pattern=r"^[^\s]+$")] | None = Field(None, description="Runtime image override.")
    tag: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")] | None = Field(
        None, description="Runtime image tag override."
    )
    replicas: int = Field(1, ge=0, le=1000, description="Runtime replicas.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory per runtime replica.")
    autoscale: Autoscale | None = Field(None, description="Scale the runtime on CPU; off when unset.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(9000, description="Port the runtime listens on.")
    verify_jwt: bool = Field(True, description="Require a valid project JWT on every function call.")


class Function(Model):
    """One edge function: a TypeScript or JavaScript module served by the runtime."""

    name: DnsLabel = Field(description="Function name; unique in the project.", examples=["hello"])
    entrypoint: Annotated[str, Field(pattern=ENTRYPOINT)] = Field(
        description="Module path relative to the manifest's folder.", examples=["functions/hello/index.ts"]
    )
    routes: list[HttpPath] = Field(
        default_factory=list, description="Public routes under /functions/v1 served by this function.", examples=[["/hello"]]
    )
    env: dict[EnvVarName, EnvValue] = Field(default_factory=dict, description="Plain configuration for this function.")
    secrets: dict[EnvVarName, SecretRef] = Field(default_factory=dict, description="Variables filled from named secrets.")
    timeout: Duration = Field("60s", description="Wall-clock limit per invocation.")
    memory: ByteQuantity = Field("150Mi", description="Memory limit of the function's isolate.")


class Functions(Model):
    """Edge functions and the runtime that serves them."""

    runtime: Runtime = Field(default_factory=Runtime, description="The Deno edge runtime.")
    items: list[Function] = Field(default_factory=list, description="The functions; merged by name across environments.")


class CronJob(Model):
    """A schedule that calls a function or a URL."""

    name: DnsLabel = Field(description="Job name; unique in the project.", examples=["nightly-cleanup"])
    schedule: str = Field(description="Five-field cron expression or @hourly/@daily/@weekly/@monthly/@yearly.", examples=["0 2 * * *"])
    timezone: str = Field("UTC", description="IANA time zone the schedule is read in.", examples=["Europe/Berlin"])
    function: DnsLabel | None = Field(None, description="Function to call (one of function or url).", examples=["cleanup"])
    url: Annotated[str, Field(pattern=URL)] | None = Field(None, description="URL to POST to (one of function or url).")
    deadline: Duration = Field("5m", description="A run that cannot start within this time after its slot is skipped.")
    suspend: bool = Field(False, description="Keep the job defined but do not run it.")

    @model_validator(mode="after")
    def _target(self) -> CronJob:
        if (self.function is None) == (self.url is None):
            raise PydanticCustomError(
                "koyalite",
                "a cron job calls exactly one of function or url",
                {"hint": "set `function: NAME` or `url: https://...`, not both"},
            )
        return self


class Retry(Model):
    """How failed deliveries are retried."""

    max_attempts: int = Field(5, ge=1, le=100, description="Deliveries tried in all, the first included.")
    backoff: Literal["exponential", "fixed"] = Field("exponential", description="How the wait grows between attempts.")
    initial_interval: Duration = Field("1s", description="Wait before the second attempt.")
    max_interval: Duration = Field("5m", description="Longest wait between attempts.")


class Webhook(Model):
    """An outgoing HTTP call signed with a shared secret, sent when one of its events happens."""

    name: DnsLabel = Field(description="Webhook name; unique in the project.", examples=["signup"])
    events: list[Annotated[str, Field(pattern=EVENT)]] = Field(
        min_length=1, description="Events from the catalog (docs/events.md).", examples=[["auth.user.created"]]
    )
    url: Annotated[str, Field(pattern=URL)] = Field(description="Receiver URL.", examples=["https://hooks.example.com/signup"])
    secret: SecretRef = Field(description="Secret used to sign each delivery (HMAC-SHA256).", examples=["webhook_key"])
    retry: Retry = Field(default_factory=Retry, description="Retry policy.")
    timeout: Duration = Field("10s", description="Time a delivery may take.")
