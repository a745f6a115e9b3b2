"""Docker render: the target's objects as a compose.yaml folder (compose file, config files, secret slots)."""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from provisioner.render.dump import dumps
from provisioner.targets.nats_config import APPLY_DIR, APPLY_SCRIPT

SECRETS_DIR = "secrets"
FILES_DIR = "files"


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def _file_name(file: dict[str, str]) -> str:
    digest = hashlib.sha256(file["content"].encode()).hexdigest()[:12]
    return f"{FILES_DIR}/{digest}-{posixpath.basename(file['path'])}"


def _service(c: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = {
        "container_name": c["name"],
        "image": c["image"],
        "restart": c["restart"],
        "labels": c["labels"],
        "networks": {c["network"]: {"aliases": c["aliases"]} if c["aliases"] else {}},
    }
    if c["command"]:
        service["command"] = c["command"]
    if c["env"]:
        service["environment"] = c["env"]
    if c["secrets"]:
        service["secrets"] = [{"source": s["secret"], "target": posixpath.basename(s["target"])} for s in c["secrets"]]
    mounts = [{"type": "volume", "source": v["volume"], "target": v["target"]} for v in c["volumes"]]
    mounts += [{"type": "bind", "source": f"./{_file_name(f)}", "target": f["path"], "read_only": True} for f in c["files"]]
    if mounts:
        service["volumes"] = mounts
    if c["healthcheck"]:
        h = c["healthcheck"]
        service["healthcheck"] = {
            "test": h["test"],
            "interval": _duration(h["interval_s"]),
            "timeout": _duration(h["timeout_s"]),
            "retries": h["retries"],
            "start_period": _duration(h["start_period_s"]),
        }
    if c["depends_on"]:
        service["depends_on"] = {d: {"condition": "service_healthy"} for d in c["depends_on"]}
    if c["ports"]:
        service["ports"] = [f"{p['host_ip']}:{p['host']}:{p['container']}" for p in c["ports"]]
    for key, compose_key in (
        ("memory", "mem_limit"),
        ("memory_reservation", "mem_reservation"),
        ("cpus", "cpus"),
        ("cpu_shares", "cpu_shares"),
        ("user", "user"),
        ("read_only", "read_only"),
        ("cap_drop", "cap_drop"),
        ("cap_add", "cap_add"),
        ("devices", "devices"),
        ("security_opt", "security_opt"),
        ("tmpfs", "tmpfs"),
    ):
        if c.get(key) not in (None, [], ""):
            service[compose_key] = c[key]
    return service


def _streams_service(bus: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A one-shot service that declares the bus's streams and consumers once the server is healthy: compose's stand-in
    for the Stream and Consumer resources `koyalite up` creates (render.files writes the JSON it reads)."""
    first = items[0]
    return {
        "container_name": f"{bus}-streams",
        "image": first["image"],
        "restart": "no",
        "labels": first["labels"],
        "networks": {first["network"]: {}},
        "command": ["sh", f"{APPLY_DIR}/apply.sh"],
        "environment": {
            "NATS_URL": first["url"],
            "NATS_USER": first["user"],
            "NATS_PASSWORD_FILE": f"/run/secrets/{first['password_secret']}",
        },
        "secrets": [{"source": first["password_secret"], "target": first["password_secret"]}],
        "volumes": [
            {"type": "bind", "source": f"./{FILES_DIR}/{bus}-streams", "target": APPLY_DIR, "read_only": True},
        ],
        "depends_on": {bus: {"condition": "service_healthy"}},
        "user": "10001:10001",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
    }


def _apply_files(items: list[dict[str, Any]]) -> dict[str, str]:
    """The one-shot service's folder: its script and one JSON configuration per stream and consumer."""
    from provisioner.targets.json_file import json_file

    out: dict[str, str] = {}
    for obj in items:
        folder = f"{FILES_DIR}/{obj['bus']}-streams"
        out[f"{folder}/apply.sh"] = APPLY_SCRIPT
        if obj["kind"] == "Stream":
            out[f"{folder}/streams/{obj['name']}.json"] = json_file(obj["config"])
        else:
            out[f"{folder}/consumers/{obj['stream']}/{obj['name']}.json"] = json_file(obj["config"])
    return out


def compose(objects: list[dict[str, Any]], project: str) -> dict[str, Any]:
    """The compose document (Compose Specification, as `docker compose` v2 and later read it).

    One service per container, named as `koyalite up` names the container, so both tools manage the same
    containers; start order through `depends_on: {condition: service_healthy}`, so `docker compose up --wait`
    returns when every container is healthy."""
    doc: dict[str, Any] = {"name": project, "services": {}, "networks": {}, "volumes": {}, "secrets": {}}
    for obj in objects:
        kind = obj["kind"]
        if kind == "Container":
            doc["services"][obj["name"]] = _service(obj)
        elif kind == "Network":
            doc["networks"][obj["name"]] = {"name": obj["name"], "driver": obj["driver"], "labels": obj["labels"]}
        elif kind == "Volume":
            doc["volumes"][obj["name"]] = {"name": obj["name"], "labels": obj["labels"]}
        elif kind == "SecretSet":
            doc["secrets"] = {key: {"file": f"./{SECRETS_DIR}/{key}"} for key in obj["keys"]}
        elif kind in ("Stream", "Consumer"):
            continue  # gathered below into one one-shot service per bus
        else:
            raise ValueError(f"compose render has no place for a {kind}")
    buses: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if obj["kind"] in ("Stream", "Consumer"):
            buses.setdefault(obj["bus"], []).append(obj)
    for bus, items in buses.items():
        for service in doc["services"].values():  # who waits for the bus waits for its streams too
            if bus in service.get("depends_on", {}):
                service["depends_on"][f"{bus}-streams"] = {"condition": "service_completed_successfully"}
        doc["services"][f"{bus}-streams"] = _streams_service(bus, items)
    return {k: v for k, v in doc.items() if v or k == "services"}


def files(objects: list[dict[str, Any]], project: str) -> dict[str, str]:
    """compose.yaml, every config file it mounts, and a README for the secret files the user provides."""
    out = {"compose.yaml": dumps(compose(objects, project)), ".env": f"COMPOSE_PROJECT_NAME={project}\n"}
    for obj in objects:
        for file in obj.get("files", []):
            out[_file_name(file)] = file["content"]
    out |= _apply_files([o for o in objects if o["kind"] in ("Stream", "Consumer")])
    keys: list[str] = next((o["keys"] for o in objects if o["kind"] == "SecretSet"), [])
    if keys:
        out[f"{SECRETS_DIR}/README"] = (
            "Put each secret's value in a file of its name here before `docker compose up`:\n"
            + "".join(f"  {k}\n" for k in keys)
            + "koyalite never writes secret values into a render.\n"
        )
    return dict(sorted(out.items()))
