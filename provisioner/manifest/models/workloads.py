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
SLUG = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
Platform = Literal["self-hosted", "cloudflare-workers", "deno-deploy"]
"""Where functions run: the self-hosted edge runtime, or a hosted edge platform."""
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
    platform: Platform | None = Field(None, description="Where this function runs; `functions.platform` when unset.")


class WorkerRoute(Model):
    """A Cloudflare route: requests matching the pattern go to the environment's Worker."""

    pattern: Annotated[str, Field(pattern=r"^[^\s/]+/[^\s]*$")] = Field(
        description="Host and path pattern.", examples=["acme.example.com/functions/v1/*"]
    )
    zone_name: Annotated[str, Field(pattern=r"^[a-z0-9.-]+$")] = Field(
        description="The zone (domain) the pattern is in.", examples=["example.com"]
    )


class CloudflareWorkers(Model):
    """Functions on Cloudflare Workers: one Worker per environment serves them (API token: CLOUDFLARE_API_TOKEN)."""

    account_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] = Field(description="Cloudflare account ID (not a secret).")
    name: Annotated[str, Field(pattern=SLUG)] | None = Field(None, description="Worker name; <project>-<environment>-functions when unset.")
    compatibility_date: Annotated[str, Field(pattern=r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$")] = Field(
        "2026-11-01", description="Workers runtime compatibility date."
    )
    routes: list[WorkerRoute] = Field(default_factory=list, description="Routes to the Worker on your zones.")
    workers_dev: bool = Field(True, description="Serve on the account's workers.dev subdomain too.")
    cpu_ms: int | None = Field(
        None, ge=10, le=300_000, description="CPU time per invocation in ms; from the longest function timeout when unset."
    )


class DenoDeploy(Model):
    """Functions on Deno Deploy: one app per environment serves them (token: DENO_DEPLOY_TOKEN)."""

    org: Annotated[str, Field(pattern=SLUG)] = Field(description="Deno Deploy organization.")
    app: Annotated[str, Field(pattern=SLUG)] | None = Field(None, description="App name; <project>-<environment>-functions when unset.")


class Functions(Model):
    """Edge functions and the runtime that serves them."""

    runtime: Runtime = Field(default_factory=Runtime, description="The Deno edge runtime.")
    items: list[Function] = Field(default_factory=list, description="The functions; merged by name across environments.")
    platform: Platform = Field("self-hosted", description="Where functions run unless a function says otherwise.")
    cloudflare: CloudflareWorkers | None = Field(None, description="Cloudflare Workers settings, for functions that run there.")
    deno_deploy: DenoDeploy | None = Field(None, description="Deno Deploy settings, for functions that run there.")
    api_url: Annotated[str, Field(pattern=URL)] | None = Field(
        None, description="The project's API as hosted functions reach it (KOYALITE_API_URL); https://<public host> when unset."
    )

    def platform_of(self, fn: Function) -> str:
        """Where a function runs: its own `platform`, else this section's."""
        return fn.platform or self.platform


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
