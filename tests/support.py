"""Helpers shared by the manifest tests: small manifests from text, and their diagnostics as strings."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from provisioner.cli import main
from provisioner.errors import Diagnostic, ManifestError
from provisioner.manifest import Checked, check, parse
from provisioner.manifest.source import Node

FILE = "koyalite.yaml"
"""The file name every in-memory manifest is parsed as: positions read `koyalite.yaml:LINE:COL`."""

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "koyalite.yaml"
SCHEMA = REPO / "schema" / "koyalite.schema.json"

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def manifest(body: str = "", **project: str) -> str:
    """A minimal valid manifest (two lines) followed by `body`, so the body starts at line 3.

    Keyword arguments add or replace fields of the one-line `project` mapping, written as YAML
    flow text: `manifest(regions="[fra, iad]")`.
    """
    fields = {"name": "acme", "release": '"1.4.0"', **project}
    head = "apiVersion: koyalite.dev/v1\nproject: {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n"
    return head + textwrap.dedent(body).lstrip("\n")


def checked(text: str, env: str | None = None, base_dir: Path | None = None) -> Checked:
    """The checked manifest; fails the test with every diagnostic when it is invalid."""
    try:
        return check(parse(text, FILE, base_dir=base_dir), env)
    except ManifestError as exc:
        raise AssertionError("\n".join(map(str, exc.diagnostics))) from None


def errors(text: str, env: str | None = None, base_dir: Path | None = None) -> list[Diagnostic]:
    """The diagnostics of an invalid manifest; fails the test when it is valid."""
    try:
        result = check(parse(text, FILE, base_dir=base_dir), env)
    except ManifestError as exc:
        return exc.diagnostics
    raise AssertionError(f"expected errors, got a valid manifest with warnings {list(map(str, result.warnings))}")


def problems(text: str, env: str | None = None, base_dir: Path | None = None) -> list[str]:
    """Every error (or, when there is none, every warning) as `file:line:col: severity: path: message (hint)`."""
    try:
        result = check(parse(text, FILE, base_dir=base_dir), env)
    except ManifestError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(d) for d in result.warnings]


def node_at(root: Node, *loc: str | int) -> Node:
    """The node at `loc`; fails the test when the document does not spell it out."""
    node = root.find(loc)
    assert node is not None, f"nothing at {loc}"
    return node


def images_build() -> ModuleType:
    """images/build.py as a module (it is a script, not a package): `images_build().build([...])`."""
    name = "koyalite_images_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "images" / "build.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def script(name: str) -> ModuleType:
    """A module of scripts/ (standard library only; the scripts import each other by name, so scripts/ goes on
    sys.path): `script("compose").ensure()`, `script("cluster").up(...)`."""
    folder = str(REPO / "scripts")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)
