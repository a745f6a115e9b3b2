"""The commands. Each docstring is the command's --help text."""

from __future__ import annotations

import enum
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer

from provisioner.errors import ManifestError, Severity, UsageError

app = typer.Typer(
    name="koyalite",
    help="Validate, render and deploy a KoyaLite project described by koyalite.yaml.\n\n"
    "Exit codes: 0 success, 2 invalid or unreadable manifest, 3 refused by the data-loss guard or protect policy, "
    "4 the Pulumi engine failed, 5 a hook plugin failed, 64 usage error, 1 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(enum.StrEnum):
    human = "human"
    json = "json"
    github = "github"


ManifestArg = Annotated[Path, typer.Argument(help="The manifest.", show_default=True)]
EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment name.")]


@app.command()
def validate(
    file: ManifestArg = Path("koyalite.yaml"),
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="Validate this environment (repeatable).")] = None,
    all_envs: Annotated[bool, typer.Option("--all-envs", help="Validate every environment (the default when --env is not given).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output: human, json, or github (Actions annotations).")] = Format.human,
) -> int:
    """Check koyalite.yaml: YAML pitfalls, the schema, and the semantic rules, for each environment.

    Every problem is reported with file:line:col, the manifest path and a hint. Exit 0 when valid,
    2 when not (warnings count with --strict).
    """
    from provisioner import hooks, manifest
    from provisioner.cli.output import report, summary

    if env and all_envs:
        raise UsageError("--env and --all-envs cannot be combined", "pass one of them")
    shown = str(file)
    try:
        doc = manifest.load(file, shown)
        results, diagnostics = manifest.check_all(doc, list(env) if env else None)
    except ManifestError as exc:
        report(exc.diagnostics, fmt, shown, env or [], valid=False)
        if fmt is Format.human:
            sys.stderr.write(f"{shown}: invalid ({summary(exc.diagnostics)})\n")
        return 2
    plugged = [d for checked in results for d in hooks.after_validate(checked)]  # the hook plugins' checks
    if plugged:
        diagnostics = sorted(dict.fromkeys([*diagnostics, *plugged]), key=lambda d: d.sort_key())
    names = list(env) if env else doc.environments  # every environment checked, valid or not
    if strict:
        diagnostics = [replace(d, severity=Severity.ERROR) for d in diagnostics]
    valid = not any(d.severity is Severity.ERROR for d in diagnostics)
    report(diagnostics, fmt, shown, names, valid)
    if fmt is Format.human:
        scope = f" for {', '.join(names)}" if names else ""
        verdict = "valid" if valid else "invalid"
        tail = f" ({summary(diagnostics)})" if diagnostics else ""
        sys.stderr.write(f"{shown}: {verdict}{scope}{tail}\n")
    return 0 if valid else 2


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema here instead of stdout.")] = None,
) -> int:
    """Print the JSON Schema of koyalite.yaml (for editors and CI)."""
    from provisioner.manifest.schema import dumps

    text = dumps()
    if output is None:
        sys.stdout.write(text)
    else:
        from provisioner.render.files import write_file

        write_file(output, text)
    return 0


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path(),
    name: Annotated[str | None, typer.Option("--name", help="Project name; defaults to the folder's name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> int:
    """Create a project: koyalite.yaml, an example function, the schema and stack config files."""
    import re

    from provisioner.cli import scaffold
    from provisioner.manifest.schema import dumps

    project = name or re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-") or "koyalite"
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,28}[a-z0-9])?", project):
        raise UsageError(
            f"`{project}` is not a valid project name",
            "pass --name with lowercase letters, digits and '-', starting with a letter, at most 30 characters",
        )
    files = {
        "koyalite.yaml": scaffold.MANIFEST.format(name=project),
        "functions/hello/index.ts": scaffold.FUNCTION,
        "schema/koyalite.schema.json": dumps(),
        "stacks/Pulumi.dev.yaml": scaffold.stack_config("dev"),
        "stacks/Pulumi.prod.yaml": scaffold.stack_config("prod"),
        ".gitignore": scaffold.GITIGNORE,
    }
    existing = [rel for rel in files if (directory / rel).exists()]
    if existing and not force:
        raise UsageError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {directory}",
            "pass --force to overwrite, or choose another folder",
        )
    from provisioner.render.files import write_file

    for rel, text in files.items():
        write_file(directory / rel, text)
    sys.stderr.write(f"created project `{project}` in {directory}; next: koyalite validate {directory / 'koyalite.yaml'}\n")
    return 0


