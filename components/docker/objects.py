"""Docker object dicts -> pulumi_docker arguments. The data-keeping policy for Docker lives here and only here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_docker as docker

from components.errors import ComponentError

Obj = dict[str, Any]

SECRET_MODE = 0o400


def logical_name(obj: Obj) -> str:
    """Stable across runs: kind and name only (a rename is a replacement)."""
    return f"{obj['kind'].lower()}-{obj['name']}"


def _labels(labels: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]


def volume_options(protect: bool, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Named volumes hold the data: kept on destroy and replacement everywhere, protected where the plan says."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=True, protect=protect)


def network_args(obj: Obj) -> dict[str, Any]:
    return {
        "name": obj["name"],
        "driver": obj["driver"],
        "labels": [docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(obj["labels"].items())],
    }


def volume_args(obj: Obj) -> dict[str, Any]:
    return {"name": obj["name"], "labels": [docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(obj["labels"].items())]}


def _seconds(value: int) -> str:
    return f"{value}s"


def container_args(
    obj: Obj, image: pulumi.Input[str], network: pulumi.Input[str], secrets: Mapping[str, pulumi.Output[str]] | None
) -> dict[str, Any]:
    """Arguments of one docker.Container. Files and secrets are uploaded before the container starts; secret
    contents stay Pulumi secrets (encrypted in state, never in `docker inspect`)."""
    uploads = [docker.ContainerUploadArgs(file=f["path"], content=f["content"]) for f in obj["files"]]
    for mount in obj["secrets"]:
        if secrets is None or mount["secret"] not in secrets:
            raise ComponentError(
                f"container `{obj['name']}` needs secret `{mount['secret']}`, which has no value",
                "set it with `koyalite secrets set NAME --env ENV`",
            )
        owner = obj.get("user", "0:0").split(":")
        uploads.append(
            docker.ContainerUploadArgs(
                file=mount["target"],
                content=secrets[mount["secret"]],
                owner=owner[0],
                group=owner[1],
                permissions=oct(SECRET_MODE)[2:].rjust(4, "0"),
            )
        )
    health = obj["healthcheck"]
    args: dict[str, Any] = {
        "name": obj["name"],
        "image": image,
        "command": obj["command"] or None,
        "envs": [f"{k}={v}" for k, v in obj["env"].items()],
        "labels": _labels(obj["labels"]),
        "networks_advanced": [docker.ContainerNetworksAdvancedArgs(name=network, aliases=obj["aliases"] or None)],
        "volumes": [docker.ContainerVolumeArgs(volume_name=v["volume"], container_path=v["target"]) for v in obj["volumes"]],
        "uploads": uploads or None,
        "restart": obj["restart"],
        "must_run": True,
        # wait for the health check before dependants are created: start order by health, as compose's service_healthy
        "wait": health is not None,
        "wait_timeout": 180,
        # named volumes are separate resources and outlive the container; never let a container take them along
        "remove_volumes": False,
        "ports": [docker.ContainerPortArgs(internal=p["container"], external=p["host"], ip=p["host_ip"]) for p in obj["ports"]] or None,
        "user": obj.get("user"),
        "security_opts": obj.get("security_opt"),
        "tmpfs": dict.fromkeys(obj.get("tmpfs", []), "") or None,
        "devices": [docker.ContainerDeviceArgs(host_path=d, container_path=d) for d in obj.get("devices", [])] or None,
        "capabilities": docker.ContainerCapabilitiesArgs(adds=obj.get("cap_add"), drops=obj.get("cap_drop"))
        if obj.get("cap_add") or obj.get("cap_drop")
        else None,
        "memory": obj["memory"] // 2**20 if obj.get("memory") else None,
        "memory_reservation": obj["memory_reservation"] // 2**20 if obj.get("memory_reservation") else None,
        "cpus": str(obj["cpus"]) if obj.get("cpus") else None,
        "cpu_shares": obj.get("cpu_shares"),
    }
    if health is not None:
        args["healthcheck"] = docker.ContainerHealthcheckArgs(
            tests=health["test"],
            interval=_seconds(health["interval_s"]),
            timeout=_seconds(health["timeout_s"]),
            retries=health["retries"],
            start_period=_seconds(health["start_period_s"]),
        )
    return {k: v for k, v in args.items() if v is not None}


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
