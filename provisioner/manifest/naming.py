"""Names of deployed objects, derived only from manifest data so they are stable across runs."""

from __future__ import annotations

LABEL_MAX = 63
"""Kubernetes DNS-1123 label limit: Service, Deployment and label values."""

CONTROLLER_MAX = 52
"""StatefulSets and CronJobs: the controller appends up to 11 characters to make pod and job names."""


def object_name(project: str, environment: str | None, *parts: str) -> str:
    """`acme-prod-api`: the project, the environment (when there is one) and the part's name."""
    return "-".join(p for p in (project, environment, *parts) if p)