@app.command()
def config(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    show_origin: Annotated[
        bool, typer.Option("--show-origin", help="Say where each value comes from (file:line:col, or default).")
    ] = False,
) -> int:
    """Print the effective manifest of one environment: base, overlay and defaults merged."""
    from provisioner import manifest
    from provisioner.cli.view import plain, with_origins

    checked = manifest.check(manifest.load(file, str(file)), env)
    data = checked.manifest.model_dump(mode="json", by_alias=True, exclude={"environments"})
    data["environments"] = {
        env: checked.manifest.environments[env].model_dump(mode="json", by_alias=True, exclude_none=True, exclude=set(_override_keys()))
    }
    sys.stdout.write(with_origins(data, checked.source) if show_origin else plain(data))
    if checked.warnings:
        from provisioner.cli.output import human

        human(list(checked.warnings), sys.stderr)
    return 0


@app.command()
def render(
    env: EnvOpt,
    file: ManifestArg = Path("koyalite.yaml"),
    target: Annotated[str | None, typer.Option("--target", "-t", help="Target to render; the environment's own by default.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="A folder (one file per object), or - for one YAML stream.")] = "-",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    fmt: Annotated[
        Literal["yaml", "helm"],
        typer.Option("--format", "-f", help="yaml: the objects; helm: a Helm chart (kubernetes, -o DIR) whose defaults equal them."),
    ] = "yaml",
) -> int:
    """Render one environment's objects as deterministic YAML, for review and GitOps (Argo CD, Flux).

    Secrets are rendered without values: the keys each needs are listed in the `koyalite.dev/secret-keys`
    annotation; supply them with an existing Secret, External Secrets or Sealed Secrets (or deploy with
    `pulumi up`, which fills them from stack secrets). A folder is replaced whole, or not at all.

    `--format helm -o DIR` writes a Helm chart instead: its `helm template` output with default values is this
    render; replicas, images, resources and the ingress host are values (typed in values.schema.json).
    """
    from provisioner import hooks, manifest, plan
    from provisioner.cli.output import human
    from provisioner.manifest.diagnose import locate
    from provisioner.render.files import write_tree
    from provisioner.render.targets import RENDERERS

    doc = manifest.load(file, str(file))
    checked = hooks.validated(manifest.check(doc, env))
    assert checked.settings is not None
    wanted = target or checked.settings.target
    if wanted not in RENDERERS:
        raise UsageError(f"no renderer for target `{wanted}`", f"available: {', '.join(RENDERERS)}")
    if checked.settings.target != wanted:
        raise UsageError(
            f"environment {env} targets {checked.settings.target}, not {wanted}", f"render it with --target {checked.settings.target}"
        )
    if fmt == "helm" and (wanted != "kubernetes" or output == "-"):
        raise UsageError(
            "a Helm chart is rendered from a kubernetes environment into a folder",
            "pass -o DIR" if output == "-" else f"environment {env} targets {wanted}; render it with --format yaml",
        )
    renderer = RENDERERS[wanted]()
    built = hooks.transform_plan(plan.build(checked, doc.base_dir))
    warnings = [*checked.warnings, *(replace(w, position=locate(checked.source, w.path)) for w in renderer.warnings(built))]
    if warnings:
        if strict:
            raise ManifestError([replace(d, severity=Severity.ERROR) for d in warnings])
        human(warnings, sys.stderr)
    objects = renderer.objects(built)
    if fmt == "helm":
        from provisioner.manifest.schema import json_schema
        from provisioner.render import helm

        chart = helm.files(
            objects, project=built.project, environment=env, release=checked.manifest.project.release, manifest_schema=json_schema()
        )
        write_tree(Path(output), chart)
        sys.stderr.write(f"rendered a Helm chart of {len(objects)} objects for {env} into {output}\n")
    elif output == "-":
        sys.stdout.write(renderer.stream(objects, built))
        if renderer.stream_note:
            sys.stderr.write(f"note: {renderer.stream_note}\n")
        if built.edge:
            sys.stderr.write(f"note: the projects of {', '.join(a.platform for a in built.edge)} are written with -o DIR (under edge/)\n")
    else:
        from provisioner.targets import edge

        write_tree(Path(output), {**renderer.files(objects, built), **edge.files(built.edge, env, built.project)})
        hosted = f" and {len(built.edge)} hosted functions project(s) under edge/" if built.edge else ""
        sys.stderr.write(f"rendered {len(objects)} objects{hosted} for {env} into {output}\n")
    return 0


def _override_keys() -> tuple[str, ...]:
    from provisioner.manifest.models import SECTIONS

    return SECTIONS


@app.command()
def lsp() -> int:
    """Serve the Language Server Protocol over stdio for koyalite.yaml: every `validate` check as you type, completion,
    hover (with each environment's effective value), definitions, references and quick fixes. Editors start it."""
    from provisioner.lsp.server import serve

    serve()
    return 0
