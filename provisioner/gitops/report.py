"""Diffs and summaries as lines for people (each with a style name the CLI may colour) and as JSON-ready data."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from provisioner.gitops.changes import Change, Loc, Named, Op, dotted, json_path
from provisioner.gitops.diff import ObjectDiff, RenderDiff
from provisioner.manifest.models.types import format_bytes

Line = tuple[str, str]
"""(style, text): style is one of "", "header", "changed", "added", "removed", "risk", "dim"."""

_STYLE = {Op.CHANGED: "changed", Op.ADDED: "added", Op.REMOVED: "removed"}
_MARK = {Op.CHANGED: "~", Op.ADDED: "+", Op.REMOVED: "-"}


def show(value: Any) -> str:
    """A value as one line of YAML flow text: `10Gi`, `'1'`, `[fra, iad]`, `{cpu: 70, max: 10}`, `null`."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, sort_keys=False, allow_unicode=True)
    return str(text).removesuffix("\n...\n").strip()


def _leaves(value: Any, loc: Loc) -> Iterator[tuple[Loc, Any]]:
    """The scalar leaves of an added or removed value, so each prints on its own line."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*loc, key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, dict) else None
            yield from _leaves(item, (*loc, Named(name) if isinstance(name, str) else i))
    else:
        yield loc, value


def _text_lines(mark: str, text: str, indent: str) -> list[str]:
    return [f"{indent}    {mark} {line}" for line in text.splitlines()]


def change_lines(change: Change, path: Callable[[Loc], str], indent: str = "") -> list[Line]:
    """`~ path: old → new`, `+ path: new`, `- path: old`; multi-line text as a line diff under its path."""
    style, mark = _STYLE[change.op], _MARK[change.op]
    old, new = change.old, change.new
    if change.op is Op.CHANGED:
        if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
            lines: list[Line] = [(style, f"{indent}{mark} {path(change.loc)}:")]
            for line in list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]:
                kind = "added" if line.startswith("+") else "removed" if line.startswith("-") else "dim"
                lines.append((kind, f"{indent}    {line}"))
            return lines
        return [(style, f"{indent}{mark} {path(change.loc)}: {show(old)} → {show(new)}")]
    lines = []
    for loc, value in _leaves(new if change.op is Op.ADDED else old, change.loc):
        if isinstance(value, str) and "\n" in value:
            lines.append((style, f"{indent}{mark} {path(loc)}: |"))
            lines += [(style, text) for text in _text_lines(mark, value, indent)]
        else:
            lines.append((style, f"{indent}{mark} {path(loc)}: {show(value)}"))
    return lines


def change_dict(change: Change, path: Callable[[Loc], str]) -> dict[str, Any]:
    return {"path": path(change.loc), "op": change.op.value, "old": change.old, "new": change.new}


# --- environments --------------------------------------------------------------------------------


def environments_lines(old: str, new: str, changes: list[Change]) -> list[Line]:
    lines: list[Line] = [("header", f"--- {old}"), ("header", f"+++ {new}")]
    for change in changes:
        lines += change_lines(change, dotted)
    return lines


def environments_dict(file: str, old: str, new: str, changes: list[Change]) -> dict[str, Any]:
    return {"file": file, "from": old, "to": new, "differences": len(changes), "changes": [change_dict(c, dotted) for c in changes]}


# --- renders -------------------------------------------------------------------------------------


def _object_lines(o: ObjectDiff) -> list[Line]:
    lines: list[Line] = [(_STYLE[o.status], f"{_MARK[o.status]} {o.key}")]
    placed = set()
    for risk in o.risks:
        if risk.loc == ():
            lines.append(("risk", f"    ! replacement risk: {risk.reason}"))
            placed.add(id(risk))
    for change in o.changes:
        lines += change_lines(change, json_path, "    ")
        for risk in o.risks:
            if risk.loc == change.loc and id(risk) not in placed:
                lines.append(("risk", f"      ! replacement risk: {risk.reason}"))
                placed.add(id(risk))
    lines += [("risk", f"    ! replacement risk: {json_path(r.loc)}: {r.reason}") for r in o.risks if id(r) not in placed]
    return lines


def renders_lines(diff: RenderDiff, environment: str, against: str) -> list[Line]:
    lines: list[Line] = [("header", f"--- {against} (committed)"), ("header", f"+++ {environment} (rendered now)")]
    for o in diff.objects:
        lines += _object_lines(o)
    return lines


def renders_summary(diff: RenderDiff, environment: str, against: str) -> str:
    if not diff.objects:
        return f"{environment} renders the same objects as {against}"
    counts = f"{diff.count(Op.CHANGED)} changed, {diff.count(Op.ADDED)} added, {diff.count(Op.REMOVED)} removed"
    risks = len(diff.risks)
    tail = f"; {risks} replacement risk{'s' if risks != 1 else ''}" if risks else ""
    return f"{environment} differs from {against}: {counts}{tail}"


def renders_dict(diff: RenderDiff, environment: str, against: str) -> dict[str, Any]:
    return {
        "environment": environment,
        "target": diff.target,
        "against": against,
        "summary": {
            "changed": diff.count(Op.CHANGED),
            "added": diff.count(Op.ADDED),
            "removed": diff.count(Op.REMOVED),
            "risks": len(diff.risks),
        },
        "objects": [
            {
                "kind": o.key.kind,
                "namespace": o.key.namespace,
                "name": o.key.name,
                "status": o.status.value,
                "changes": [change_dict(c, json_path) for c in o.changes],
                "risks": [{"path": json_path(r.loc), "reason": r.reason} for r in o.risks],
            }
            for o in diff.objects
        ],
    }


# --- quantities ----------------------------------------------------------------------------------


def cpu(millicores: int) -> str:
    """Millicores as Kubernetes writes CPU: `250m`, `2`."""
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def memory(count: int) -> str:
    """Bytes as the shortest exact quantity: `256Mi`, `813Gi`."""
    return format_bytes(count) if count else "0"
