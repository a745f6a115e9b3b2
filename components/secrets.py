"""Secret values for the plan's secret names: stack config first, then the environment; always Pulumi secrets."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import pulumi

from components.errors import ComponentError
from components.stack import NAMESPACE, SETTINGS, Settings

ENV_PREFIX = "KOYALITE_SECRET_"
"""A secret missing from stack config is read from `KOYALITE_SECRET_<NAME>` (CI runners hold secrets as variables)."""


def variable(key: str) -> str:
    """The environment variable that may hold secret `key`: `jwt_secret` -> `KOYALITE_SECRET_JWT_SECRET`."""
    return ENV_PREFIX + key.upper()


def stack_secrets(
    keys: Iterable[str],
    settings: Settings,
    config: pulumi.Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, pulumi.Output[str]]:
    """The value of every secret name, each wrapped as a Pulumi secret; every missing name is reported at once.

    Values are never read into plain Python strings outside `Output.secret`, never logged and never part of
    an error message: messages name keys only.
    """
    config = config or pulumi.Config(NAMESPACE)
    environ = os.environ if environ is None else environ
    wanted = sorted(set(keys))
    shadowed = [key for key in wanted if key in SETTINGS]
    if shadowed:
        raise ComponentError(
            f"secret names {', '.join(shadowed)} clash with the stack settings `{NAMESPACE}:{'`, `'.join(shadowed)}`",
            "rename the secret in koyalite.yaml",
        )
    values: dict[str, pulumi.Output[str]] = {}
    missing: list[str] = []
    for key in wanted:
        value = config.get_secret(key)
        if value is None and environ.get(variable(key)):
            value = pulumi.Output.secret(environ[variable(key)])
        if value is None:
            missing.append(key)
        else:
            values[key] = value
    if missing:
        raise ComponentError(
            f"stack `{settings.stack}` has no value for {len(missing)} secret(s) of environment `{settings.environment}`: {', '.join(missing)}",
            f"set each with `koyalite secrets set KEY --env {settings.environment}` or "
            f"`pulumi config set --secret {NAMESPACE}:KEY -s {settings.stack}`, or export {ENV_PREFIX}<KEY>",
        )
    return values
