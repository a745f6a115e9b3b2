"""What the Docker target cannot honour, as warnings naming the manifest path (never a silent drop)."""

from __future__ import annotations

from provisioner.errors import Diagnostic, Severity
from provisioner.plan.model import EdgeRuntime, LiteFS, Plan, SeaweedFS, StatelessService, Weaviate


def _warn(path: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(message, path, None, hint, Severity.WARNING, "docker")


def warnings(plan: Plan) -> list[Diagnostic]:
    """One warning per manifest field the single-host Docker target ignores or weakens."""
    found: list[Diagnostic] = []
    if len(plan.regions) > 1:
        found.append(
            _warn(
                "project.regions",
                f"{len(plan.regions)} regions collapse onto one Docker host",
                "per-region placement and failover need the kubernetes target",
            )
        )
    for part in plan.parts:
        if isinstance(part, StatelessService | EdgeRuntime):
            base = f"services.{part.role}" if isinstance(part, StatelessService) else "functions.runtime"
            if part.autoscale:
                found.append(_warn(f"{base}.autoscale", "not enforced by the docker target", f"runs {part.replicas} fixed replica(s)"))
            if part.replicas > 1 and isinstance(part, StatelessService) and plan.docker and part.role in dict(plan.docker.publish):
                found.append(
                    _warn(
                        f"{base}.replicas", "only the first replica is published on the host", "the others serve through the network alias"
                    )
                )
        if isinstance(part, LiteFS | SeaweedFS | Weaviate) and part.volume.storage_class:
            section = {LiteFS: "database", SeaweedFS: "storage", Weaviate: "search"}[type(part)]
            found.append(_warn(f"{section}.storage_class", "not used by the docker target", "named volumes use the local driver"))
    return sorted(found, key=Diagnostic.sort_key)
