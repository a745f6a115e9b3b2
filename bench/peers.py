"""Peers that do the same work, built here from the Go module proxy where they build; why not, where they do not."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer tool: its binary and version when it could be built, else why not."""

    name: str
    module: str
    version: str = ""
    binary: Path | None = None
    problem: str = ""


def _script(name: str) -> ModuleType:
    """One of scripts/*.py (standard library only, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"koyalite_scripts_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built(name: str) -> Peer:
    """helm or kustomize through its scripts/<name>.py (cached in ~/.cache/koyalite/tools/ after the first build)."""
    script = _script(name)
    module = str(getattr(script, "PACKAGE", name))
    version = str(script.VERSION)
    failed = tuple(v for k, v in vars(script).items() if k.endswith("BuildError"))  # HelmBuildError, KustomizeBuildError
    try:
        return Peer(name, module, version, Path(script.ensure()))
    except (*failed, OSError, subprocess.SubprocessError) as exc:  # says why: no Go, the proxy refused, the build failed
        return Peer(name, module, version, problem=f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}")


def helm() -> Peer:
    return _built("helm")


def kustomize() -> Peer:
    return _built("kustomize")


UNSERVED = {
    "score-k8s": "github.com/score-spec/score-k8s",
    "score-compose": "github.com/score-spec/score-compose",
    "kompose": "github.com/kubernetes/kompose",
}
"""Peers DESIGN §7 names that the Go module proxy does not serve (asked again on every run, below)."""


def unserved() -> list[Peer]:
    """Ask the proxy for each module's versions (`go list -m -versions`); its answer is the reason it is not built."""
    go = shutil.which("go")
    found: list[Peer] = []
    for name, module in UNSERVED.items():
        if go is None:
            found.append(Peer(name, module, problem="Go is not installed"))
            continue
        try:
            proc = subprocess.run(
                [go, "list", "-m", "-versions", module], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired:
            found.append(Peer(name, module, problem="`go list -m -versions` timed out"))
            continue
        if proc.returncode == 0 and len(proc.stdout.split()) > 1:  # served after all: say so rather than pretend
            found.append(Peer(name, module, problem=f"the proxy now serves {proc.stdout.split()[-1]}; not benchmarked yet"))
            continue
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        answer = next((line for line in lines if "not available" in line or "Forbidden" in line or "not found" in line), None)
        found.append(Peer(name, module, problem=answer or (lines[-1] if lines else "no versions listed")))
    return found
