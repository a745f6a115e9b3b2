"""Pydantic models of koyalite.yaml, one module per group of sections."""

from provisioner.manifest.models.data import Consul, Database, Filer, Search, Storage
from provisioner.manifest.models.environments import SECTIONS, Environment, Policy
from provisioner.manifest.models.events import Bus, Events, Queue, Stream
from provisioner.manifest.models.manifest import API_VERSION, Manifest
from provisioner.manifest.models.project import Features, Limits, Project
from provisioner.manifest.models.services import Service, Services, Workload
from provisioner.manifest.models.workloads import CronJob, Function, Functions, Runtime, Webhook

__all__ = [
    "API_VERSION",
    "SECTIONS",
    "Bus",
    "Consul",
    "CronJob",
    "Database",
    "Environment",
    "Events",
    "Features",
    "Filer",
    "Function",
    "Functions",
    "Limits",
    "Manifest",
    "Policy",
    "Project",
    "Queue",
    "Runtime",
    "Search",
    "Service",
    "Services",
    "Storage",
    "Stream",
    "Webhook",
    "Workload",
]
