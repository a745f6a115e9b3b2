"""Pulumi ComponentResources: thin shells around the provisioner's translated objects, rooted in one Platform."""

from components import kubernetes  # registers the kubernetes target
from components.errors import ComponentError
from components.platform import TARGETS, Deployed, Platform, register
from components.stack import Settings, load_plan

__all__ = ["TARGETS", "ComponentError", "Deployed", "Platform", "Settings", "kubernetes", "load_plan", "register"]
