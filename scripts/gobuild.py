"""What the Go builds of scripts/ share: the go command's environment, a per-cache build lock, and the cached tools
(helm, kustomize) built into ~/.cache/koyalite/tools/. Standard library only."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def go_env(**extra: str) -> dict[str, str]:
    """os.environ for `go`: modules resolved through GOPROXY (`-mod=mod` merged into the go env file's GOFLAGS,
    which an exported GOFLAGS would otherwise replace) and static binaries (CGO_ENABLED=0)."""
    env = dict(os.environ)
    flags = subprocess.run(["go", "env", "GOFLAGS"], capture_output=True, text=True, check=False).stdout.split()
    env["GOFLAGS"] = " ".join([f for f in flags if not f.startswith("-mod=")] + ["-mod=mod"])
    env["CGO_ENABLED"] = "0"
    env.update(extra)
    return env


@contextlib.contextmanager
def locked(path: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on `path` (one build per cache at a time); says so when it has to wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another build (lock {path}) ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class ToolBuildError(RuntimeError):
    """A tool could not be built here (no Go, the proxy refused, the build failed); the message says which."""


def tools_dir() -> Path:
    """Where the tools built for tests and benchmarks are cached, one folder per name and version."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "koyalite" / "tools"


def cached_tool(
    name: str,
    version: str,
    reports: Callable[[Path, str], bool],
    install: Callable[[Path], None],
    log: Callable[[str], None],
    force: bool = False,
) -> Path:
    """`tools_dir()/<name>-<version>/<name>`, built once per machine: `install(staging_dir)` puts the binary there,
    `reports(binary, version)` says whether a binary works. Built in a staging folder and moved into place, under
    a lock, so a half-built tool is never used and two runs never build it twice."""
    target = tools_dir() / f"{name}-{version}" / name
    if not force and reports(target, version):
        return target
    if shutil.which("go") is None:
        raise ToolBuildError(f"Go is not installed: {name} is built from source through the Go module proxy")
    with locked(tools_dir() / f".{name}.lock", log):
        if not force and reports(target, version):  # another process built it while we waited
            return target
        target.parent.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-{version}.", dir=target.parent.parent))
        try:
            started = time.monotonic()
            log(f"building {name} {version} through the Go module proxy ...")
            install(staging)
            if not reports(staging / name, version):
                raise ToolBuildError(f"the built {staging / name} does not report version {version}")
            if target.parent.exists():
                shutil.rmtree(target.parent)
            staging.replace(target.parent)
            log(f"built {target} in {time.monotonic() - started:.0f}s")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def build_in_module(module: str, version: str, package: str, out: Path, ldflags: str) -> None:
    """`go build` of `package` (relative, e.g. ./cmd) inside the module downloaded with `go mod download`: for a module
    whose go.mod has replace or exclude directives, which `go install pkg@version` refuses; its go.sum pins every
    dependency, and the read-only module cache is built in place with -mod=readonly."""
    download = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"], env=go_env(), capture_output=True, text=True, check=False
    )
    info = json.loads(download.stdout or "{}")
    if download.returncode != 0 or not info.get("Dir"):
        raise ToolBuildError(f"go mod download {module}@{version} failed:\n{(download.stderr or info.get('Error', '')).strip()[-3000:]}")
    env = go_env()
    env["GOFLAGS"] = env["GOFLAGS"].replace("-mod=mod", "-mod=readonly")
    build = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out), package]
    proc = subprocess.run(build, env=env, cwd=info["Dir"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolBuildError(f"{' '.join(build)} failed ({proc.returncode}):\n{proc.stderr.strip()[-3000:]}")


def tool_main(
    name: str,
    default: str,
    ensure: Callable[[str, bool], Path],
    log: Callable[[str], None],
    argv: list[str] | None,
    after: Callable[[Path], None] = lambda path: None,
) -> int:
    """The command line of a cached tool's script: print the binary's path, building it first if needed; `after`
    gets the path (e.g. to link a CLI plugin)."""
    parser = argparse.ArgumentParser(description=f"Build (or reuse) {name} from Go source through the Go module proxy.")
    parser.add_argument("--version", default=default, help=f"{name} version to build (default {default})")
    parser.add_argument("--force", action="store_true", help="rebuild even when the cached binary works")
    args = parser.parse_args(argv)
    try:
        path = ensure(args.version, args.force)
    except ToolBuildError as exc:
        log(f"error: {exc}")
        return 1
    after(path)
    sys.stdout.write(f"{path}\n")
    return 0
