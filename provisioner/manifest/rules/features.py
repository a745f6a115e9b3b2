"""Feature dependencies: a disabled feature's section is ignored (a warning); depending on it is an error."""

from __future__ import annotations

from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.rules import Context, rule

_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("edge_functions", ("functions",)),
    ("storage", ("storage",)),
    ("search", ("search",)),
    ("search", ("services", "search")),
    ("email", ("services", "email")),
    ("studio", ("services", "studio")),
    ("cron", ("cron",)),
    ("webhooks", ("webhooks",)),
    ("events", ("events",)),
)


@rule
def disabled_sections(ctx: Context) -> Iterator[Diagnostic]:
    features = ctx.manifest.features
    for flag, loc in _SECTIONS:
        if not features.enabled(flag) and ctx.written(loc) and (loc[0] not in ("cron", "webhooks") or getattr(ctx.manifest, loc[0])):
            yield ctx.warning(
                loc, f"ignored because features.{flag} is false", f"remove this section, or set `features.{flag}: true`", code="feature"
            )


@rule
def cron_needs_functions(ctx: Context) -> Iterator[Diagnostic]:
    features = ctx.manifest.features
    if features.edge_functions or not features.cron:
        return
    for i, job in enumerate(ctx.manifest.cron):
        if job.function is not None:
            yield ctx.error(
                ("cron", i, "function"),
                f"calls function `{job.function}`, but features.edge_functions is false",
                "enable edge_functions, or call a url",
            )
