"""GitOps commands: diff (environments, or today's render against a committed one), plan (a summary), docs."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from provisioner.cli.commands import ManifestArg, app
from provisioner.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from provisioner.gitops.report import Line
    from provisioner.gitops.summary import Range, Summary

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_RISK = 3

_STYLES = {"header": "bold", "changed": "yellow", "added": "green", "removed": "red", "risk": "bold red", "dim": "dim"}


class OutputFormat(enum.StrEnum):
    human = "human"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output: human or json.")]


def _console(stream: TextIO) -> Console:
    """Colour only on a terminal (rich also honours NO_COLOR); elsewhere a width no table reaches, so output is stable
    and no cell is cut short with `…` (a table is only as wide as its content)."""
    from rich.console import Console

    return Console(file=stream, highlight=False, width=None if stream.isatty() else 1000)


def _print_lines(lines: Sequence[Line], stream: TextIO) -> None:
    from rich.text import Text

    console = _console(stream)
    for style, text in lines:
        console.print(Text(text, style=_STYLES.get(style, "")), soft_wrap=True)


def _json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


@app.command()
def diff(
    env: Annotated[list[str], typer.Option("--env", "-e", help="Environment: twice to compare two, once with --against.")],
    file: ManifestArg = Path("koyalite.yaml"),
    against: Annotated[
        Path | None, typer.Option("--against", help="A committed render of the environment (`koyalite render --env ENV -o DIR`).")
    ] = None,
    fmt: FormatOpt = OutputFormat.human,
) -> int:
    """Show what differs, for review: two environments' effective configuration, or today's render against a committed one.

    `--env A --env B`: the effective manifests (as `koyalite config` prints them; each environment's own
    settings under `environment`) as dotted paths with old → new values; named list items by name.

    `--env NAME --against DIR`: today's render of NAME against DIR, object by object (kind, namespace, name),
    changed fields by JSON path. Changes Kubernetes cannot apply in place are flagged as replacement risks
    (StatefulSet volumeClaimTemplates or serviceName, selectors, claim shrinks or storage classes, Service
    clusterIP, removing a Namespace, StatefulSet or claim); for a Docker environment, compose.yaml is compared and a removed
    named volume is the risk.

    Exit 0 when nothing differs, 1 when something does, 3 when a change is a replacement risk, 2 for an invalid
    manifest, 64 for a usage error.
    """
    from provisioner import manifest

    doc = manifest.load(file, str(file))
    if against is None:
        if len(env) != 2:
            raise UsageError("diff compares two environments, or one with --against", "pass --env A --env B, or --env NAME --against DIR")
        return _environments(doc, env[0], env[1], fmt)
    if len(env) != 1:
        raise UsageError("--against compares one environment with a committed render", "pass --env once with --against")
    return _render(doc, env[0], against, fmt)


def _environments(doc: Any, old_env: str, new_env: str, fmt: OutputFormat) -> int:
    from provisioner import manifest
    from provisioner.gitops import diff, report

    changes = diff.environments(manifest.check(doc, old_env), manifest.check(doc, new_env))
    if fmt is OutputFormat.json:
        _json(report.environments_dict(doc.file, old_env, new_env, changes))
    else:
        if changes:
            _print_lines(report.environments_lines(old_env, new_env, changes), sys.stdout)
        count = len(changes)
        verdict = f"{count} difference{'s' if count != 1 else ''}" if count else "the same effective configuration"
        sys.stderr.write(f"{old_env} and {new_env}: {verdict}\n")
    return EXIT_DIFFERENT if changes else EXIT_SAME


def _render(doc: Any, env: str, against: Path, fmt: OutputFormat) -> int:
    from provisioner import hooks, manifest, plan
    from provisioner.gitops import diff, report
    from provisioner.render.targets import RENDERERS

    checked = hooks.validated(manifest.check(doc, env))  # as `koyalite render` does, so the two renders agree
    assert checked.settings is not None
    target = checked.settings.target
    if target not in RENDERERS or target not in diff.READERS:
        raise UsageError(f"no render diff for target `{target}`", f"available: {', '.join(sorted(diff.READERS))}")
    committed = diff.read_render(against)
    renderer = RENDERERS[target]()
    built = hooks.transform_plan(plan.build(checked, doc.base_dir))
    current = renderer.files(renderer.objects(built), built)
    found = diff.renders(target, current, committed, str(against))
    if fmt is OutputFormat.json:
        _json(report.renders_dict(found, env, str(against)))
    else:
        if found.objects:
            _print_lines(report.renders_lines(found, env, str(against)), sys.stdout)
        sys.stderr.write(report.renders_summary(found, env, str(against)) + "\n")
    return EXIT_RISK if found.risks else EXIT_DIFFERENT if found.objects else EXIT_SAME


@app.command("plan")
def plan_summary(
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="Summarise this environment (repeatable).")] = None,
    file: ManifestArg = Path("koyalite.yaml"),
    all_envs: Annotated[
        bool, typer.Option("--all-envs", help="Summarise every environment (the default when --env is not given).")
    ] = False,
    fmt: FormatOpt = OutputFormat.human,
) -> int:
    """Summarise what an environment deploys: objects per kind, replicas, CPU, memory and storage against its limits.

    Counted from the target's translated objects (what `render` prints): CPU and memory summed over replicas,
    as a range from autoscale min to max; storage summed over every volume claim. JSON gives exact numbers
    (millicores, bytes). Exit 0, 2 for an invalid manifest, 64 for a usage error.
    """
    from provisioner import hooks, manifest
    from provisioner import plan as planning
    from provisioner.gitops.summary import as_dict, summarize

    if env and all_envs:
        raise UsageError("--env and --all-envs cannot be combined", "pass one of them")
    doc = manifest.load(file, str(file))
    names = list(env) if env else doc.environments
    if not names:
        raise UsageError(f"{file} defines no environments", "add one under `environments`")
    summaries = []
    for name in names:
        checked = hooks.validated(manifest.check(doc, name))  # what `koyalite up` deploys: the plugins' transforms too
        summaries.append(summarize(checked, hooks.transform_plan(planning.build(checked, doc.base_dir))))
    if fmt is OutputFormat.json:
        _json({"file": doc.file, "environments": [as_dict(s) for s in summaries]})
    else:
        console = _console(sys.stdout)
        with console.capture() as captured:
            for i, found in enumerate(summaries):
                if i:
                    console.print()
                _summary(found, console)
        # tables pad every line to their width: keep that out of files, CI logs and job summaries
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    return 0


def _span(r: Range, show: Any) -> str:
    return show(r.low) if r.low == r.high else f"{show(r.low)}–{show(r.high)}"


def _summary(s: Summary, console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from provisioner.gitops.report import cpu, memory

    def table(title: str, *columns: str) -> Table:
        found = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        for i, column in enumerate(columns):
            found.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
        return found

    def each(value: int | None, show: Any) -> str:
        return "-" if value is None else str(show(value))

    console.print(Text(f"{s.environment}: {s.target}, {s.where}", style="bold"), soft_wrap=True)
    kinds = table("Objects", "kind", "count")
    for kind, count in s.kinds:
        kinds.add_row(kind, str(count))
    console.print(kinds)

    workloads = table("Workloads (per replica)", "workload", "replicas", "CPU request", "CPU limit", "memory request", "memory limit")
    for w in s.workloads:
        request = each(w.each.cpu_request, cpu) if s.cpu_requests_apply else "n/a"
        cells = (each(w.each.cpu_limit, cpu), each(w.each.memory_request, memory), each(w.each.memory_limit, memory))
        workloads.add_row(f"{w.kind} {w.name}", _span(w.replicas, str), request, *cells)
    console.print(workloads)

    totals = table("Totals (autoscale min–max)", "", "requests", "limits")
    totals.add_row("replicas", _span(s.replicas, str), "")
    cpu_requests = _span(s.total("cpu_request"), cpu) if s.cpu_requests_apply else "n/a"
    totals.add_row("CPU", cpu_requests, _span(s.total("cpu_limit"), cpu))
    totals.add_row("memory", _span(s.total("memory_request"), memory), _span(s.total("memory_limit"), memory))
    totals.add_row("storage", memory(s.storage), "")
    console.print(totals)

    claims = table("Storage" if s.storage_enforced else "Storage (declared)", "part", "claim", "count", "each", "total")
    for c in s.claims:
        claims.add_row(c.part, c.claim or "-", str(c.count), memory(c.each), memory(c.total))
    claims.add_row(Text("total", style="bold"), "", "", "", Text(memory(s.storage), style="bold"))
    console.print(claims)

    limits = table("Limits", "limit", "used", "of", "use")
    for u in s.limits:
        show = memory if u.unit == "bytes" else str
        share = "-" if u.limit is None else f"{u.used * 100 / u.limit:.0f}%" if u.limit else ("0%" if not u.used else "over")
        over = u.limit is not None and u.used > u.limit
        limits.add_row(
            f"limits.{u.name}", show(u.used), "unbounded" if u.limit is None else show(u.limit), Text(share, style="red" if over else "")
        )
    console.print(limits)
    if s.hosted:
        hosted = table("Hosted functions", "platform", "app", "account", "functions", "cron jobs", "secrets")
        for h in s.hosted:
            hosted.add_row(h.platform, h.app, h.account, ", ".join(h.functions), ", ".join(h.crons) or "-", ", ".join(h.secrets) or "-")
        console.print(hosted)
    for note in s.notes:
        console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)


@app.command()
def docs(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write manifest.md and events.md into.")] = Path("docs"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when the files differ from what would be written.")] = False,
) -> int:
    """Generate the reference docs: manifest.md (every manifest field) and events.md (the webhook event catalog)."""
    from provisioner.gitops.docs import generate

    if output.suffix == ".md":
        raise UsageError(f"-o takes a folder, not a file: {output}", f"pass -o {output.parent}")
    files = generate()
    if check:
        stale = [
            name for name, text in files.items() if not (output / name).is_file() or (output / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            sys.stderr.write(f"{output / name} is out of date; run `koyalite docs -o {output}`\n")
        return EXIT_DIFFERENT if stale else EXIT_SAME
    from provisioner.render.files import write_file

    for name, text in files.items():
        write_file(output / name, text)
    sys.stderr.write(f"wrote {', '.join(str(output / name) for name in files)}\n")
    return 0
