"""Docker object dicts -> the engine resources' inputs. The data-keeping policy for Docker lives here and only here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.errors import ComponentError

Obj = dict[str, Any]

SECRET_MODE = 0o400


def logical_name(obj: Obj) -> str:
    """Stable across runs: kind and name only (a rename is a replacement)."""
    return f"{obj['kind'].lower()}-{obj['name']}"


def volume_options(protect: bool, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Named volumes hold the data: kept on destroy and replacement everywhere, protected where the plan says."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=True, protect=protect)


def network_props(obj: Obj, host: str) -> dict[str, Any]:
    return {"host": host, "name": obj["name"], "driver": obj["driver"], "labels": dict(sorted(obj["labels"].items()))}


def volume_props(obj: Obj, host: str) -> dict[str, Any]:
    return {"host": host, "name": obj["name"], "driver": "local", "labels": dict(sorted(obj["labels"].items()))}


def container_props(
    obj: Obj,
    image: pulumi.Input[str],
    network: pulumi.Input[str],
    secrets: Mapping[str, pulumi.Output[str]] | None,
    host: str,
    awaited: bool = True,
) -> dict[str, Any]:
    """Inputs of one engine Container. Files and secrets are copied in before the container starts; secret
    contents stay Pulumi secrets (encrypted in state, never in `docker inspect`). `awaited`: another container
    depends on this one, so its create returns once it is healthy (the rest are awaited together: engine.Health)."""
    uploads: list[Any] = [
        {"file": f["path"], "content": f["content"], "owner": "0", "group": "0", "permissions": "0644"} for f in obj["files"]
    ]
    owner, group = obj.get("user", "0:0").split(":")
    for mount in obj["secrets"]:
        if secrets is None or mount["secret"] not in secrets:
            raise ComponentError(
                f"container `{obj['name']}` needs secret `{mount['secret']}`, which has no value",
                "set it with `koyalite secrets set NAME --env ENV`",
            )
        uploads.append(
            {
                "file": mount["target"],
                "content": secrets[mount["secret"]],
                "owner": owner,
                "group": group,
                "permissions": f"{SECRET_MODE:04o}",
            }
        )
    health = obj["healthcheck"]
    return {
        "host": host,
        "name": obj["name"],
        "image": image,
        "command": list(obj["command"]),
        "env": dict(obj["env"]),
        "labels": dict(sorted(obj["labels"].items())),
        "network": network,
        "aliases": list(obj["aliases"]),
        "volumes": [{"volume": v["volume"], "target": v["target"]} for v in obj["volumes"]],
        "uploads": uploads,
        "restart": obj["restart"],
        "ports": [{"container": p["container"], "host": p["host"], "host_ip": p["host_ip"]} for p in obj["ports"]],
        "user": obj.get("user"),
        "security_opt": obj.get("security_opt", []),
        "tmpfs": obj.get("tmpfs", []),
        "devices": obj.get("devices", []),
        "cap_add": obj.get("cap_add", []),
        "cap_drop": obj.get("cap_drop", []),
        "memory": obj.get("memory"),
        "memory_reservation": obj.get("memory_reservation"),
        "cpus": obj.get("cpus"),
        "cpu_shares": obj.get("cpu_shares"),
        "healthcheck": health,
        # wait for the health check before dependants are created: start order by health, as compose's service_healthy
        "wait": health is not None and awaited,
        "wait_timeout": 180,
    }


def start_order(names: Sequence[str], needs: Mapping[str, Sequence[str]]) -> list[str]:
    """`names` ordered so that each comes after what it needs (stable otherwise); a cycle is an error."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ComponentError(f"containers depend on each other in a cycle through `{name}`", "the Docker translation must not loop")
        visiting.add(name)
        for need in needs.get(name, ()):
            if need in names:
                visit(need)
        visiting.discard(name)
        done.append(name)

    for name in names:
        visit(name)
    return done


def secret_keys(objects: Sequence[Obj]) -> list[str]:
    return sorted({k for o in objects if o["kind"] == "SecretSet" for k in o["keys"]})
