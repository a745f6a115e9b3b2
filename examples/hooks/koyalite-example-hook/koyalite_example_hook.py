"""Example KoyaLite hook plugin: every part knows its owning team, deploys respect a change freeze and are logged.

Hook points implemented (see provisioner/hooks.py for the contract):

* ``after_validate``  warns about webhooks that deliver over plain http:// (a policy a team might add);
* ``transform_plan``  adds ``KOYALITE_TEAM=<team>`` to the project config every KoyaLite container reads, to each
  stateless service's environment and to each edge function's environment; the team is ``$KOYALITE_TEAM``
  (default ``platform``). It returns a new frozen Plan and never touches names, volumes or images;
* ``before_deploy``   refuses to deploy while ``$KOYALITE_CHANGE_FREEZE`` is set (the run exits 5, naming this plugin);
* ``after_deploy``    writes one line to stderr: which environment was deployed, for which team, with which outputs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from typing import Any

from provisioner.errors import Diagnostic, Severity
from provisioner.manifest import Checked
from provisioner.plan.model import EdgeRuntime, Part, Plan, ProjectConfig

VARIABLE = "KOYALITE_TEAM"
DEFAULT_TEAM = "platform"


def team() -> str:
    return os.environ.get(VARIABLE) or DEFAULT_TEAM


def _with(pairs: tuple[tuple[str, str], ...], key: str, value: str) -> tuple[tuple[str, str], ...]:
    return (*((k, v) for k, v in pairs if k != key), (key, value))


def _tagged(part: Part, name: str) -> Part:
    if isinstance(part, ProjectConfig):
        return replace(part, data=_with(part.data, VARIABLE, name))
    if isinstance(part, EdgeRuntime):
        return replace(part, functions=tuple(replace(f, env=_with(f.env, VARIABLE, name)) for f in part.functions))
    if "env" in {f.name for f in fields(part)}:  # stateless services
        return replace(part, env=_with(part.env, VARIABLE, name))  # type: ignore[call-arg, attr-defined]
    return part


def after_validate(checked: Checked) -> Iterator[Diagnostic]:
    for hook in checked.manifest.webhooks:
        if hook.url.startswith("http://"):
            yield Diagnostic(
                f"webhook {hook.name} delivers over plain http",
                path=f"webhooks.{hook.name}.url",
                hint="use an https:// URL so deliveries and their signatures cannot be read on the way",
                severity=Severity.WARNING,
            )


def transform_plan(plan: Plan) -> Plan:
    name = team()
    return replace(plan, parts=tuple(_tagged(part, name) for part in plan.parts))


def before_deploy(plan: Plan, environment: str) -> None:
    if os.environ.get("KOYALITE_CHANGE_FREEZE"):
        raise RuntimeError(f"change freeze in effect ({os.environ['KOYALITE_CHANGE_FREEZE']}): {plan.project}/{environment} not deployed")


def after_deploy(plan: Plan, environment: str, outputs: Mapping[str, Any]) -> None:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(outputs.items()))
    sys.stderr.write(
        f"koyalite-example-hook: deployed {plan.project}/{environment} for team {team()}" + (f" ({shown})" if shown else "") + "\n"
    )
