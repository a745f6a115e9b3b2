"""The Docker Engine as Pulumi resources: networks, volumes, image references and containers (pulumi.dynamic).

Why a provider of our own: pulumi-docker's plugin is a Go build of the Terraform bridge around
kreuzwerker/terraform-provider-docker, and the Go module proxy our machines reach serves neither module at any
version, so no `pulumi-resource-docker` can be built here (scripts/toolchain.py says so when asked). These
resources run inside the real Pulumi engine — state, previews, diffs, `protect`, `retain_on_delete` — and talk to
the daemon through its HTTP API (the `docker` SDK), with the same four resource kinds the translation emits.

What each diff means is decided here, once:
- a network, a volume or a container whose inputs change is replaced (Docker cannot change them in place); the
  data-loss guard refuses a volume's replacement before the engine runs;
- an image reference is re-read on every preview: a rebuilt image changes its id, which replaces the containers
  that run it;
- creating a volume that already exists adopts it: that is how `up` after `destroy` finds the data again.

Secrets arrive as Pulumi secrets in `uploads` and are copied into the container's filesystem before it starts
(never into its environment, so `docker inspect` does not show them); the state keeps them encrypted.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container as DockerContainer

IMAGE_HINT = "build the local images first: `.venv/bin/python images/build.py` (or `make images`)"


class EngineError(Exception):
    """The daemon refused or failed an operation; the message names the object and says what to do."""


def client(host: str) -> DockerClient:
    import docker

    try:
        return docker.DockerClient(base_url=host, timeout=120)
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot reach the Docker daemon at {host}: {exc} (start it: `bash scripts/host.sh`)") from None


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return [k for k in keys if olds.get(k) != news.get(k)]


class _Provider(ResourceProvider):
    """Shared by the four kinds: every input but `host` is part of the object and replaces it when it changes."""

    KEYS: ClassVar[tuple[str, ...]]
    serialize_as_secret_always = False  # the provider itself holds no secret; inputs that are secrets stay secret

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _changed(olds, news, self.KEYS)
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)


class NetworkProvider(_Provider):
    KEYS = ("name", "driver", "labels")

    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker

        engine = client(props["host"])
        try:
            found = engine.networks.get(props["name"])
        except docker.errors.NotFound:
            found = engine.networks.create(props["name"], driver=props["driver"], labels=props["labels"], check_duplicate=True)
        return CreateResult(str(found.id), {**props, "network_id": found.id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker

        try:
            client(props["host"]).networks.get(id_)
        except docker.errors.NotFound:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            client(props["host"]).networks.get(id_).remove()


class VolumeProvider(_Provider):
    KEYS = ("name", "driver", "labels")

    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker

        engine = client(props["host"])
        try:
            found = engine.volumes.get(props["name"])  # retained by an earlier destroy: adopt it, data and all
        except docker.errors.NotFound:
            found = engine.volumes.create(props["name"], driver=props["driver"], labels=props["labels"])
        return CreateResult(found.name, {**props, "mountpoint": found.attrs.get("Mountpoint", "")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker

        try:
            client(props["host"]).volumes.get(id_)
        except docker.errors.NotFound:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Reached only when a user removes retain_on_delete by hand: the guard refuses it in `koyalite up`.
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            client(props["host"]).volumes.get(id_).remove()


class ImageProvider(ResourceProvider):
    """A reference to an image already on the daemon (built locally; nothing is pulled). Never removes it."""

    serialize_as_secret_always = False

    @staticmethod
    def lookup(host: str, name: str) -> str:
        import docker

        try:
            found = str(client(host).images.get(name).id)
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {name} is not on the Docker daemon at {host}; {IMAGE_HINT}") from None
        return found

    def create(self, props: dict[str, Any]) -> CreateResult:
        image_id = self.lookup(props["host"], props["name"])
        return CreateResult(image_id, {**props, "image_id": image_id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("name") != news.get("name"):
            return DiffResult(changes=True, replaces=["name"], delete_before_replace=False)
        return DiffResult(changes=self.lookup(news["host"], news["name"]) != olds.get("image_id"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "image_id": self.lookup(news["host"], news["name"])})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "image_id": self.lookup(props["host"], props["name"])})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # a destroy never removes images: they are inputs, built outside the stack


class ContainerProvider(_Provider):
    KEYS = (
        "name",
        "image",
        "command",
        "env",
        "labels",
        "network",
        "aliases",
        "volumes",
        "uploads",
        "restart",
        "ports",
        "user",
        "security_opt",
        "tmpfs",
        "devices",
        "cap_add",
        "cap_drop",
        "memory",
        "memory_reservation",
        "cpus",
        "cpu_shares",
        "healthcheck",
    )

    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker

        engine = client(props["host"])
        with contextlib.suppress(docker.errors.NotFound):
            remove_leftover(engine.containers.get(props["name"]), props["labels"])
        try:
            container = engine.containers.create(**container_spec(props, engine))
        except docker.errors.APIError as exc:
            raise EngineError(f"container {props['name']}: the daemon refused it: {exc.explanation or exc}") from None
        try:
            if props["uploads"]:
                container.put_archive("/", archive(props["uploads"]))
            container.start()
            if props.get("wait"):
                wait_healthy([container], float(props.get("wait_timeout", 180)))
        except BaseException:
            container.remove(force=True, v=False)
            raise
        return CreateResult(str(container.id), {**props, "container_id": container.id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker

        try:
            client(props["host"]).containers.get(id_)
        except docker.errors.NotFound:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        import docker

        try:
            container = client(props["host"]).containers.get(id_)
        except docker.errors.NotFound:
            return
        container.stop(timeout=20)
        container.remove(v=False)  # named volumes are resources of their own and outlive every container


OWNER_LABELS = ("koyalite.dev/project", "koyalite.dev/environment")


def remove_leftover(found: DockerContainer, labels: Mapping[str, str]) -> None:
    """A container of this name from the same project and environment (an interrupted create, or the compose render
    of the same environment) gives way; anyone else's is left alone and stops the create."""
    theirs = found.labels or {}
    if any(theirs.get(k) != labels.get(k) for k in OWNER_LABELS):
        raise EngineError(
            f"a container named {found.name} exists and belongs to no KoyaLite environment of this name "
            f"({', '.join(f'{k}={theirs.get(k)}' for k in OWNER_LABELS)}); remove or rename it first"
        )
    found.remove(force=True, v=False)  # never its volumes


