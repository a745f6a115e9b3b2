"""Generate large manifests along the axes users scale: functions, cron jobs, webhooks, regions, volume servers."""

from __future__ import annotations

from pathlib import Path

import yaml

FUNCTION = "export default { fetch(_r: Request): Response { return Response.json({ ok: true }); } };\n"


def manifest(functions: int = 10, cron: int = 0, webhooks: int = 0, regions: int = 1, volume_servers: int = 1) -> dict[str, object]:
    """A valid manifest with the given sizes and one kubernetes environment `prod`."""
    region_names = [f"r{i}" for i in range(regions)]
    return {
        "apiVersion": "koyalite.dev/v1",
        "project": {"name": "bench", "domain": "bench.example.com", "regions": region_names, "release": "1.4.0"},
        "limits": {"max_functions": max(functions, 1), "max_cron_jobs": max(cron, 1), "max_webhooks": max(webhooks, 1)},
        "database": {"replicas": dict.fromkeys(region_names[1:], 1)},
        "storage": {"volume_servers": volume_servers, "replication": "000", "volume": "10Gi"},
        "functions": {
            "items": [{"name": f"fn-{i}", "entrypoint": f"functions/fn-{i}/index.ts", "routes": [f"/fn-{i}"]} for i in range(functions)]
        },
        "cron": [{"name": f"job-{i}", "schedule": f"{i % 60} * * * *", "function": f"fn-{i % max(functions, 1)}"} for i in range(cron)],
        "webhooks": [
            {"name": f"hook-{i}", "events": ["auth.user.created"], "url": f"https://hooks.example.com/{i}", "secret": "webhook_key"}
            for i in range(webhooks)
        ],
        "environments": {"prod": {"target": "kubernetes", "kubernetes": {"ingress": {"class": "nginx"}}}},
    }


def write(directory: Path, **sizes: int) -> Path:
    """Write the manifest and its function sources into `directory`; returns the manifest path."""
    data = manifest(**sizes)
    for fn in data["functions"]["items"]:  # type: ignore[index]
        path = directory / fn["entrypoint"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FUNCTION, encoding="utf-8")
    target = directory / "koyalite.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target
