"""Targets: translate a plan into what one backend deploys. Each target is a registry of translators by plan kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from provisioner.plan.model import Part, Plan

C = TypeVar("C")
Translator = Callable[[Any, C], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Bundle:
    """The objects one plan part became: what a Pulumi component wraps and what render prints."""

    kind: str
    name: str
    objects: tuple[dict[str, Any], ...]


class Registry(Generic[C]):
    """Plan kind -> translator. A kind with no translator is an error, never a silent drop."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.translators: dict[str, Translator[C]] = {}

    def register(self, part: type[Part]) -> Callable[[Translator[C]], Translator[C]]:
        def add(fn: Translator[C]) -> Translator[C]:
            if part.kind in self.translators:
                raise ValueError(f"{self.target}: two translators for {part.kind}")
            self.translators[part.kind] = fn
            return fn

        return add

    def translate(self, plan: Plan, context: C) -> list[Bundle]:
        bundles = []
        for part in plan.parts:
            translator = self.translators.get(part.kind)
            if translator is None:
                raise NotImplementedError(f"the {self.target} target has no translator for plan kind `{part.kind}`")
            bundles.append(Bundle(part.kind, part.name, tuple(translator(part, context))))
        return bundles
