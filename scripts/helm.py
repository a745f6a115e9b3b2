#!/usr/bin/env python3
"""Build (or reuse) the `helm` CLI from Go source through the Go module proxy, for the Helm chart tests.

Run as ``python3 scripts/helm.py`` (prints the binary's path on stdout; progress on stderr). No release download:
``go install helm.sh/helm/v3/cmd/helm@VERSION`` with ``GOFLAGS=-mod=mod``; if the module ever gains replace
directives (which ``go install pkg@version`` refuses), the module is fetched with ``go mod download -json`` and
built in its own directory instead.

The binary is cached at ``${XDG_CACHE_HOME:-~/.cache}/koyalite/tools/helm-<version>/helm``; a second run only checks
``helm version`` (milliseconds). ``KOYALITE_HELM=/path/to/helm`` skips the build and uses that binary.

Python 3.11 standard library only (importable: ``ensure()`` returns the path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gobuild import ToolBuildError, build_in_module, cached_tool, go_env, tool_main

MODULE = "helm.sh/helm/v3"
PACKAGE = f"{MODULE}/cmd/helm"
VERSION = "v3.22.0"
"""Newest helm v3 the module proxy serves (checked with `go list -m -versions helm.sh/helm/v3`); bump deliberately."""
VERSION_VAR = f"{MODULE}/internal/version.version"


HelmBuildError = ToolBuildError
"""helm could not be built here (no Go, the proxy refused, the build failed); the message says which."""


def log(message: str) -> None:
    sys.stderr.write(f"helm: {message}\n")


def _ldflags(version: str) -> str:
    return f"-s -w -X {VERSION_VAR}={version}"


def reports(binary: Path, version: str) -> bool:
    """Whether `binary` runs and says it is `version`."""
    try:
        out = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip().split("+")[0] == version


def _install(version: str, out_dir: Path) -> None:
    """`go install pkg@version` into out_dir; falls back to building in the downloaded module's directory."""
    cmd = ["go", "install", "-trimpath", "-ldflags", _ldflags(version), f"{PACKAGE}@{version}"]
    proc = subprocess.run(cmd, env=go_env(GOBIN=str(out_dir)), capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    if "replace directives" not in proc.stderr:
        raise HelmBuildError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()[-3000:]}")
    log("the module has replace directives; building in its downloaded directory instead")
    build_in_module(MODULE, version, "./cmd/helm", out_dir / "helm", _ldflags(version))


def ensure(version: str = VERSION, force: bool = False) -> Path:
    """The path of a working helm `version`, building it once per machine."""
    given = os.environ.get("KOYALITE_HELM")
    if given:
        return Path(given)
    return cached_tool("helm", version, reports, lambda staging: _install(version, staging), log, force)


def main(argv: list[str] | None = None) -> int:
    return tool_main("helm", VERSION, ensure, log, argv)


if __name__ == "__main__":
    sys.exit(main())
