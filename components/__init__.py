"""Pulumi ComponentResources: thin shells around the provisioner's translated objects, rooted in one Platform."""

from components import docker, kubernetes  # register the targets
from components.errors import ComponentError
from components.platform import TARGETS, Deployed, Platform, register
from components.stack import Settings, load_plan

__all__ = ["TARGETS", "ComponentError", "Deployed", "Platform", "Settings", "docker", "kubernetes", "load_plan", "register"]
