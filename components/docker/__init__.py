"""The Docker target's Pulumi components on the Docker Engine API (engine.py): network, named volumes,
image references, containers."""

from components.docker import platform

__all__ = ["platform"]
