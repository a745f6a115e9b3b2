#!/usr/bin/env python3
"""Build (or reuse) the `kustomize` CLI from Go source through the Go module proxy, for the peer benchmarks.

Run as ``python3 scripts/kustomize.py`` (prints the binary's path on stdout; progress on stderr). No release download:
``go install sigs.k8s.io/kustomize/kustomize/v5@VERSION`` with ``GOFLAGS=-mod=mod`` (scripts/gobuild.py).

The binary is cached at ``${XDG_CACHE_HOME:-~/.cache}/koyalite/tools/kustomize-<version>/kustomize``; a second run only
checks ``kustomize version`` (milliseconds). ``KOYALITE_KUSTOMIZE=/path/to/kustomize`` skips the build and uses that binary.

Python 3.11 standard library only (importable: ``ensure()`` returns the path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gobuild import ToolBuildError, cached_tool, go_env, tool_main

PACKAGE = "sigs.k8s.io/kustomize/kustomize/v5"
VERSION = "v5.8.2"
"""Newest kustomize v5 that the installed Go (1.26) builds: the proxy serves v5.8.3 too (`go list -m -versions
sigs.k8s.io/kustomize/kustomize/v5`), but its go.mod says `go 1.27.0`, which GOTOOLCHAIN=local refuses; bump with Go."""


KustomizeBuildError = ToolBuildError
"""kustomize could not be built here (no Go, the proxy refused, the build failed); the message says which."""


def log(message: str) -> None:
    sys.stderr.write(f"kustomize: {message}\n")


def reports(binary: Path, version: str) -> bool:
    """Whether `binary` runs and says it is `version` (kustomize reads it from the Go build info)."""
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return out.returncode == 0 and version in out.stdout


def ensure(version: str = VERSION, force: bool = False) -> Path:
    """The path of a working kustomize `version`, building it once per machine."""
    given = os.environ.get("KOYALITE_KUSTOMIZE")
    if given:
        return Path(given)
    return cached_tool("kustomize", version, reports, lambda staging: _install(version, staging), log, force)


def _install(version: str, out_dir: Path) -> None:
    cmd = ["go", "install", "-trimpath", "-ldflags", "-s -w", f"{PACKAGE}@{version}"]
    proc = subprocess.run(cmd, env=go_env(GOBIN=str(out_dir)), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KustomizeBuildError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    return tool_main("kustomize", VERSION, ensure, log, argv)


if __name__ == "__main__":
    sys.exit(main())
