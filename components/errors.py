"""Errors the Pulumi program reports: part of the provisioner's hierarchy, and clean exits for the engine."""

from __future__ import annotations

import pulumi

from provisioner.errors import KoyaliteError


class ComponentError(KoyaliteError, pulumi.RunError):
    """A deploy-time problem (stack config, target, translated object) with a hint on how to fix it.

    It is a `KoyaliteError`, so the CLI maps it like any other, and a `pulumi.RunError`, so `pulumi up`
    prints the message without a Python traceback.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.hint = hint
