"""Semantic rules: checks across fields that the models cannot express. Every rule runs; all problems are reported."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import Diagnostic, Severity
from provisioner.manifest.diagnose import path_of, position_of
from provisioner.manifest.models import Environment, Manifest, Policy
from provisioner.manifest.source import Node

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule sees: the validated manifest, its source nodes, and the environment (if any)."""

    manifest: Manifest
    source: Node
    environment: str | None
    settings: Environment | None
    base_dir: Path | None

    @property
    def policy(self) -> Policy:
        return self.settings.effective_policy() if self.settings else Policy(min_replicas=0)

    @property
    def target(self) -> str | None:
        return self.settings.target if self.settings else None

    def written(self, loc: Loc) -> bool:
        """Whether the manifest (after the overlay) spells out the value at `loc`."""
        return self.source.find(loc) is not None

    def _at(self, loc: Loc, message: str, hint: str, severity: Severity, code: str) -> Diagnostic:
        path, node = path_of(self.source, loc, keep_missing=True)
        if node is self.source and self.environment is not None:
            # a default value judged by an environment's policy: point at that environment
            _, node = path_of(self.source, ("environments", self.environment))
        return Diagnostic(message, path, position_of(node), hint, severity, code)

    def error(self, loc: Loc, message: str, hint: str = "", code: str = "rule") -> Diagnostic:
        return self._at(loc, message, hint, Severity.ERROR, code)

    def warning(self, loc: Loc, message: str, hint: str = "", code: str = "rule") -> Diagnostic:
        return self._at(loc, message, hint, Severity.WARNING, code)


Rule = Callable[[Context], Iterable[Diagnostic]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a rule; rules run in registration order and each reports every problem it finds."""
    RULES.append(fn)
    return fn


def run(context: Context) -> Iterator[Diagnostic]:
    """Every rule's findings."""
    for check in RULES:
        yield from check(context)


# The rule modules register themselves on import; they need `rule` and `Context` defined above.
from provisioner.manifest.rules import (  # noqa: E402
    dataplane,
    edge,
    events,
    features,
    limits,
    naming,
    policy,
    references,
    schedules,
    secrets,
    targets,
)

__all__ = [
    "RULES",
    "Context",
    "Rule",
    "dataplane",
    "edge",
    "events",
    "features",
    "limits",
    "naming",
    "policy",
    "references",
    "rule",
    "run",
    "schedules",
    "secrets",
    "targets",
]
