"""Deploy speed against the tools a user would use instead, measured side by side in one run on the local daemon.

`make bench-deploy` writes bench/REPORT-deploy.md. Needs the toolchain (`make toolchain`), the local images
(`make images`), Compose (`make compose`) and a Docker daemon. It deploys its own environment, `bench` (dev's
settings on other host ports, added to a copy of koyalite.yaml, its state in a temporary folder), so a running dev
stack and its volumes are never touched; it removes what it created, `stacks/Pulumi.bench.yaml` included.

Cases (wall time; runs alternate between the tools; medians):
1. first deploy on an empty daemon (images present; no container, no volume of the environment): `koyalite up`
   against `docker compose up -d --wait` of `koyalite render` — both return when every container is healthy;
2. teardown: `koyalite destroy` against `docker compose down`, volumes kept by both;
3. a no-change update: `koyalite up` against plain `pulumi up --yes` of the same stack (and `--skip-preview`);
4. one changed function (the edge runtime replaced and healthy again): `koyalite up` against `pulumi up --yes`;
5. with `make cluster-build` done, Kubernetes on the local cluster's API tier (kwok nodes; started here unless it
   runs, stopped afterwards if started here): `koyalite up` of environment `kbench` (staging's settings in namespace
   `acme-kbench`) against `kubectl apply --server-side` of its render followed by `kubectl wait` for what Pulumi
   awaits (Deployments available, StatefulSets' pods ready, claims bound, the Ingress's address); the namespace is
   deleted between runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.deploy.settings import resolve, toolchain_bin  # noqa: E402

ENV = "bench"
K8S_ENV = "kbench"
K8S_NAMESPACE = f"acme-{K8S_ENV}"
PORTS = "publish: {api: 18000, studio: 13000, functions: 19000}"
TARGETS = {"first deploy": 1.2, "teardown": None, "no-change update": 1.05, "one changed function": 1.1, "Kubernetes first deploy": 1.3}
"""The issue's targets: koyalite / peer at most this."""


def _script(name: str) -> Any:
    """A module of scripts/ (standard library only): compose.py builds and finds Compose, cluster.py runs the cluster."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module(name)


def _environment(text: str, name: str, as_name: str) -> str:
    """The block of `environments.<name>` in the manifest's text, renamed."""
    found = re.search(rf"^  {name}:\n(?:    .*\n|\n)+?(?=^  \S|\Z)", text + "\n  end:\n", re.M)
    if found is None:
        raise SystemExit(f"koyalite.yaml has no `{name}` environment to copy")
    return found.group(0).replace(f"  {name}:\n", f"  {as_name}:\n", 1).rstrip("\n") + "\n"


