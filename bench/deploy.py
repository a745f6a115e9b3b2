"""The data-loss guard's cost: a no-change `koyalite up --env dev` against plain `pulumi up -s dev` of the same stack.

Needs the deployed dev stack of the reference manifest (`make up`), the toolchain and the Docker daemon, so it is
not part of `make bench`: `make bench-deploy` writes bench/REPORT-deploy.md. Runs alternate (koyalite, pulumi with its
own preview, pulumi --skip-preview), wall time, medians; every run must report no changes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.deploy.settings import resolve, toolchain_bin  # noqa: E402


def timed(cmd: list[str], cwd: Path, env: dict[str, str], unchanged: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    out = result.stdout + result.stderr
    if result.returncode != 0 or unchanged not in out:
        raise SystemExit(f"{' '.join(cmd)} did not finish with no changes (deploy dev first: make up):\n{out[-2000:]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "REPORT-deploy.md")
    args = parser.parse_args(argv)
    if not (toolchain_bin() / "pulumi").exists():
        raise SystemExit("no Pulumi CLI: make toolchain")
    manifest = ROOT / "koyalite.yaml"
    # the environment `koyalite up` gives the engine: the same backend, passphrase and offline settings
    env = {**os.environ, **resolve("dev", manifest).env}
    koyalite = [str(Path(sys.executable).parent / "koyalite"), "up", "--env", "dev", "--yes", str(manifest)]
    pulumi = [str(toolchain_bin() / "pulumi"), "up", "--yes", "-s", "dev", "--non-interactive"]
    cases = {
        "koyalite up --env dev --yes (guard preview, then the update)": (koyalite, ROOT, "no changes"),
        "pulumi up --yes -s dev (its own preview, then the update)": (pulumi, ROOT / "stacks", "unchanged"),
        "pulumi up --yes -s dev --skip-preview (the update alone)": ([*pulumi, "--skip-preview"], ROOT / "stacks", "unchanged"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (cmd, cwd, unchanged) in cases.items():
            times[name].append(timed(cmd, cwd, env, unchanged))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians[next(iter(cases))]
    lines = [
        "# The guard's cost: a no-change deploy of dev",
        "",
        f"Written by bench/deploy.py (`make bench-deploy`) on the deployed dev stack of koyalite.yaml: {args.runs} alternating",
        "runs each, wall time, medians. Every run reported no changes (50 resources).",
        "",
        "| command | median | koyalite / this |",
        "|---|---|---|",
        *(f"| `{name.split(' (')[0]}` ({name.split(' (')[1]} | {m:.2f} s | {ours / m:.2f}× |" for name, m in medians.items()),
        "",
        "`koyalite up` validates and plans the manifest, runs a full preview for the data-loss guard, then the update",
        "with `--skip-preview` semantics (the Automation API's `up`); plain `pulumi up` previews once and updates. The",
        "difference is the guard's preview plus the CLI's own start-up and stack selection.",
    ]
    args.output.write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
