#!/usr/bin/env python3
"""Build (or reuse) Docker Compose v2+ (the `docker compose` CLI plugin) from Go source through the Go module proxy.

Run as ``python3 scripts/compose.py`` (prints the binary's path on stdout; progress on stderr). Debian's
`docker-compose` is Compose v1 (1.29, end-of-life since 2023); what users type is `docker compose`, the plugin
this builds: ``go build ./cmd`` in the module ``github.com/docker/compose/v5@VERSION`` fetched with ``go mod download``
(its exclude directives rule out ``go install pkg@version``), the version stamped as upstream's Makefile does.

The binary is cached at ``${XDG_CACHE_HOME:-~/.cache}/koyalite/tools/docker-compose-<version>/docker-compose``; a
second run only checks ``docker-compose version`` (milliseconds). ``--plugin-dir DIR`` also links it as
``DIR/cli-plugins/docker-compose``, so ``DOCKER_CONFIG=DIR docker compose ...`` uses it without touching
``~/.docker``. ``KOYALITE_COMPOSE=/path/to/docker-compose`` skips the build and uses that binary.

Python 3.11 standard library only (importable: ``ensure()`` returns the path, ``plugin_config()`` the folder).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gobuild import ToolBuildError, cached_tool, go_env, tools_dir

MODULE = "github.com/docker/compose/v5"
PACKAGE = f"{MODULE}/cmd"
VERSION = "v5.6.0"
"""Newest Compose whose go.mod the machine's Go 1.26.8 accepts (v5.7.x needs go >= 1.26.10); bump deliberately."""
VERSION_VAR = f"{MODULE}/internal.Version"
NAME = "docker-compose"


def log(message: str) -> None:
    sys.stderr.write(f"compose: {message}\n")


def reports(binary: Path, version: str) -> bool:
    """Whether `binary` runs and says it is `version` (`docker-compose version --short` prints it without the v)."""
    try:
        out = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip().lstrip("v") == version.lstrip("v")


def _install(version: str, out_dir: Path) -> None:
    """Built in the downloaded module's own folder: its go.mod has exclude directives, which `go install pkg@version`
    refuses, and its go.sum pins every dependency."""
    download = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{version}"], env=go_env(), capture_output=True, text=True, check=False
    )
    info = json.loads(download.stdout or "{}")
    if download.returncode != 0 or not info.get("Dir"):
        raise ToolBuildError(f"go mod download {MODULE}@{version} failed:\n{(download.stderr or info.get('Error', '')).strip()[-3000:]}")
    env = go_env()
    env["GOFLAGS"] = env["GOFLAGS"].replace("-mod=mod", "-mod=readonly")  # the module cache is read-only
    build = ["go", "build", "-trimpath", "-ldflags", f"-s -w -X {VERSION_VAR}={version}", "-o", str(out_dir / NAME), "./cmd"]
    proc = subprocess.run(build, env=env, cwd=info["Dir"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolBuildError(f"{' '.join(build)} failed ({proc.returncode}):\n{proc.stderr.strip()[-3000:]}")


def ensure(version: str = VERSION, force: bool = False) -> Path:
    """The path of a working docker-compose `version`, building it once per machine."""
    given = os.environ.get("KOYALITE_COMPOSE")
    if given:
        return Path(given)
    return cached_tool(NAME, version, reports, lambda staging: _install(version, staging), log, force)


def plugin_config(binary: Path, config_dir: Path | None = None) -> Path:
    """A Docker CLI config folder whose `cli-plugins/docker-compose` is `binary`: `DOCKER_CONFIG=<it> docker compose`.

    Defaults to a folder beside the cached binary, so the user's own ~/.docker is never changed."""
    config_dir = config_dir or binary.parent / "docker-config"
    link = config_dir / "cli-plugins" / NAME
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or link.resolve() != binary.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(binary.resolve())
    return config_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (or reuse) Docker Compose from Go source through the Go module proxy.")
    parser.add_argument("--version", default=VERSION, help=f"Compose version to build (default {VERSION})")
    parser.add_argument("--force", action="store_true", help="rebuild even when the cached binary works")
    parser.add_argument("--plugin-dir", type=Path, help="also link it as DIR/cli-plugins/docker-compose (for DOCKER_CONFIG=DIR)")
    args = parser.parse_args(argv)
    try:
        path = ensure(args.version, args.force)
    except ToolBuildError as exc:
        log(f"error: {exc}")
        return 1
    config = plugin_config(path, args.plugin_dir)
    log(f"`DOCKER_CONFIG={config} docker compose` runs it as the CLI plugin (cache: {tools_dir()})")
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
