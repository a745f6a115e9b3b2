"""Secrets are never literal: a value in `env` under a secret-sounding name is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.rules import Context, Loc, rule

SECRET_NAME = re.compile(r"(?i)(secret|passw(or)?d|token|api_?key|private_?key|credential|signing_?key)")

_Env = dict[str, str | int | bool]


def _envs(ctx: Context) -> Iterator[tuple[Loc, _Env, dict[str, str]]]:
    m = ctx.manifest
    for name, service in m.services.items():
        yield ("services", name), service.env, service.secrets
    for i, fn in enumerate(m.functions.items):
        yield ("functions", "items", i), fn.env, fn.secrets


@rule
def literal_secrets(ctx: Context) -> Iterator[Diagnostic]:
    for loc, env, secrets in _envs(ctx):
        for key, value in env.items():
            if key in secrets:
                yield ctx.error((*loc, "env", key), f"`{key}` is set both in env and in secrets", "keep it in secrets only")
            elif SECRET_NAME.search(key) and isinstance(value, str) and value:
                # The message never repeats the value: it may be a real secret.
                yield ctx.error(
                    (*loc, "env", key),
                    f"`{key}` looks like a secret written in plain text",
                    f"move it to `secrets: {{{key}: {key.lower()}}}` and set the value with `koyalite secrets set {key.lower()} --env ENV`",
                    code="secret",
                )
