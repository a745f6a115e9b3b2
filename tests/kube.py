"""The local cluster for the Kubernetes end-to-end tiers: started through scripts/cluster.py (or found running),
and kubectl on it. Stops only what it started."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.deploy.settings import toolchain_bin
from tests.support import script


def missing(tier: str) -> str | None:
    """Why the tier cannot run here, or None."""
    if os.environ.get("KOYALITE_E2E") != "1":
        return "set KOYALITE_E2E=1 for the real-cluster run"
    if not (toolchain_bin() / "pulumi").exists():
        return f"no Pulumi CLI in {toolchain_bin()} (make toolchain)"
    cluster = script("cluster")
    unbuilt = [c.name for c in cluster.cluster_build.COMPONENTS if not c.ready()]
    if unbuilt:
        return f"cluster binaries not built: {', '.join(unbuilt)} (make cluster-build)"
    if tier == "node" and os.geteuid() != 0:
        return "the node tier needs root"
    return None


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_bin: Path

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args], capture_output=True, text=True, input=stdin, check=False
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr[-2000:]}"
        return result

    def get(self, *args: str) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", *args, "-o", "json").stdout))

    def items(self, *args: str) -> list[dict[str, Any]]:
        return list(self.get(*args).get("items", []))


@contextmanager
def running(tier: str) -> Iterator[Cluster]:
    """The tier, started unless it already runs; stopped afterwards only if started here."""
    cluster = script("cluster")
    paths = cluster.Paths(cluster.state_dir())
    already = paths.tier_file.exists() and paths.tier_file.read_text().strip() == tier
    paths = cluster.up(tier, ["fra", "iad"], 2, cluster.REGION_LABEL)
    try:
        yield Cluster(paths.kubeconfig, cluster.cluster_build.binaries()["kubectl"])
    finally:
        if not already:
            cluster.down()
