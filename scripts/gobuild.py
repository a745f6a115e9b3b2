"""What the Go builds of scripts/ share: the go command's environment and a per-cache build lock (stdlib only)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
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
