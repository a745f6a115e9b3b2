"""Functions on a hosted edge platform (Cloudflare Workers, Deno Deploy): their settings, what each platform allows,
and what a function's source uses that the platform cannot run, found before anything is deployed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from provisioner.errors import Diagnostic
from provisioner.manifest.models.types import parse_bytes, parse_duration
from provisioner.manifest.rules import Context, rule

HOSTED = ("cloudflare-workers", "deno-deploy")
SETTINGS = {"cloudflare-workers": "cloudflare", "deno-deploy": "deno_deploy"}
EXAMPLE = {
    "cloudflare-workers": "functions.cloudflare: {account_id: <32 hex digits from the dashboard>}",
    "deno-deploy": "functions.deno_deploy: {org: <your organization>}",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What a platform allows a function (documented limits; research notes in the issue)."""

    label: str
    memory: str
    timeout: str | None
    timeout_why: str


LIMITS = {
    # 128 MB per isolate on every plan; a cron trigger runs at most 15 minutes (fetch has no wall-clock limit, but
    # at most 5 minutes of CPU)
    "cloudflare-workers": Limits("Cloudflare Workers", "128Mi", "15m", "a cron trigger runs at most 15 minutes"),
    # 768 MB by default, 4 GB at most (Pro); no documented per-request time limit
    "deno-deploy": Limits("Deno Deploy", "4Gi", None, ""),
}


@dataclass(frozen=True, slots=True)
class Unsupported:
    pattern: re.Pattern[str]
    why: str
    hint: str
    at_group: bool = False
    """Point at the first group (an import's specifier) rather than the whole match."""


WORKERS_SOURCE = (
    Unsupported(
        re.compile(r"\bDeno\.env\.(set|delete)\b"),
        "changes its environment, which Cloudflare Workers do not have",
        "read configuration only (Deno.env.get); keep state in the database",
    ),
    Unsupported(
        re.compile(r"\bDeno\.(?!env\b)([A-Za-z]+)"),
        "uses Deno.{0}, a Deno API Cloudflare Workers do not have (koyalite gives functions Deno.env only)",
        "use a web API (fetch, crypto.subtle, Response) instead, or run this function self-hosted or on Deno Deploy",
    ),
    Unsupported(
        re.compile(r"""from\s+["'](node:(?:child_process|cluster|dgram|http2|inspector|repl|tty|v8|vm|worker_threads))["']"""),
        "imports {0}, which Cloudflare Workers do not provide",
        "run this function self-hosted or on Deno Deploy",
        at_group=True,
    ),
    Unsupported(
        re.compile(r"""(?:from\s+|import\(\s*)["'](npm:|jsr:|https?://)"""),
        "imports a {0} specifier, which only Deno resolves: the Workers bundle cannot",
        "import a relative module, or run this function self-hosted or on Deno Deploy",
        at_group=True,
    ),
)
DENO_DEPLOY_SOURCE = (
    Unsupported(
        re.compile(r"\bDeno\.cron\s*\("),
        "registers a cron job itself; Deno Deploy finds cron jobs at the top of the app's entry only",
        "declare it under `cron:` in koyalite.yaml (koyalite registers it in the entry)",
    ),
)
SOURCE_RULES = {"cloudflare-workers": WORKERS_SOURCE, "deno-deploy": DENO_DEPLOY_SOURCE}


def source_problems(text: str, platform: str) -> Iterator[tuple[int, int, str, str]]:
    """(line, column, why, hint) for each use of something the platform cannot run; `//` comments are skipped."""
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("//", 1)[0] if "://" not in line else line
        for check in SOURCE_RULES[platform]:
            for match in check.pattern.finditer(code):
                groups = [g for g in match.groups() if g]
                column = match.start(1) if check.at_group else match.start()
                yield number, column + 1, check.why.format(*groups), check.hint


def _where(ctx: Context, i: int) -> tuple[str | int, ...]:
    return ("functions", "items", i, "platform") if ctx.manifest.functions.items[i].platform else ("functions", "platform")


