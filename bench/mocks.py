"""The Pulumi program under mocks vs its floors, one fresh process per run (a real `pulumi up` is one, too).

    python bench/mocks.py MANIFEST ENV MODE     prints one JSON line: seconds, registrations, peak RSS

Modes register the same translated objects three ways, under the same mocks (pulumi.runtime.set_mocks, as in
tests/test_components.py):

- `raw`: each object as a bare `pulumi.CustomResource` of its Kubernetes type token, flat: the SDK's floor;
- `typed`: each object as its typed pulumi_kubernetes class, flat: what any pulumi-kubernetes program pays;
- `program`: stacks/__main__.py itself: load, check, plan and translate the manifest, then the platform, its
  provider and one component per plan part, with options, dependencies and secrets.

Imports (pulumi, pulumi_kubernetes, components) happen before the clock starts in every mode, and are reported apart.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "stacks" / "__main__.py"
MODES = ("raw", "typed", "program")


def main(argv: list[str]) -> int:
    manifest_path, env, mode = Path(argv[0]).resolve(), argv[1], argv[2]
    if mode not in MODES:
        raise SystemExit(f"mode is one of {', '.join(MODES)}")
    sys.path.insert(0, str(ROOT))
    os.environ.pop("KOYALITE_MANIFEST", None)  # the program reads koyalite:manifest from the config set below
    import measure

    started = time.perf_counter()
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    import components  # noqa: F401 - pulumi_kubernetes and the components, imported in every mode alike
    from components.kubernetes.objects import arguments, kind_of, logical_name
    from provisioner import manifest
    from provisioner import plan as planner
    from provisioner.plan.model import SecretSet
    from provisioner.targets.kubernetes import translate

    imports = time.perf_counter() - started

    class Echo(pulumi.runtime.Mocks):
        """Every resource's state is its inputs."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    class Counting(MockMonitor):
        registrations = 0

        def RegisterResource(self, request: Any) -> Any:
            if request.type != "pulumi:pulumi:Stack":
                Counting.registrations += 1
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    # what the floors register: the program's own objects, translated before the clock starts
    compiling = time.process_time()
    built = planner.build(manifest.check(manifest.load(manifest_path), env), manifest_path.parent)
    objects = [obj for bundle in translate(built) for obj in bundle.objects]
    compiled = time.process_time() - compiling  # what the program also does first (load_plan, translate)
    keys = sorted({key for part in built.of(SecretSet) for key in part.keys})

    def token(obj: dict[str, Any]) -> str:
        group = "core/v1" if obj["apiVersion"] == "v1" else obj["apiVersion"]
        return f"kubernetes:{group}:{obj['kind']}"

    def raw() -> None:
        for obj in objects:
            pulumi.CustomResource(token(obj), logical_name(obj), dict(obj))

    def typed() -> None:
        for obj in objects:
            kind_of(obj).resource(logical_name(obj), **arguments(obj))

    def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")

    body = {"raw": raw, "typed": typed, "program": program}[mode]
    secrets = {f"koyalite:{key}": f"bench-{key}-value" for key in keys}
    pulumi.runtime.set_all_config({"koyalite:manifest": str(manifest_path), **secrets}, list(secrets))
    pulumi.runtime.reset_options(project="koyalite", stack=env)
    pulumi.runtime.set_mocks(Echo(), project="koyalite", stack=env, preview=False, monitor=Counting(Echo()))
    base = measure.rss_mib()
    resettable = measure.reset_peak_rss()
    sample = measure.call(lambda: pulumi.runtime.test(body)())  # type: ignore[no-untyped-call]
    peak = measure.peak_rss_mib() if resettable else None
    out = {
        "mode": mode,
        "wall": sample.wall,
        "cpu": sample.cpu,
        "imports": imports,
        "compile": compiled,
        "objects": len(objects),
        "registrations": Counting.registrations,
        "base_mib": base,
        "peak_mib": peak - base if peak is not None and base is not None else None,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
