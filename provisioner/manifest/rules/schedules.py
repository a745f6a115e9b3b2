"""Cron schedules: five fields (or a macro) as Kubernetes CronJobs read them, in a real time zone."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator

from provisioner.errors import Diagnostic
from provisioner.manifest.rules import Context, rule

EXPANDED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""Each macro Kubernetes reads, as the five fields it means (for schedulers that know none: the hosted platforms)."""
MACROS = frozenset(EXPANDED)
_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)
_ITEM = re.compile(r"^(?P<range>\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def cron_problem(schedule: str) -> str | None:
    """What is wrong with a schedule, or None when Kubernetes accepts it."""
    text = schedule.strip()
    if text.startswith("@"):
        return None if text in MACROS else f"unknown macro `{text}`"
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        return "a time zone inside the schedule is not allowed"
    fields = text.split()
    if len(fields) != 5:
        return f"has {len(fields)} field{'s' if len(fields) != 1 else ''}; a schedule has 5 (minute hour day-of-month month day-of-week)"
    for field, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in field.split(","):
            match = _ITEM.match(item)
            if not match:
                return f"{name} field `{field}` is not a cron expression"
            part, step = match.group("range"), match.group("step")
            if part == "?" and name not in ("day-of-month", "day-of-week"):
                return f"`?` is only allowed in day-of-month and day-of-week, not in {name}"
            if step is not None and int(step) == 0:
                return f"{name} field `{field}` has a step of 0"
            if part in ("*", "?"):
                continue
            bounds = part.split("-")
            values = [_value(b, low, high, names) for b in bounds]
            if any(v is None for v in values):
                return f"{name} field `{field}` is out of range {low}-{high}"
            if len(values) == 2 and values[0] is not None and values[1] is not None and values[0] > values[1]:
                return f"{name} field `{field}` has a range that runs backwards"
    return None


@rule
def schedules(ctx: Context) -> Iterator[Diagnostic]:
    for i, job in enumerate(ctx.manifest.cron):
        problem = cron_problem(job.schedule)
        if problem:
            yield ctx.error(
                ("cron", i, "schedule"),
                f"schedule `{job.schedule}` {problem}",
                "write five fields like `0 2 * * *`, or @hourly/@daily/@weekly/@monthly/@yearly",
            )
        try:
            zoneinfo.ZoneInfo(job.timezone)
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            yield ctx.error(("cron", i, "timezone"), f"`{job.timezone}` is not an IANA time zone", "write a name like UTC or Europe/Berlin")