class Bench:
    """A copy of the reference project with the `bench` environment, and the commands that deploy it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        text = (ROOT / "koyalite.yaml").read_text()
        block = _environment(text, "dev", ENV)
        block = re.sub(r"publish: \{[^}]*\}", PORTS, block)
        kube = _environment(text, "staging", K8S_ENV).replace("namespace: acme-staging", f"namespace: {K8S_NAMESPACE}")
        (base / "koyalite.yaml").write_text(text.rstrip("\n") + "\n\n" + block + "\n" + kube)
        shutil.copytree(ROOT / "functions", base / "functions")
        self.manifest = base / "koyalite.yaml"
        self.backend = (base / "state").as_uri()
        self.env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": "bench-passphrase"}
        self.env |= resolve(ENV, self.manifest, self.backend, self.env).env
        self.koyalite_bin = str(Path(sys.executable).parent / "koyalite")
        self.pulumi = [str(toolchain_bin() / "pulumi"), "up", "--yes", "-s", ENV, "--non-interactive"]
        self.render = base / "render"
        compose = _script("compose")
        self.compose_env = {**os.environ, "DOCKER_CONFIG": str(compose.plugin_config(compose.ensure()))}

    def koyalite(self, *args: str) -> list[str]:
        return [self.koyalite_bin, *args, str(self.manifest), "--backend", self.backend]

    def run(self, cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
        result = subprocess.run(cmd, cwd=cwd or self.base, env=env or self.env, input=stdin, capture_output=True, text=True, check=False)
        out = result.stdout + result.stderr
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {result.returncode}:\n{out[-3000:]}")
        return out

    def timed(self, cmd: list[str], expect: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
        start = time.perf_counter()
        out = self.run(cmd, cwd, env)
        took = time.perf_counter() - start
        if expect not in out:
            raise SystemExit(f"{' '.join(cmd)} did not say {expect!r}:\n{out[-3000:]}")
        return took

    def setup(self) -> None:
        self.run(["docker", "info"])
        keys = secret_keys(self.manifest)
        for key in keys:
            self.run(self.koyalite("secrets", "set", key, "--env", ENV), stdin=secrets.token_urlsafe(24))
        self.run([self.koyalite_bin, "render", "--env", ENV, str(self.manifest), "-o", str(self.render)])
        for key in keys:
            (self.render / "secrets" / key).write_text(secrets.token_urlsafe(24))
            (self.render / "secrets" / key).chmod(0o644)

    def ours(self, kind: str) -> list[str]:
        listed = self.run(
            ["docker", kind, "ls", "-aq" if kind == "container" else "-q", "--filter", f"label=koyalite.dev/environment={ENV}"]
        )
        return listed.split()

    def empty(self) -> None:
        """No container and no volume of the environment left (the images stay)."""
        for container in self.ours("container"):
            self.run(["docker", "rm", "-f", container])
        for volume in self.ours("volume"):
            self.run(["docker", "volume", "rm", volume])

    def healthy(self) -> int:
        states = self.run(["docker", "ps", "--filter", f"label=koyalite.dev/environment={ENV}", "--format", "{{.Status}}"]).splitlines()
        if not states or any("(healthy)" not in s for s in states):
            raise SystemExit(f"not every container is healthy: {states}")
        return len(states)

    def cleanup(self) -> None:
        subprocess.run(self.koyalite("destroy", "--env", ENV, "--yes"), env=self.env, capture_output=True, check=False)
        subprocess.run(["docker", "compose", "down"], cwd=self.render, env=self.compose_env, capture_output=True, check=False)
        self.empty()
        for env in (ENV, K8S_ENV):
            (ROOT / "stacks" / f"Pulumi.{env}.yaml").unlink(missing_ok=True)


def kubernetes(bench: Bench, runs: int) -> dict[str, list[float]] | str:
    """Case 5; the reason instead when the cluster's binaries are not built."""
    cluster = _script("cluster")
    unbuilt = [c.name for c in cluster.cluster_build.COMPONENTS if not c.ready()]
    if unbuilt:
        return f"not measured: the local cluster's binaries are not built ({', '.join(unbuilt)}; make cluster-build)"
    paths = cluster.Paths(cluster.state_dir())
    already = paths.tier_file.exists() and paths.tier_file.read_text().strip() == "api"
    paths = cluster.up("api", ["fra", "iad"], 2, cluster.REGION_LABEL)
    kubectl = [str(cluster.cluster_build.binaries()["kubectl"]), f"--kubeconfig={paths.kubeconfig}"]
    env = {**bench.env, "KUBECONFIG": str(paths.kubeconfig)}
    render = bench.base / "kbench-render"
    try:
        for key in secret_keys(bench.manifest, K8S_ENV):
            bench.run(bench.koyalite("secrets", "set", key, "--env", K8S_ENV), stdin=secrets.token_urlsafe(24), env=env)
        bench.run([bench.koyalite_bin, "render", "--env", K8S_ENV, str(bench.manifest), "-o", str(render)])
        objects = [yaml.safe_load(f.read_text()) for f in sorted(render.glob("*.yaml"))]

        def gone() -> None:
            subprocess.run(bench.koyalite("destroy", "--env", K8S_ENV, "--yes"), env=env, capture_output=True, check=False)
            bench.run([*kubectl, "delete", "namespace", K8S_NAMESPACE, "--ignore-not-found", "--timeout=180s"])

        def ours() -> float:
            gone()
            return bench.timed(bench.koyalite("up", "--env", K8S_ENV, "--yes"), "to create", env=env)

        def theirs() -> float:
            gone()
            start = time.perf_counter()
            bench.run([*kubectl, "apply", "--server-side", "--field-manager=bench", "-f", str(render)])
            for wait in _waits(objects):
                bench.run([*kubectl, "wait", "-n", K8S_NAMESPACE, "--timeout=300s", *wait])
            return time.perf_counter() - start

        times = alternate(runs, {"koyalite up": ours, "kubectl apply --server-side + kubectl wait": theirs})
        gone()
        return times
    finally:
        if not already:
            cluster.down()


def _waits(objects: list[dict[str, Any]]) -> list[list[str]]:
    """`kubectl wait` arguments for the readiness Pulumi's provider awaits, object by object."""
    waits: list[list[str]] = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "Deployment":
            waits.append([f"deployment/{name}", "--for=condition=Available"])
        elif kind == "StatefulSet":
            replicas = obj["spec"].get("replicas", 1)
            waits.append([f"statefulset/{name}", f"--for=jsonpath={{.status.readyReplicas}}={replicas}"])
        elif kind == "PersistentVolumeClaim":
            waits.append([f"pvc/{name}", "--for=jsonpath={.status.phase}=Bound"])
        elif kind == "Ingress":
            waits.append([f"ingress/{name}", "--for=jsonpath={.status.loadBalancer.ingress}"])
    return waits


def secret_keys(manifest: Path, environment: str = ENV) -> list[str]:
    """The secrets the environment's workloads need (the translation's SecretSet)."""
    from provisioner import manifest as manifests
    from provisioner import plan

    doc = manifests.load(manifest)
    return plan.build(manifests.check(doc, environment), doc.base_dir).secret_keys()


