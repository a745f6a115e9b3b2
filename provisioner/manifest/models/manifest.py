"""The whole manifest: `apiVersion`, the project's sections and its environments."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.data import Database, Search, Storage
from provisioner.manifest.models.environments import Environment
from provisioner.manifest.models.events import Events
from provisioner.manifest.models.project import Features, Limits, Project
from provisioner.manifest.models.services import Services
from provisioner.manifest.models.types import DnsLabel
from provisioner.manifest.models.workloads import CronJob, Functions, Webhook

API_VERSION = "koyalite.dev/v1"


class Manifest(Model):
    """A KoyaLite project: koyalite.yaml."""

    model_config = Model.model_config | {"title": "koyalite.yaml"}

    api_version: Literal["koyalite.dev/v1"] = Field(alias="apiVersion", description="Manifest format version.")
    project: Project = Field(description="The project.")
    features: Features = Field(default_factory=Features, description="Feature flags.")
    limits: Limits = Field(default_factory=Limits, description="Project-scoped limits.")
    services: Services = Field(default_factory=Services, description="Stateless services.")
    database: Database = Field(default_factory=Database, description="LiteFS (replicated SQLite).")
    storage: Storage = Field(default_factory=Storage, description="SeaweedFS object storage.")
    search: Search = Field(default_factory=Search, description="Weaviate vector search.")
    functions: Functions = Field(default_factory=Functions, description="Edge functions on Deno.")
    cron: list[CronJob] = Field(default_factory=list, description="Cron jobs; merged by name across environments.")
    webhooks: list[Webhook] = Field(default_factory=list, description="Webhooks; merged by name across environments.")
    events: Events = Field(default_factory=Events, description="The event bus (NATS JetStream): streams and work queues.")
    environments: dict[DnsLabel, Environment] = Field(default_factory=dict, description="Environments: name -> settings and overrides.")
