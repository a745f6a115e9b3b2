"""The Kubernetes target's components: typed resources per translated object, one component per plan part."""

from components.kubernetes.objects import KINDS, Kind, is_retained, is_stateful, logical_name, options
from components.kubernetes.parts import (
    PARTS,
    Bundled,
    Config,
    Cron,
    EdgeRuntime,
    LiteFS,
    Namespace,
    Network,
    Scope,
    SeaweedFS,
    Secrets,
    Service,
    Weaviate,
    Webhooks,
)
from components.kubernetes.platform import deploy, provider

__all__ = [
    "KINDS",
    "PARTS",
    "Bundled",
    "Config",
    "Cron",
    "EdgeRuntime",
    "Kind",
    "LiteFS",
    "Namespace",
    "Network",
    "Scope",
    "SeaweedFS",
    "Secrets",
    "Service",
    "Weaviate",
    "Webhooks",
    "deploy",
    "is_retained",
    "is_stateful",
    "logical_name",
    "options",
    "provider",
]
