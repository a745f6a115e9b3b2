"""The plan stage: a checked manifest for one environment becomes frozen, backend-neutral data."""

from provisioner.plan.build import build
from provisioner.plan.model import Plan

__all__ = ["Plan", "build"]