def _int(value: Any) -> int | None:
    """Numbers come back from Pulumi's wire format as floats; the daemon wants integers."""
    return int(value) if value else None


def container_spec(props: Mapping[str, Any], engine: DockerClient) -> dict[str, Any]:
    """Keyword arguments of `containers.create` for one translated container."""
    from docker.types import EndpointConfig, Healthcheck, Mount

    health = props.get("healthcheck")
    nanos = 1_000_000_000
    spec: dict[str, Any] = {
        "image": props["image"],
        "command": props.get("command") or None,
        "name": props["name"],
        "environment": [f"{k}={v}" for k, v in sorted(props["env"].items())],
        "labels": dict(props["labels"]),
        "restart_policy": {"Name": props["restart"]} if props.get("restart") and props["restart"] != "no" else None,
        "mounts": [Mount(target=v["target"], source=v["volume"], type="volume") for v in props["volumes"]],
        "ports": {f"{int(p['container'])}/tcp": (p["host_ip"], int(p["host"])) for p in props["ports"]} or None,
        "user": props.get("user") or None,
        "security_opt": props.get("security_opt") or None,
        "tmpfs": dict.fromkeys(props.get("tmpfs") or [], "") or None,
        "devices": [f"{d}:{d}:rwm" for d in props.get("devices") or []] or None,
        "cap_add": props.get("cap_add") or None,
        "cap_drop": props.get("cap_drop") or None,
        "mem_limit": _int(props.get("memory")),
        "mem_reservation": _int(props.get("memory_reservation")),
        "nano_cpus": int(float(props["cpus"]) * nanos) if props.get("cpus") else None,
        "cpu_shares": _int(props.get("cpu_shares")),
        "networking_config": {props["network"]: EndpointConfig(engine.api.api_version, aliases=props.get("aliases") or None)},
        "network": props["network"],
        "healthcheck": Healthcheck(
            test=health["test"],
            interval=int(health["interval_s"] * nanos),
            timeout=int(health["timeout_s"] * nanos),
            retries=int(health["retries"]),
            start_period=int(health["start_period_s"] * nanos),
        )
        if health
        else None,
    }
    return {k: v for k, v in spec.items() if v is not None}


