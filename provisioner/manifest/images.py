"""Image references: split `repo[:tag][@sha256:…]` and pick the tag a workload runs at."""

from __future__ import annotations

import re

_DIGEST = re.compile(r"@(sha256:[a-f0-9]{64})$")

SEAWEEDFS_VERSION = "4.44"
"""SeaweedFS release of the default storage image (the upstream Helm chart's appVersion)."""

WEAVIATE_VERSION = "1.38.2"
"""Weaviate release of the default search image (the upstream Helm chart's appVersion)."""

NATS_VERSION = "2.15.2"
"""NATS server release of the default event bus image."""


def split(reference: str) -> tuple[str, str | None]:
    """(repository, tag or `sha256:…` digest or None): `reg:5000/a/b:1.2` -> (`reg:5000/a/b`, `1.2`)."""
    digest = _DIGEST.search(reference)
    if digest:
        return reference[: digest.start()], digest.group(1)
    head, _, last = reference.rpartition("/")
    if ":" in last:
        name, tag = last.split(":", 1)
        return (f"{head}/{name}" if head else name), tag
    return reference, None


def resolve(registry: str, component: str, image: str | None, tag: str | None, default_tag: str) -> tuple[str, str]:
    """The (repository, tag) a workload runs: its image override, else <registry>/<component>, at the most specific tag."""
    if image is None:
        return f"{registry}/{component}", tag or default_tag
    repository, own = split(image)
    return repository, own or tag or default_tag
