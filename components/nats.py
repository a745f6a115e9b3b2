"""JetStream streams and consumers as Pulumi resources, declared with the official nats CLI inside the bus's own
container, so they need no port on the deployer's side: `docker exec` on Docker (components/docker/nats.py), the
API server's pods/exec on Kubernetes (components/kubernetes/nats.py). `props["via"]` names the transport.

What each diff means:
- a stream's subjects, limits, replicas and discard policy are edited in place (`nats stream edit`); its name,
  storage type or retention cannot be, so those replace it, which the data-loss guard refuses (Stream is stateful);
- a stream is kept when it leaves the stack (`retain_on_delete`, like a volume): `destroy` and a removed stream keep
  their messages, and creating a stream that exists adopts it, as `up` after `destroy` does with volumes. One whose
  storage or retention differs from the manifest is refused, never recreated: that would drop its messages;
- a consumer is edited in place and replaced when its stream changes; it is kept when it leaves the stack, like its
  stream: its position is what it has delivered, and a new consumer would deliver the whole stream again (so `up`
  after `destroy` adopts it and goes on where it stopped).

The bus password never leaves the bus: the CLI runs in the server's container, which has it already.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any, ClassVar, Protocol

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

IMMUTABLE = ("name", "storage", "retention")
"""Stream settings NATS cannot change on an existing stream."""


class BusError(Exception):
    """The bus cannot be reached, or the nats CLI failed; the engine prints the message."""


class Transport(Protocol):
    def run(self, props: dict[str, Any], argv: list[str]) -> tuple[int, str]:
        """Run ARGV in the bus's container; (exit code, output)."""
        ...

    def by_hand(self, props: dict[str, Any], args: str) -> str:
        """The command a user types to run `nats ARGS` in the bus's container."""
        ...


def transport(props: dict[str, Any]) -> Transport:
    # imported here: each pulls in its target's client, and a provider process needs only one
    if props.get("via", "docker") == "kubernetes":
        from components.kubernetes.nats import KUBERNETES

        return KUBERNETES
    from components.docker.nats import DOCKER

    return DOCKER


def _whole(value: Any) -> Any:
    """Pulumi hands numbers to a dynamic provider as floats; the JetStream API wants its integers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def nats(props: dict[str, Any], args: list[str], config: dict[str, Any] | None = None) -> tuple[int, str]:
    """Run `nats ARGS` in the bus container; a `config` is written to a private file first (its path replaces
    `{config}` in ARGS) and removed after. Returns (exit code, output)."""
    script = 'exec nats "$@"'
    argv = ["sh", "-c", script, "nats", *args]
    if config is not None:
        path = f"/tmp/koyalite-nats-{uuid.uuid4().hex}.json"
        script = f'umask 077; printf %s "$1" > {path}; shift; nats "$@"; code=$?; rm -f {path}; exit $code'
        argv = ["sh", "-c", script, "nats", json.dumps(_whole(config)), *(path if a == "{config}" else a for a in args)]
    return transport(props).run(props, argv)


def _must(code_output: tuple[int, str], what: str) -> str:
    code, output = code_output
    if code != 0:
        raise BusError(f"{what}: {output.splitlines()[-1] if output else f'nats exited {code}'}")
    return output


def _info(props: dict[str, Any], args: list[str]) -> dict[str, Any] | None:
    code, output = nats(props, [*args, "--json"])
    if code != 0:
        return None
    found: dict[str, Any] = json.loads(output)
    return found


class StreamProvider(ResourceProvider):
    serialize_as_secret_always = False

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = olds.get("config", {}), news.get("config", {})
        replaces = [f"config.{k}" for k in IMMUTABLE if old.get(k) != new.get(k)]
        changed = old != new or olds.get("bus") != news.get("bus")
        return DiffResult(changes=changed or bool(replaces), replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name, config = props["config"]["name"], props["config"]
        found = _info(props, ["stream", "info", name])
        if found is None:
            _must(
                nats(props, ["stream", "add", "--config", "{config}"], config),
                f"creating stream {name}",
            )
        else:  # kept by an earlier destroy, or made by hand: adopt it, unless that would need dropping its messages
            kept = found.get("config", {})
            differ = [k for k in IMMUTABLE if kept.get(k) != config.get(k)]
            if differ:
                raise BusError(
                    f"stream {name} exists with {', '.join(f'{k} {kept.get(k)}' for k in differ)}, and changing that drops its "
                    f"messages; keep the manifest's {', '.join(differ)} as they are, or remove the stream yourself first "
                    f"({transport(props).by_hand(props, f'stream rm {name}')})"
                )
            self._edit(props)
        return CreateResult(name, props)

    def _edit(self, props: dict[str, Any]) -> None:
        name = props["config"]["name"]
        _must(
            nats(props, ["stream", "edit", name, "--config", "{config}", "--force"], props["config"]),
            f"updating stream {name}",
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._edit(news)
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with contextlib.suppress(BusError):  # the bus is gone: its volume (and the stream in it) is kept
            if _info(props, ["stream", "info", id_]) is None:
                return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Reached only when a user removes retain_on_delete by hand: the guard refuses it in `koyalite up`.
        with contextlib.suppress(BusError):
            nats(props, ["stream", "rm", id_, "--force"])


class ConsumerProvider(ResourceProvider):
    serialize_as_secret_always = False
    REPLACES: ClassVar[tuple[str, ...]] = ("stream", "name")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self.REPLACES if olds.get(k) != news.get(k)]
        changed = olds.get("config") != news.get("config") or olds.get("bus") != news.get("bus")
        return DiffResult(changes=changed or bool(replaces), replaces=replaces, delete_before_replace=True)

    def _apply(self, props: dict[str, Any], exists: bool) -> None:
        stream, name = props["stream"], props["name"]
        args = (
            ["consumer", "edit", stream, name, "--config", "{config}", "--force"]
            if exists
            else ["consumer", "add", stream, "--config", "{config}"]
        )
        _must(
            nats(props, args, props["config"]),
            f"{'updating' if exists else 'creating'} consumer {stream}/{name}",
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._apply(props, _info(props, ["consumer", "info", props["stream"], props["name"]]) is not None)
        return CreateResult(f"{props['stream']}/{props['name']}", props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._apply(news, True)
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with contextlib.suppress(BusError):
            if _info(props, ["consumer", "info", props["stream"], props["name"]]) is None:
                return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with contextlib.suppress(BusError):  # no bus, no consumer
            nats(props, ["consumer", "rm", props["stream"], props["name"], "--force"])


class Stream(Resource, module="nats", name="Stream"):
    """A JetStream stream (type pulumi-python:dynamic/nats:Stream, which the data-loss guard protects)."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(StreamProvider(), name, props, opts)


class Consumer(Resource, module="nats", name="Consumer"):
    """A durable JetStream consumer."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ConsumerProvider(), name, props, opts)
