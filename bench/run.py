"""Benchmarks, reported as ratios measured in one run (never timed assertions): writes a markdown report.

Floors: a bare `python -c pass` for CLI start-up; the YAML dumper alone serialising the same objects for render.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402

from provisioner.plan import Plan  # noqa: E402


def wall(cmd: list[str], runs: int, cwd: Path) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median seconds, peak MiB of the last run) of an in-process call."""
    times = []
    for _ in range(runs - 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak


def _render(built: Plan) -> str:
    """The whole render path: translate, then print."""
    from provisioner.render import kubernetes as render_k8s
    from provisioner.targets import kubernetes

    return render_k8s.stream(kubernetes.objects(built))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=None, help="write the markdown report here (stdout otherwise)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from provisioner import manifest, plan
    from provisioner.render.dump import dumps_all
    from provisioner.targets import kubernetes

    koyalite = [str(Path(sys.executable).with_name("koyalite"))]
    lines = [
        "# Benchmarks",
        "",
        f"Python {platform.python_version()} on {platform.machine()}, {args.runs} runs each, medians; "
        "every figure is a ratio against a floor measured in the same run.",
        "",
    ]

    # CLI start-up: validate the reference manifest vs a bare interpreter
    bare = wall([sys.executable, "-c", "pass"], args.runs, ROOT)
    cli = wall([*koyalite, "validate", "koyalite.yaml"], args.runs, ROOT)
    lines += [
        "## CLI",
        "",
        "| command | wall | ratio to `python -c pass` |",
        "|---|---|---|",
        f"| `python -c pass` | {bare * 1000:.0f} ms | 1.0 |",
        f"| `koyalite validate koyalite.yaml` (3 environments) | {cli * 1000:.0f} ms | {cli / bare:.1f} |",
        "",
    ]

    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "reference prod": (ROOT / "koyalite.yaml", "prod"),
            "1,000 functions, 500 cron, 1,000 webhooks": (
                generate.write(Path(tmp) / "large", functions=1000, cron=500, webhooks=1000),
                "prod",
            ),
            "10 regions, 100 volume servers": (generate.write(Path(tmp) / "regions", functions=10, regions=10, volume_servers=100), "prod"),
        }
        lines += [
            "## Validate, plan, render",
            "",
            "| manifest | validate | plan | render (kubernetes) | YAML dump floor | render / floor | objects | peak MiB (render) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, (path, env) in cases.items():
            doc = manifest.load(path)
            validate_s, _ = timed(partial(manifest.check, doc, env), args.runs)
            checked = manifest.check(doc, env)
            plan_s, _ = timed(partial(plan.build, checked, path.parent), args.runs)
            built = plan.build(checked, path.parent)
            objects = kubernetes.objects(built)
            render_s, peak = timed(partial(_render, built), args.runs)
            floor_s, _ = timed(partial(dumps_all, objects), args.runs)
            lines.append(
                f"| {label} | {validate_s * 1000:.0f} ms | {plan_s * 1000:.0f} ms | {render_s * 1000:.0f} ms | "
                f"{floor_s * 1000:.0f} ms | {render_s / floor_s:.2f} | {len(objects)} | {peak:.1f} |"
            )
        lines.append("")
        large = cases["1,000 functions, 500 cron, 1,000 webhooks"][0]
        cli_large = wall([*koyalite, "validate", str(large)], max(2, args.runs // 2), ROOT)
        lines += [
            f"`koyalite validate` of the 1,000-function manifest, whole CLI: {cli_large * 1000:.0f} ms "
            f"({cli_large / bare:.1f}x `python -c pass`).",
            "",
        ]

    report = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    sys.stdout.write(report)


if __name__ == "__main__":
    main()
