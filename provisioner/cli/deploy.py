"""Deploy commands: preview, up, destroy, refresh, outputs, secrets, unlock (Pulumi through provisioner.deploy)."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from provisioner.cli.commands import EnvOpt, ManifestArg, app
from provisioner.errors import UsageError

if TYPE_CHECKING:
    from provisioner.deploy.engine import Engine, Progress
    from provisioner.plan import Plan

BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="Pulumi backend URL; default: file state in .koyalite/state beside the manifest.")
]
secrets_app = typer.Typer(help="Manage an environment's secrets (Pulumi config secrets).", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")

_SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "+-",
    "create-replacement": "++",
    "delete-replaced": "--",
    "delete": "-",
    "read": ">",
    "refresh": "~",
    "discard": "-",
}


def _engine(env: str, file: Path, backend: str | None, check: bool = True) -> tuple[Engine, bool]:
    """The engine adapter for one environment, after the manifest is checked (so errors come with positions)."""
    from provisioner import hooks, manifest
    from provisioner.deploy.engine import Engine
    from provisioner.deploy.settings import resolve

    checked = hooks.validated(manifest.check(manifest.load(file, str(file)), env)) if check else None
    protected = bool(checked and checked.settings and checked.settings.protect)
    return Engine(resolve(env, file, backend)), protected


def _planned(env: str, file: Path) -> Plan:
    """The plan the Pulumi program will deploy: checked, planned and transformed by the hook plugins, as it does."""
    from provisioner import hooks, manifest, plan

    doc = manifest.load(file, str(file))
    return hooks.transform_plan(plan.build(hooks.validated(manifest.check(doc, env)), doc.base_dir))


TOKENS = {
    "cloudflare-workers": ("CLOUDFLARE_API_TOKEN", "a Cloudflare API token that may edit Workers scripts and routes"),
    "deno-deploy": ("DENO_DEPLOY_TOKEN", "a Deno Deploy organization token"),
}
"""The variable each hosted platform's deploy reads its token from (components/edge.py), and what it holds."""


def _check_tokens(planned: Plan) -> None:
    """The hosted platforms' tokens are in the environment before the engine starts: nothing is half-deployed."""
    from provisioner.deploy.engine import DeployError

    for hosted in planned.edge:
        variable, what = TOKENS[hosted.platform]
        if not os.environ.get(variable):
            raise DeployError(
                f"environment {planned.environment} runs functions on {hosted.platform} (app {hosted.name}), and {variable} is not set",
                f"export {variable} with {what} (in CI: from a secret)",
            )


def _check_cluster(engine: Engine, planned: Plan, create: bool = True) -> None:
    """A Kubernetes environment's cluster is reachable and its namespace free or ours, before the engine runs."""
    hints = planned.kubernetes
    if planned.target != "kubernetes" or hints is None:
        return
    from provisioner.deploy import cluster

    config = engine.cluster_config(create=create)
    if config.get("renderYamlToDirectory"):
        return  # the provider writes YAML files and talks to no cluster
    target = cluster.Target(
        environment=planned.environment,
        namespace=hints.namespace,
        instance=f"{planned.project}-{planned.environment}",
        context=config.get("kubeContext") or hints.context,
        kubeconfig=config.get("kubeconfig"),
    )
    where = cluster.preflight(target)
    sys.stderr.write(f"cluster: {where}, namespace {hints.namespace}\n")


def _progress() -> Progress:
    from rich.console import Console

    from provisioner.deploy.engine import Progress

    console = Console(stderr=True, highlight=False)

    def step(op: str, type_: str, name: str, keys: tuple[str, ...]) -> None:
        changed = f" [dim]({', '.join(keys)})[/dim]" if keys else ""
        console.print(f"  {_SYMBOLS.get(op, op):>2} {type_} [bold]{name}[/bold] [dim]{op}[/dim]{changed}")

    def failed(name: str) -> None:
        console.print(f"  [red]✗ {name} failed[/red]")

    def message(severity: str, text: str) -> None:
        colour = "red" if severity == "error" else "yellow"
        console.print(f"  [{colour}]{severity}[/{colour}]: {text}")

    return Progress(on_step=step, on_failed=failed, on_message=message)


def _done(verb: str, env: str, summary: object) -> None:
    sys.stderr.write(f"{verb} {env}: {summary}\n")


@app.command()
def preview(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    backend: BackendOpt = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show property-level differences.")] = False,
    expect_no_changes: Annotated[bool, typer.Option("--expect-no-changes", help="Fail when the preview has changes.")] = False,
    save_plan: Annotated[Path | None, typer.Option("--save-plan", help="Save the plan for `up --plan` (refused if stale).")] = None,
) -> int:
    """Show what `up` would change in one environment, without changing anything."""
    planned = _planned(env, file)
    engine, _ = _engine(env, file, backend, check=False)
    _check_cluster(engine, planned)
    summary = engine.preview(_progress(), diff=diff, expect_no_changes=expect_no_changes, save_plan=save_plan)
    _done("preview", env, summary)
    return 0


