"""The Kubernetes target's components: typed resources per translated object, one component per plan part."""

from components.kubernetes.objects import KINDS, Kind, is_retained, is_stateful, logical_name, options
from components.kubernetes.parts import (
    PARTS,
    Bundled,
    Config,
    Cron,
    EdgeRuntime,
    EventBus,
    EventWorker,
    LiteFS,
    Namespace,
    Network,
    Scope,
    SeaweedFS,
    Secrets,
    Service,
    Weaviate,
)
from components.kubernetes.platform import deploy, provider

__all__ = [
    "KINDS",
    "PARTS",
    "Bundled",
    "Config",
    "Cron",
    "EdgeRuntime",
    "EventBus",
    "EventWorker",
    "Kind",
    "LiteFS",
    "Namespace",
    "Network",
    "Scope",
    "SeaweedFS",
    "Secrets",
    "Service",
    "Weaviate",
    "deploy",
    "is_retained",
    "is_stateful",
    "logical_name",
    "options",
    "provider",
]
