"""What the real-engine tests share: a copy of the reference project, the `koyalite` CLI run on it as a user runs it
(a subprocess, a file backend of its own), manifest edits, the summary line, and the skip-or-fail rule of CI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provisioner import manifest, plan

ROOT = Path(__file__).resolve().parents[1]
KOYALITE = [str(Path(sys.executable).parent / "koyalite")]
PASSPHRASE = "e2e-passphrase"


def skip_or_fail(why: str | None, tier: str) -> None:
    """Skip when a prerequisite is missing; in CI with KOYALITE_E2E=1 a missing one fails the tier instead."""
    if why is None:
        return
    if os.environ.get("CI") and os.environ.get("KOYALITE_E2E") == "1":
        pytest.fail(f"the {tier} tier cannot run in CI: {why}", pytrace=False)
    pytest.skip(why)


@dataclass
class Project:
    """A copy of the reference project (koyalite.yaml and functions/) with its state in `dir/state`."""

    dir: Path
    secrets: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for every run (KUBECONFIG, ...)."""

    @classmethod
    def copy(cls, base: Path, **env: str) -> Project:
        shutil.copy(ROOT / "koyalite.yaml", base / "koyalite.yaml")
        shutil.copytree(ROOT / "functions", base / "functions")
        (base / "state").mkdir()
        return cls(base, env=env)

    @property
    def manifest(self) -> Path:
        return self.dir / "koyalite.yaml"

    @property
    def backend(self) -> str:
        return (self.dir / "state").as_uri()

    def command(self, *args: str) -> list[str]:
        """`koyalite ARGS MANIFEST`, and the project's backend for the commands that run the engine."""
        engine = args[0] not in ("render", "validate", "config", "plan", "diff")
        return [*KOYALITE, *args, str(self.manifest), *(["--backend", self.backend] if engine else [])]

    def environ(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "KOYALITE_DEBUG": "1", **self.env, **extra}

    def koyalite(self, *args: str, stdin: str | None = None, timeout: float = 1200, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.dir,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environ(**env),
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, **env: str) -> str:
        result = self.koyalite(*args, **env)
        assert result.returncode == 0, (
            f"koyalite {' '.join(args)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
        return result.stdout + result.stderr

    def edit(self, old: str, new: str) -> None:
        text = self.manifest.read_text()
        assert text.count(old) == 1, old
        self.manifest.write_text(text.replace(old, new))

    def kill_up_and_unlock(self, environment: str) -> None:
        """Kill `koyalite up` once it holds the stack's lock (the CLI and the engine under it, as a killed CI job);
        the next `up` must be refused with the fix, and `unlock` then `up` must work."""
        running = subprocess.Popen(
            self.command("up", "--env", environment, "--yes"),
            cwd=self.dir, env=self.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        locks = self.dir / "state" / ".pulumi" / "locks"
        deadline = time.monotonic() + 120
        while not any(locks.rglob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        engine = _descendants(running.pid)  # the engine puts its plugins in process groups of their own
        os.killpg(running.pid, signal.SIGKILL)
        for pid in engine:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        running.wait()
        assert any(locks.rglob("*.json")), "the update never took its lock"
        refused = self.koyalite("up", "--env", environment, "--yes")
        assert refused.returncode == 4, refused.stderr[-3000:]
        assert f"environment {environment} is locked by another update" in refused.stderr
        assert f"run `koyalite unlock --env {environment}`" in refused.stderr
        self.ok("unlock", "--env", environment)
        self.ok("up", "--env", environment, "--yes")

    def set_secrets(self, environment: str, values: dict[str, str]) -> None:
        for key, value in sorted(values.items()):
            result = self.koyalite("secrets", "set", key, "--env", environment, stdin=value)
            assert result.returncode == 0, result.stderr
            self.secrets[key] = value


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc), so a test kills what it started and nothing else."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def changes(out: str, environment: str) -> str:
    """The closing summary line `koyalite preview|up|destroy` prints for `environment`."""
    found = re.findall(rf"^(?:preview|up|destroy) {environment}: (.*)$", out, re.M)
    assert found, out[-3000:]
    return str(found[-1])


def secret_keys(environment: str) -> set[str]:
    """The secrets an environment's workloads need (the translation's SecretSet)."""
    doc = manifest.load(ROOT / "koyalite.yaml")
    return set(plan.build(manifest.check(doc, environment), doc.base_dir).secret_keys())


def stream_state(prefix: str, stream: str) -> dict[str, Any]:
    """A JetStream stream's state (messages, bytes, first and last sequence, consumers) as the Docker environment's
    bus reports it, through the nats CLI in its container."""
    script = f"nats --server nats://127.0.0.1:4222 --user koyalite stream info {stream} --json"
    out = subprocess.run(
        ["docker", "exec", f"{prefix}-nats-0", "koyalite-entrypoint", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    state: dict[str, Any] = json.loads(out)["state"]
    return state


def engine_missing() -> str | None:
    """Why the real-engine tiers on Docker cannot run here, or None."""
    if os.environ.get("KOYALITE_E2E") != "1":
        return "set KOYALITE_E2E=1 for the real-engine run"
    from provisioner.deploy.settings import toolchain_bin

    if not (toolchain_bin() / "pulumi").exists():
        return f"no Pulumi CLI in {toolchain_bin()} (make toolchain)"
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no reachable Docker daemon (scripts/host.sh)"
    return None


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600)
