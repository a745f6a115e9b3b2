"""LiteFS's litefs.yml, shared by every target so Docker and Kubernetes nodes run the same configuration."""

from __future__ import annotations

import json

from provisioner.plan.model import LiteFS

LITEFS_CONFIG = "/etc/litefs.yml"
_CANDIDATE = "${LITEFS_CANDIDATE}"


def litefs_config(part: LiteFS) -> str:
    """litefs.yml as text. Per-node values (candidate, advertise URL) come from environment variables that LiteFS
    expands when it reads the file, so every node of a set shares one file.

    Written as JSON, which is YAML: one less dumper, and no YAML 1.1 surprises in what LiteFS reads.
    """
    lease: dict[str, object] = {"type": part.lease, "candidate": _CANDIDATE}
    if part.lease == "consul":
        lease.update(
            {
                "advertise-url": "${LITEFS_ADVERTISE_URL}",
                "promote": True,
                "consul": {"url": part.consul_url, "key": part.consul_key, "ttl": part.consul_ttl, "lock-delay": "1s"},
            }
        )
    else:
        lease["advertise-url"] = "${LITEFS_PRIMARY_URL}"
    config = {
        "fuse": {"dir": part.mount_dir},
        "data": {"dir": part.data_dir},
        "exit-on-error": False,
        "http": {"addr": f":{part.api_port}"},
        "proxy": {"addr": f":{part.proxy_port}", "target": f"localhost:{part.gateway_port}", "db": part.database},
        "lease": lease,
        "exec": [{"cmd": f"koyalite-db --listen :{part.gateway_port} --db {part.mount_dir}/{part.database}"}],
    }
    # LiteFS expands ${VAR} in the raw text before parsing: leave the candidate unquoted so it parses as a boolean.
    return json.dumps(config, indent=2, sort_keys=True).replace(f'"{_CANDIDATE}"', _CANDIDATE) + "\n"
