"""The data-loss guard: a preview's steps that would delete or replace stateful resources stop an `up`.

Pure: it reads steps (from the engine adapter, or from a saved preview) and says what must not happen.
Mocks cannot see a provider's diff (research: reliability_pain 1b), so this runs on the real engine's preview.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STATEFUL_TYPES = frozenset(
    {
        "pulumi-python:dynamic/docker:Volume",  # components/docker/engine.py
        "pulumi-python:dynamic/nats:Stream",  # components/nats.py
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:Namespace",
        "kubernetes:apps/v1:StatefulSet",
    }
)
"""Resource types that hold data: volumes and claims, the sets that own claims, event streams, and namespaces
(deleting one deletes everything in it)."""

DESTRUCTIVE = frozenset({"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"})
"""Step operations that remove the old resource (Pulumi's OpType names)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One planned step of a preview."""

    op: str
    urn: str
    type: str
    replace_keys: tuple[str, ...] = ()
    diffs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    """A step the guard refuses, with the reason and the way through."""

    step: Step

    @property
    def reason(self) -> str:
        if self.step.op == "delete" or self.step.op.startswith("discard"):
            return "it is no longer in the plan (a removed or renamed part)"
        keys = self.step.replace_keys or self.step.diffs
        return f"{', '.join(keys)} changed, which cannot be updated in place" if keys else "the provider must recreate it"

    def __str__(self) -> str:
        return f"{self.step.op} {self.step.urn}: {self.reason}"


def violations(steps: Iterable[Step], allowed: Sequence[str] = ()) -> list[Violation]:
    """Destructive steps on stateful resources, except the URNs the user allowed explicitly; one per URN."""
    found: dict[str, Violation] = {}
    for step in steps:
        if step.type in STATEFUL_TYPES and step.op in DESTRUCTIVE and step.urn not in allowed:
            known = found.get(step.urn)
            # the steps of one replacement arrive in any order; the one that names the changed fields says why
            if known is None or (step.replace_keys and not known.step.replace_keys):
                found[step.urn] = Violation(step)
    return list(found.values())