@app.command()
def up(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    backend: BackendOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (CI).")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show property-level differences.")] = False,
    allow_replace: Annotated[
        list[str] | None, typer.Option("--allow-replace", help="URN of a stateful resource that may be replaced or deleted (repeatable).")
    ] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Apply exactly this saved plan (from `preview --save-plan`).")] = None,
) -> int:
    """Deploy one environment. A preview runs first: deleting or replacing stateful resources is refused.

    Hook plugins run around it: `before_deploy` after confirmation, `after_deploy` with the outputs (exit 5 if one fails).
    """
    from provisioner import hooks

    planned = _planned(env, file)
    engine, _ = _engine(env, file, backend, check=False)
    if not yes and not (sys.stdin.isatty() and typer.confirm(f"deploy environment {env}?")):
        raise UsageError(f"not confirmed: nothing deployed to {env}", "pass --yes to deploy without asking (CI)")
    _check_tokens(planned)
    _check_cluster(engine, planned)
    hooks.before_deploy(planned, env)
    summary = engine.up(_progress(), allow_replace=allow_replace or [], plan=plan, diff=diff)
    _done("up", env, summary)
    outputs = summary.outputs
    for key, value in outputs.items():
        sys.stdout.write(f"{key}: {value}\n")
    hooks.after_deploy(planned, env, outputs)
    return 0


@app.command()
def destroy(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    backend: BackendOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (CI).")] = False,
    allow_protected: Annotated[
        bool, typer.Option("--allow-protected", help="Destroy a protected environment (its protected data stays).")
    ] = False,
) -> int:
    """Remove an environment's containers, services and networks. Data volumes are always kept."""
    planned = _planned(env, file)
    engine, _ = _engine(env, file, backend, check=False)
    protected = planned.protect
    if not yes and not (sys.stdin.isatty() and typer.confirm(f"destroy environment {env}? (data volumes are kept)")):
        raise UsageError(f"not confirmed: nothing destroyed in {env}", "pass --yes to destroy without asking")
    if not protected or allow_protected:
        _check_tokens(planned)
        _check_cluster(engine, planned, create=False)
    summary = engine.destroy(_progress(), protected=protected, allow_protected=allow_protected)
    _done("destroy", env, summary)
    return 0


@app.command()
def refresh(env: EnvOpt, file: ManifestArg = Path("koyalite.yaml"), backend: BackendOpt = None) -> int:
    """Read the real state of an environment's resources into the stack."""
    engine, _ = _engine(env, file, backend)
    _done("refresh", env, engine.refresh(_progress()))
    return 0


@app.command()
def outputs(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    backend: BackendOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> int:
    """Print an environment's stack outputs (where to reach the API and Studio); secrets stay hidden."""
    engine, _ = _engine(env, file, backend, check=False)
    found = engine.outputs()
    sys.stdout.write(json.dumps(found, indent=2, sort_keys=True) + "\n" if as_json else "".join(f"{k}: {v}\n" for k, v in found.items()))
    return 0


@app.command()
def unlock(env: EnvOpt, file: ManifestArg = Path("koyalite.yaml"), backend: BackendOpt = None) -> int:
    """Remove the stale lock a killed `up` left on an environment (refused while its process still runs)."""
    engine, _ = _engine(env, file, backend, check=False)
    removed = engine.unlock()
    sys.stderr.write(f"removed {len(removed)} lock(s) of {env}\n" if removed else f"{env} has no lock\n")
    return 0


@secrets_app.command("set")
def secrets_set(
    name: Annotated[str, typer.Argument(help="Secret name, as the manifest names it (jwt_secret).")],
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    backend: BackendOpt = None,
) -> int:
    """Store a secret's value, encrypted in the stack's config. The value is read from stdin (or a prompt), never argv."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise UsageError(f"`{name}` is not a secret name", "use the name the manifest gives, like jwt_secret")
    value = getpass.getpass(f"value of {name}: ") if sys.stdin.isatty() else sys.stdin.read().rstrip("\n")
    if not value:
        raise UsageError(f"no value given for {name}", 'pipe it in: `printf %s "$VALUE" | koyalite secrets set NAME --env ENV`')
    engine, _ = _engine(env, file, backend, check=False)
    engine.set_secret(name, value)
    sys.stderr.write(f"stored secret {name} for {env}\n")
    return 0


@secrets_app.command("generate")
def secrets_generate(env: EnvOpt, file: ManifestArg = Path("koyalite.yaml"), backend: BackendOpt = None) -> int:
    """Give every secret the environment needs and has no value for a random value (dev only; never replaces one).

    For a local environment that nobody else uses: production secrets are chosen and stored by people.
    """
    import secrets as random

    from provisioner.deploy.settings import GENERATED_PASSPHRASE_ENVS

    if env not in GENERATED_PASSPHRASE_ENVS:
        raise UsageError(
            f"secrets are generated for {', '.join(sorted(GENERATED_PASSPHRASE_ENVS))} only, not {env}",
            f"set each with `koyalite secrets set NAME --env {env}`",
        )
    wanted = _planned(env, file).secret_keys()
    engine, _ = _engine(env, file, backend, check=False)
    missing = [k for k in wanted if k not in engine.secret_names()]
    for name in missing:
        engine.set_secret(name, random.token_urlsafe(32))
    sys.stderr.write(
        f"generated {len(missing)} secret(s) for {env}" + (f": {', '.join(missing)}\n" if missing else "; every one has a value\n")
    )
    return 0