def archive(uploads: Sequence[Mapping[str, Any]]) -> bytes:
    """One tar of every file, with its owner and mode, for `put_archive` at / before the start.

    Files only, no directory entries: the daemon creates missing parents (root, 0755) and leaves existing ones
    (/etc, /tmp) as the image has them.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in sorted(uploads, key=lambda u: str(u["file"])):
            data = str(upload["content"]).encode()
            info = tarfile.TarInfo(str(upload["file"]).lstrip("/"))
            info.size, info.mtime = len(data), 0
            info.mode = int(str(upload.get("permissions") or "0644"), 8)
            info.uid, info.gid = int(upload.get("owner") or 0), int(upload.get("group") or 0)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wait_healthy(containers: Sequence[DockerContainer], timeout_s: float) -> None:
    """Until every container's health check passes (or, without one, it runs), polled together; the first one that
    exits or is not healthy in time fails the wait with the tail of its log."""
    deadline = time.monotonic() + timeout_s
    pending = list(containers)
    while pending:
        for container in list(pending):
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if state["Status"] == "running" and health in (None, "healthy"):
                pending.remove(container)
            elif state["Status"] in ("exited", "dead") or time.monotonic() > deadline:
                tail = container.logs(tail=20).decode(errors="replace").strip()
                why = (
                    f"exited with {state.get('ExitCode')}"
                    if state["Status"] in ("exited", "dead")
                    else f"not healthy after {timeout_s:.0f}s"
                )
                raise EngineError(f"container {container.name} {why}; last log lines:\n{tail}")
        if pending:
            time.sleep(0.5)


class HealthProvider(_Provider):
    """Waits, in one call, until the containers it names are healthy: those no other container waits for.

    The dynamic provider serves four calls at a time (the Python SDK's thread pool), so a wait inside each
    container's create would hold a call per container and start them four by four. Only the containers that others
    depend on wait in their own create (start order by health); the rest start at once and are awaited here."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._wait(props)
        return CreateResult(f"health-{len(props['containers'])}", dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("containers") != news.get("containers"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._wait(news)
        return UpdateResult(dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # it owns nothing

    @staticmethod
    def _wait(props: Mapping[str, Any]) -> None:
        engine = client(props["host"])
        wait_healthy([engine.containers.get(cid) for cid in props["containers"].values()], float(props["timeout_s"]))


class Network(Resource, module="docker", name="Network"):
    """A Docker network (`pulumi-python:dynamic/docker:Network`)."""

    name: pulumi.Output[str]
    network_id: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NetworkProvider(), name, {**props, "network_id": None}, opts)


class Volume(Resource, module="docker", name="Volume"):
    """A named Docker volume (`pulumi-python:dynamic/docker:Volume`): the data; the guard knows this type."""

    mountpoint: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VolumeProvider(), name, {**props, "mountpoint": None}, opts)


class Image(Resource, module="docker", name="Image"):
    """A local image by reference; `image_id` changes when the image is rebuilt."""

    image_id: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ImageProvider(), name, {**props, "image_id": None}, opts)


class Health(Resource, module="docker", name="Health"):
    """The containers no other container waits for, healthy: an update returns when the whole environment is."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(HealthProvider(), name, dict(props), opts)


class Container(Resource, module="docker", name="Container"):
    """A container, started (and healthy, with `wait`) before its dependants are created."""

    container_id: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["uploads"])
        super().__init__(ContainerProvider(), name, {**props, "container_id": None}, pulumi.ResourceOptions.merge(secret, opts))
