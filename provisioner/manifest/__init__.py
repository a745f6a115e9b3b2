"""The manifest stage: load koyalite.yaml, apply an environment's overlay, validate, run the rules."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from provisioner.errors import Diagnostic, ManifestError, Severity, UsageError
from provisioner.manifest import overlay, rules, source
from provisioner.manifest.diagnose import from_validation_error
from provisioner.manifest.models import SECTIONS, Environment, Manifest
from provisioner.manifest.source import Node

__all__ = ["Checked", "Document", "check", "check_all", "load", "parse"]


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed manifest: its node tree and where it came from (entrypoints resolve against base_dir)."""

    root: Node
    file: str
    base_dir: Path | None

    @property
    def environments(self) -> list[str]:
        """Environment names in manifest order (empty when the section is missing or malformed)."""
        assert isinstance(self.root.value, dict)
        envs = self.root.value.get("environments")
        return list(envs.value) if envs is not None and isinstance(envs.value, dict) else []


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid manifest, effective for one environment (or the base when `environment` is None)."""

    manifest: Manifest
    environment: str | None
    settings: Environment | None
    source: Node
    warnings: tuple[Diagnostic, ...]


def load(path: Path, display: str | None = None) -> Document:
    """Read and parse a manifest file; raises ManifestError with a position on any YAML problem."""
    return Document(source.load(path, display), display or str(path), path.parent)


def parse(text: str, file: str = "koyalite.yaml", base_dir: Path | None = None) -> Document:
    """Parse manifest text (tests, stdin); entrypoint files are checked only when base_dir is given."""
    return Document(source.parse(text, file), file, base_dir)


def _validate(root: Node) -> Manifest:
    try:
        return Manifest.model_validate(root.to_plain())
    except ValidationError as exc:
        raise ManifestError(from_validation_error(exc, root, Manifest)) from None


def _checked(doc: Document, node: Node, environment: str | None, manifest: Manifest | None = None) -> Checked:
    manifest = _validate(node) if manifest is None else manifest
    settings = manifest.environments.get(environment) if environment else None
    found = list(rules.run(rules.Context(manifest, node, environment, settings, doc.base_dir)))
    errors = [d for d in found if d.severity is Severity.ERROR]
    if errors:
        raise ManifestError(errors)
    return Checked(manifest, environment, settings, node, tuple(d for d in found if d.severity is Severity.WARNING))


def check(doc: Document, environment: str | None = None) -> Checked:
    """Validate the base manifest, or the effective manifest of one environment.

    Raises ManifestError with every problem found, UsageError for an unknown environment.
    """
    return _check(doc, environment, None)


def _check(doc: Document, environment: str | None, base: Manifest | None) -> Checked:
    """`check`, reusing the validated base manifest when the caller has it (each validation walks the whole tree)."""
    if environment is None:
        return _checked(doc, doc.root, None, base)
    base = _validate(doc.root) if base is None else base
    if environment not in base.environments:
        known = list(base.environments)
        close = difflib.get_close_matches(environment, known, n=1)
        hint = f"did you mean `{close[0]}`?" if close else (f"environments: {', '.join(known)}" if known else "add it under `environments`")
        raise UsageError(f"environment `{environment}` is not defined in {doc.file}", hint)
    return _checked(doc, overlay.apply(doc.root, environment, SECTIONS), environment)


def check_all(doc: Document, environments: list[str] | None = None) -> tuple[list[Checked], list[Diagnostic]]:
    """Check several environments (all of them by default; the base when there are none).

    Returns the valid results and every problem, each reported once even when several environments share it.
    """
    base: Manifest | None = None
    if environments is None:
        base = _validate(doc.root)  # structural errors of the base are reported once, before any overlay
        environments = doc.environments
    targets: list[str | None] = list(environments) if environments else [None]
    results: list[Checked] = []
    problems: dict[tuple[object, ...], Diagnostic] = {}
    for env in targets:
        try:
            base = _validate(doc.root) if base is None else base  # once for every environment (an invalid base raises each time)
            checked = _check(doc, env, base)
        except ManifestError as exc:
            for d in exc.diagnostics:
                problems.setdefault((d.position, d.path, d.message, d.severity), d)
            continue
        results.append(checked)
        for d in checked.warnings:
            problems.setdefault((d.position, d.path, d.message, d.severity), d)
    return results, sorted(problems.values(), key=Diagnostic.sort_key)