def alternate(runs: int, cases: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            times[name].append(case())
    return times


def measure(bench: Bench, runs: int, first_runs: int) -> dict[str, dict[str, list[float]]]:
    compose_up = ["docker", "compose", "up", "-d", "--wait", "--wait-timeout", "600"]
    teardown: dict[str, list[float]] = {"koyalite destroy": [], "docker compose down": []}
    count: list[int] = []

    def koyalite_first() -> float:
        bench.empty()
        took = bench.timed(bench.koyalite("up", "--env", ENV, "--yes"), "to create")
        count.append(bench.healthy())
        teardown["koyalite destroy"].append(bench.timed(bench.koyalite("destroy", "--env", ENV, "--yes"), "to delete"))
        return took

    def compose_first() -> float:
        bench.empty()
        took = bench.timed(compose_up, "Healthy", bench.render, bench.compose_env)
        count.append(bench.healthy())
        teardown["docker compose down"].append(bench.timed(["docker", "compose", "down"], "Removed", bench.render, bench.compose_env))
        return took

    first = alternate(first_runs, {"koyalite up": koyalite_first, "docker compose up -d --wait": compose_first})
    if len(set(count)) != 1:
        raise SystemExit(f"the tools started different numbers of containers: {count}")
    bench.empty()
    bench.run(bench.koyalite("up", "--env", ENV, "--yes"))
    stacks = ROOT / "stacks"
    unchanged = alternate(
        runs,
        {
            "koyalite up": lambda: bench.timed(bench.koyalite("up", "--env", ENV, "--yes"), "no changes"),
            "pulumi up --yes": lambda: bench.timed(bench.pulumi, "unchanged", stacks),
            "pulumi up --yes --skip-preview": lambda: bench.timed([*bench.pulumi, "--skip-preview"], "unchanged", stacks),
        },
    )
    hello = bench.base / "functions" / "hello" / "index.ts"
    source = hello.read_text()
    edits = iter(range(10_000))

    def changed(cmd: list[str], cwd: Path, expect: str) -> Callable[[], float]:
        def case() -> float:
            hello.write_text(source + f"// bench edit {next(edits)}\n")
            took = bench.timed(cmd, expect, cwd)
            bench.healthy()
            return took

        return case

    function = alternate(
        runs,
        {
            "koyalite up": changed(bench.koyalite("up", "--env", ENV, "--yes"), bench.base, "1 to replace"),
            "pulumi up --yes": changed(bench.pulumi, stacks, "1 replaced"),
        },
    )
    found = {"first deploy": first, "teardown": teardown, "no-change update": unchanged, "one changed function": function}
    kube = kubernetes(bench, first_runs)
    if isinstance(kube, str):
        sys.stderr.write(f"bench: Kubernetes {kube}\n")
    else:
        found["Kubernetes first deploy"] = kube
    return found


def report(found: dict[str, dict[str, list[float]]], containers: int) -> list[str]:
    lines = [
        "# Deploy speed against the peers",
        "",
        "Written by bench/deploy.py (`make bench-deploy`) in one run on one machine: the reference manifest's dev",
        f"settings as environment `{ENV}` ({containers} containers, the local images), wall time, runs alternating",
        "between the tools, medians. Both tools return when every container is healthy.",
        "",
        "| case | command | runs | median | koyalite / this | target |",
        "|---|---|---|---|---|---|",
    ]
    for case, times in found.items():
        medians = {name: statistics.median(values) for name, values in times.items()}
        ours = next(iter(medians.values()))
        target = TARGETS[case]
        for i, (name, median) in enumerate(medians.items()):
            ratio = ours / median
            verdict = (
                "" if i == 0 or target is None or "skip-preview" in name else (f"≤ {target}×: {'met' if ratio <= target else 'missed'}")
            )
            lines.append(f"| {case if i == 0 else ''} | `{name}` | {len(times[name])} | {median:.2f} s | {ratio:.2f}× | {verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each update case (default 5)")
    parser.add_argument("--first-runs", type=int, default=3, help="runs of each first deploy and teardown (default 3)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "REPORT-deploy.md")
    args = parser.parse_args(argv)
    if not (toolchain_bin() / "pulumi").exists():
        raise SystemExit("no Pulumi CLI: make toolchain")
    if (ROOT / "stacks" / f"Pulumi.{ENV}.yaml").exists():
        raise SystemExit(f"stacks/Pulumi.{ENV}.yaml exists: an interrupted bench left it; remove it and run again")
    with tempfile.TemporaryDirectory(prefix="koyalite-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.setup()
            found = measure(bench, args.runs, args.first_runs)
            containers = bench.healthy()
        finally:
            bench.cleanup()
    lines = report(found, containers)
    notes = (ROOT / "bench" / "deploy-notes.md").read_text() if (ROOT / "bench" / "deploy-notes.md").exists() else ""
    args.output.write_text("\n".join(lines) + "\n" + (f"\n{notes}" if notes else ""))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
