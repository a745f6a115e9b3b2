"""The Docker target's Pulumi components (pulumi_docker): network, named volumes, image references, containers."""

from components.docker import platform

__all__ = ["platform"]
