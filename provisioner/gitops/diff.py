"""Diffs for review: two environments' effective manifests, or today's render against a committed one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import UsageError
from provisioner.gitops.changes import Change, Op, compare
from provisioner.gitops.risks import Compared, Risk, risks
from provisioner.manifest import Checked
from provisioner.manifest.models import SECTIONS

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

COMPOSE_FILE = "compose.yaml"
COMPOSE_SECTIONS = {"services": "service", "volumes": "volume", "networks": "network", "secrets": "secret"}
"""compose.yaml's top-level sections, and the kind each entry is reported as."""


# --- environments --------------------------------------------------------------------------------


def effective(checked: Checked) -> dict[str, Any]:
    """An environment's effective manifest as `koyalite config` prints it, its own settings under `environment`.

    `config` nests them under `environments.<name>`; a diff of two environments puts both under one key so their
    settings line up (`environment.kubernetes.namespace: acme-staging → acme-prod`).
    """
    assert checked.settings is not None
    data = checked.manifest.model_dump(mode="json", by_alias=True, exclude={"environments"})
    data["environment"] = checked.settings.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=set(SECTIONS))
    return data


def environments(old: Checked, new: Checked) -> list[Change]:
    """The differences from one environment's effective manifest to another's; lists of named items match by name."""
    return list(compare(effective(old), effective(new), whole_lists=True))


# --- renders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """What identifies an object across renders: Kubernetes kind, namespace and name (compose: section entry)."""

    rank: int
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class ObjectDiff:
    key: ObjectKey
    status: Op
    changes: tuple[Change, ...]
    risks: tuple[Risk, ...]


@dataclass(frozen=True, slots=True)
class RenderDiff:
    """Today's render against a committed one, object by object in apply order."""

    target: str
    objects: tuple[ObjectDiff, ...]

    def count(self, status: Op) -> int:
        return sum(o.status is status for o in self.objects)

    @property
    def risks(self) -> list[tuple[ObjectKey, Risk]]:
        return [(o.key, r) for o in self.objects for r in o.risks]


Objects = dict[ObjectKey, dict[str, Any]]


def _load_all(name: str, text: str) -> list[Any]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise UsageError(f"{name}{where} is not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def _kubernetes(files: Mapping[str, str], where: str) -> Objects:
    from provisioner.render.kubernetes import ORDER

    if COMPOSE_FILE in files:
        raise UsageError(f"{where} holds a Docker Compose render, not Kubernetes objects", "compare a Kubernetes environment's render")
    found: Objects = {}
    for name, text in files.items():
        for i, doc in enumerate(_load_all(f"{where}/{name}", text)):
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not isinstance(meta, dict) or "name" not in meta:
                raise UsageError(
                    f"{where}/{name}: document {i + 1} is not a Kubernetes object (no kind or metadata.name)",
                    "compare against a folder written by `koyalite render --env ENV -o DIR`",
                )
            kind = doc["kind"]
            key = ObjectKey(ORDER.get(kind, 90), kind, str(meta.get("namespace") or ""), str(meta["name"]))
            if key in found:
                raise UsageError(f"{where}: {key} appears twice", "keep one file per object, as `koyalite render -o DIR` writes them")
            found[key] = doc
    return found


def _compose(files: Mapping[str, str], where: str) -> Objects:
    if COMPOSE_FILE not in files:
        raise UsageError(f"{where} has no {COMPOSE_FILE}", "compare against a folder written by `koyalite render --env ENV -o DIR`")
    docs = _load_all(f"{where}/{COMPOSE_FILE}", files[COMPOSE_FILE])
    doc = docs[0] if len(docs) == 1 else None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        raise UsageError(f"{where}/{COMPOSE_FILE} is not a compose file (no services)")
    found: Objects = {}
    for rank, (section, kind) in enumerate(COMPOSE_SECTIONS.items()):
        entries = doc.get(section) or {}
        for name, body in entries.items() if isinstance(entries, dict) else ():
            found[ObjectKey(rank, kind, "", str(name))] = body if isinstance(body, dict) else {"value": body}
    return found


READERS: dict[str, Callable[[Mapping[str, str], str], Objects]] = {"kubernetes": _kubernetes, "docker": _compose}
"""Target -> how its rendered files become objects keyed for comparison."""


def read_render(path: Path) -> dict[str, str]:
    """The YAML files of a committed render (a folder's top level, or one file holding a stream)."""
    if path.is_file():
        return {path.name: path.read_text(encoding="utf-8")}
    if not path.is_dir():
        raise UsageError(f"{path} does not exist", "render the committed state first: koyalite render --env ENV -o DIR")
    found = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix in (".yaml", ".yml")
    }
    if not found:  # a typo or an empty checkout: everything would read as added
        raise UsageError(f"{path} holds no rendered YAML files", "render the committed state first: koyalite render --env ENV -o DIR")
    return found


def renders(target: str, current: Mapping[str, str], committed: Mapping[str, str], where: str) -> RenderDiff:
    """Today's render (`current`, the files `render -o DIR` would write) against the committed files at `where`."""
    if target not in READERS:
        raise UsageError(f"no render diff for target `{target}`", f"available: {', '.join(READERS)}")
    read = READERS[target]
    new, old = read(current, "today's render"), read(committed, where)
    found = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        status = Op.ADDED if a is None else Op.REMOVED if b is None else Op.CHANGED
        changes = tuple(compare(a, b)) if status is Op.CHANGED else ()
        compared = Compared(key.kind, status, a, b, changes)
        found.append(ObjectDiff(key, status, changes, tuple(risks(target, compared))))
    return RenderDiff(target, tuple(found))