@rule
def hosted_functions(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.manifest
    if not m.features.edge_functions:
        return
    used: set[str] = set()
    for i, fn in enumerate(m.functions.items):
        platform = m.functions.platform_of(fn)
        if platform not in HOSTED:
            continue
        used.add(platform)
        if getattr(m.functions, SETTINGS[platform]) is None:
            yield ctx.error(
                _where(ctx, i),
                f"function {fn.name} runs on {LIMITS[platform].label}, which needs functions.{SETTINGS[platform]}",
                f"add {EXAMPLE[platform]}",
            )
        limits = LIMITS[platform]
        # the default (150Mi) is the self-hosted runtime's: a platform with a fixed isolate size gives its own
        if ctx.written(("functions", "items", i, "memory")) and parse_bytes(fn.memory) > parse_bytes(limits.memory):
            yield ctx.error(
                ("functions", "items", i, "memory"),
                f"function {fn.name} asks for {fn.memory} of memory; {limits.label} gives an isolate at most {limits.memory}",
                f"lower it to {limits.memory} or less, or run the function self-hosted",
            )
        if limits.timeout and parse_duration(fn.timeout) > parse_duration(limits.timeout):
            yield ctx.error(
                ("functions", "items", i, "timeout"),
                f"function {fn.name} has a timeout of {fn.timeout}; on {limits.label} {limits.timeout_why}",
                f"lower it to {limits.timeout} or less, or run the function self-hosted",
            )
        if ctx.base_dir is not None and (ctx.base_dir / fn.entrypoint).is_file():
            text = (ctx.base_dir / fn.entrypoint).read_text(encoding="utf-8", errors="replace")
            for line, column, why, hint in source_problems(text, platform):
                yield ctx.error(
                    ("functions", "items", i, "entrypoint"),
                    f"{fn.entrypoint}:{line}:{column}: function {fn.name} {why}",
                    hint,
                    code="platform-api",
                )
    for platform, key in SETTINGS.items():
        if platform not in used and getattr(m.functions, key) is not None and ctx.written(("functions", key)):
            yield ctx.warning(
                ("functions", key),
                f"functions.{key} is set, but no function runs on {LIMITS[platform].label}",
                f"set `platform: {platform}` on the functions that should, or remove functions.{key}",
            )
    if not used:
        return
    hosted = {fn.name for fn in m.functions.items if m.functions.platform_of(fn) in HOSTED}
    for j, job in enumerate(m.cron):
        if job.function in hosted and job.timezone != "UTC":
            yield ctx.error(
                ("cron", j, "timezone"),
                f"cron job {job.name} calls {job.function}, which runs on a hosted platform whose scheduler keeps UTC only",
                "set `timezone: UTC` and write the schedule in UTC (mind daylight saving time)",
            )
    if m.features.events:
        for j, queue in enumerate(m.events.queues):
            if queue.function in hosted:
                platform = next(m.functions.platform_of(fn) for fn in m.functions.items if fn.name == queue.function)
                yield ctx.error(
                    ("events", "queues", j, "function"),
                    f"queue {queue.name} delivers to function {queue.function}, which runs on {LIMITS[platform].label}; "
                    "the event worker delivers to self-hosted functions only",
                    f"run {queue.function} self-hosted (`platform: self-hosted` on it), or deliver the queue to a webhook at its public URL",
                )
    settings = ctx.settings
    public = settings is not None and settings.kubernetes is not None and settings.kubernetes.ingress is not None
    if m.functions.api_url is None and not (public or (m.project.domain and ctx.target != "docker")):
        yield ctx.error(
            ("functions",),
            "functions on a hosted platform call the project's API from outside, and this environment has no public address",
            "set functions.api_url to the address the API is reachable at, or give the environment an ingress",
        )
    if m.functions.runtime.verify_jwt and "JWT_SECRET" not in m.services.auth.secrets:
        yield ctx.error(
            ("functions", "runtime", "verify_jwt"),
            "hosted functions verify JWTs with the key the auth service signs them with, and services.auth has no JWT_SECRET",
            "add `secrets: {JWT_SECRET: jwt_secret}` to services.auth, or set verify_jwt: false",
        )
