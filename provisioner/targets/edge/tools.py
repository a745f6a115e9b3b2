"""The Workers toolchain from the npm registry: workerd (Cloudflare's open-source Workers runtime) and esbuild (the
bundler wrangler uses), installed once into ${XDG_CACHE_HOME:-~/.cache}/koyalite/tools/edge-<versions>/.

wrangler itself needs Node.js 22.12 or newer (these machines have 20), so koyalite bundles a Worker as wrangler does
(esbuild, ES module output, node: and cloudflare: imports left to the runtime) and runs it under workerd directly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import KoyaliteError

PACKAGES = {"workerd": "1.20261117.1", "esbuild": "0.28.2"}
"""Pinned: the workerd release of wrangler 4.164.0, and the newest esbuild."""
BINARIES = {"workerd": "@cloudflare/workerd-linux-64/bin/workerd", "esbuild": "@esbuild/linux-x64/bin/esbuild"}
"""The platform packages' executables (npm installs them as optional dependencies; no install script needed)."""


class ToolsError(KoyaliteError):
    """The Workers toolchain cannot be installed or run; the message says which and how to fix it."""

    exit_code = 4

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Tools:
    workerd: Path
    esbuild: Path


def directory() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(repr(sorted(PACKAGES.items())).encode()).hexdigest()[:10]
    return cache / "koyalite" / "tools" / f"edge-{key}"


def _found(root: Path) -> Tools | None:
    paths = {name: root / "node_modules" / rel for name, rel in BINARIES.items()}
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
        return Tools(**paths)
    return None


def ensure() -> Tools:
    """The installed tools, installing them first if needed (npm; a few seconds, about 120 MB)."""
    root = directory()
    found = _found(root)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise ToolsError("npm is not installed: the Workers toolchain comes from the npm registry", "install Node.js and npm")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".edge-", dir=root.parent))
    try:
        (staging / "package.json").write_text('{"private": true}\n')
        specs = [f"{name}@{version}" for name, version in sorted(PACKAGES.items())]
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--save-exact", *specs], cwd=staging, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or _found(staging) is None:
            raise ToolsError(
                f"npm install {' '.join(specs)} failed: {done.stderr.strip()[-1500:]}", "check that the npm registry is reachable"
            )
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = _found(root)
    assert found is not None
    return found


def bundle(tools: Tools, project: Path, out: Path) -> str:
    """One ES module from a Worker project's entry (wrangler.jsonc's `main`) and everything it imports, as wrangler
    bundles it; returns the module's text (byte-identical for the same project: paths in it are the project's)."""
    from provisioner.targets.edge import wrangler_config

    main = wrangler_config((project / "wrangler.jsonc").read_text(encoding="utf-8"))["main"]
    argv = [
        str(tools.esbuild),
        main,
        "--bundle",
        "--format=esm",
        "--target=es2024",
        "--platform=neutral",
        "--conditions=workerd,worker,browser",
        "--main-fields=workerd,worker,browser,module,main",
        "--external:node:*",
        "--external:cloudflare:*",
        "--log-level=warning",
        f"--outfile={out}",
    ]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolsError(
            f"bundling {project / main} failed:\n{done.stderr.strip()[-3000:]}", "fix the function's imports (see the esbuild message)"
        )
    return out.read_text(encoding="utf-8")
