"""References resolve: names are unique, cron jobs call real functions, webhooks name known events, files exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import PurePosixPath

from provisioner.errors import Diagnostic
from provisioner.manifest.catalog import EVENTS
from provisioner.manifest.rules import Context, rule


def did_you_mean(word: str, options: list[str]) -> str:
    """`did you mean X?` for the closest option, or empty."""
    match = difflib.get_close_matches(word, options, n=1)
    return f"did you mean `{match[0]}`?" if match else ""


@rule
def unique_names(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    lists: list[tuple[tuple[str, ...], list[str]]] = [
        (("functions", "items"), [f.name for f in m.functions.items]),
        (("cron",), [c.name for c in m.cron]),
        (("webhooks",), [w.name for w in m.webhooks]),
    ]
    for loc, names in lists:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                yield ctx.error((*loc, i, "name"), f"`{name}` is defined twice", "give each item its own name")
            seen.add(name)


@rule
def routes(ctx: Context) -> Iterator[Diagnostic]:
    owner: dict[str, str] = {}
    for i, fn in enumerate(ctx.manifest.functions.items):
        for j, route in enumerate(fn.routes):
            if route in owner:
                yield ctx.error(
                    ("functions", "items", i, "routes", j),
                    f"route {route} is already served by function `{owner[route]}`",
                    "give each route to one function",
                )
            owner.setdefault(route, fn.name)


@rule
def entrypoints(ctx: Context) -> Iterator[Diagnostic]:
    for i, fn in enumerate(ctx.manifest.functions.items):
        loc = ("functions", "items", i, "entrypoint")
        if ".." in PurePosixPath(fn.entrypoint).parts:
            yield ctx.error(loc, f"entrypoint {fn.entrypoint} leaves the project folder", "keep functions inside the project, without `..`")
        elif ctx.base_dir is not None and not (ctx.base_dir / fn.entrypoint).is_file():
            yield ctx.error(loc, f"entrypoint {fn.entrypoint} does not exist", "create it, or run `koyalite init` for an example function")


@rule
def cron_targets(ctx: Context) -> Iterator[Diagnostic]:
    names = [f.name for f in ctx.manifest.functions.items]
    for i, job in enumerate(ctx.manifest.cron):
        if job.function is not None and job.function not in names:
            yield ctx.error(
                ("cron", i, "function"),
                f"calls function `{job.function}`, which is not defined",
                did_you_mean(job.function, names) or "add it under functions.items, or call a url",
            )


@rule
def webhook_events(ctx: Context) -> Iterator[Diagnostic]:
    catalog = sorted(EVENTS)
    for i, hook in enumerate(ctx.manifest.webhooks):
        for j, event in enumerate(hook.events):
            if event not in EVENTS:
                yield ctx.error(
                    ("webhooks", i, "events", j),
                    f"`{event}` is not a KoyaLite event",
                    did_you_mean(event, catalog) or "see docs/events.md for the catalog",
                )


@rule
def regions(ctx: Context) -> Iterator[Diagnostic]:
    db, known = ctx.manifest.database, ctx.manifest.project.regions
    if db.primary_region is not None and db.primary_region not in known:
        yield ctx.error(
            ("database", "primary_region"),
            f"region `{db.primary_region}` is not in project.regions",
            did_you_mean(db.primary_region, known) or f"use one of {', '.join(known)}",
        )
    for region in db.replicas:
        if region not in known:
            yield ctx.error(
                ("database", "replicas", region),
                f"region `{region}` is not in project.regions",
                did_you_mean(region, known) or f"use one of {', '.join(known)}",
            )
