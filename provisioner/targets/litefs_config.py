"""LiteFS's litefs.yml, shared by every target so Docker and Kubernetes nodes run the same configuration."""

from __future__ import annotations

import json

from provisioner.plan.model import LiteFS

LITEFS_CONFIG = "/etc/litefs.yml"


def litefs_config(part: LiteFS, *, primary_host: str, candidate: str) -> str:
    """litefs.yml as text.

    `primary_host` is the static primary's resolvable name. LiteFS's proxy does not forward writes off Fly.io: a
    replica answers them with a `fly-replay` header naming `lease.hostname`, so that must be the primary's name.
    `candidate` is a `${…}` expression LiteFS expands (with `==`) in the raw text before parsing; it is written
    unquoted so that it parses as a boolean. With a static lease exactly one node may be a candidate: a static
    candidate *is* a primary, and two would accept diverging writes.

    Strings are double-quoted (JSON escapes are YAML escapes), so no YAML 1.1 surprise reaches LiteFS, and the
    raw file is valid YAML before expansion too.
    """
    lease: dict[str, object] = {"type": part.lease, "candidate": _Expansion(candidate)}
    if part.lease == "static":
        lease |= {"hostname": primary_host, "advertise-url": f"http://{primary_host}:{part.api_port}"}
    else:  # consul: every node advertises itself; the lease decides among the candidates
        lease |= {
            "hostname": "${LITEFS_HOSTNAME}",
            "advertise-url": f"http://${{LITEFS_HOSTNAME}}:{part.api_port}",
            "promote": True,
            "consul": {"url": part.consul_url, "key": part.consul_key, "ttl": part.consul_ttl, "lock-delay": "1s"},
        }
    config = {
        "fuse": {"dir": part.mount_dir},
        "data": {"dir": part.data_dir},
        "http": {"addr": f":{part.api_port}"},
        "proxy": {"addr": f":{part.proxy_port}", "target": f"localhost:{part.gateway_port}", "db": part.database},
        "lease": lease,
        "exec": [{"cmd": f"koyalite-db --listen :{part.gateway_port} --db {part.mount_dir}/{part.database}"}],
    }
    return "\n".join(_block(config)) + "\n"


class _Expansion(str):
    """A `${…}` written bare."""

    __slots__ = ()


def _block(document: dict[str, object], depth: int = 0) -> list[str]:
    """Block YAML, keys in the given order; scalars as JSON (valid YAML), expansions bare."""
    pad = "  " * depth
    lines: list[str] = []
    for key, value in document.items():
        if isinstance(value, dict):
            lines += [f"{pad}{key}:", *_block(value, depth + 1)]
        elif isinstance(value, list):
            lines.append(f"{pad}{key}:")
            for item in value:
                first, *rest = _block(item, depth + 2)
                lines += [f"{pad}  - {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}{key}: {value if isinstance(value, _Expansion) else json.dumps(value)}")
    return lines
