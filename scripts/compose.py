#!/usr/bin/env python3
"""Build (or reuse) Docker Compose v2+ (the `docker compose` CLI plugin) from Go source through the Go module proxy.

Run as ``python3 scripts/compose.py`` (prints the binary's path on stdout; progress on stderr). Debian's
`docker-compose` is Compose v1 (1.29, end-of-life since 2023); what users type is `docker compose`, the plugin
this builds: ``go build ./cmd`` in the module ``github.com/docker/compose/v5@VERSION`` fetched with ``go mod download``
(its exclude directives rule out ``go install pkg@version``), the version stamped as upstream's Makefile does.

The binary is cached at ``${XDG_CACHE_HOME:-~/.cache}/koyalite/tools/docker-compose-<version>/docker-compose``; a
second run only checks ``docker-compose version`` (milliseconds). It is also linked as
``docker-config/cli-plugins/docker-compose`` beside the binary, so ``DOCKER_CONFIG=<that folder> docker compose ...``
uses it without touching ``~/.docker`` (the script says the folder). ``KOYALITE_COMPOSE=/path/to/docker-compose``
skips the build and uses that binary.

Python 3.11 standard library only (importable: ``ensure()`` returns the path, ``plugin_config()`` the folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gobuild import ToolBuildError, build_in_module, cached_tool, tool_main

MODULE = "github.com/docker/compose/v5"
PACKAGE = f"{MODULE}/cmd"
VERSION = "v5.6.0"
"""Newest Compose whose go.mod the machine's Go 1.26.8 accepts (v5.7.x needs go >= 1.26.10); bump deliberately."""

__all__ = ["VERSION", "ToolBuildError", "ensure", "plugin_config"]
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
    """Built in the downloaded module: its go.mod has exclude directives, which `go install pkg@version` refuses."""
    build_in_module(MODULE, version, "./cmd", out_dir / NAME, f"-s -w -X {VERSION_VAR}={version}")


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


def _linked(binary: Path) -> None:
    log(f"`DOCKER_CONFIG={plugin_config(binary)} docker compose` runs it as the CLI plugin")


def main(argv: list[str] | None = None) -> int:
    return tool_main("docker-compose", VERSION, ensure, log, argv, after=_linked)


if __name__ == "__main__":
    sys.exit(main())
