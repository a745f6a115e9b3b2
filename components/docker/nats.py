"""The nats CLI in the Docker bus container (`docker exec`), for the stream and consumer resources (components/nats.py).

The image's entrypoint reads the bus password from the secret file the container already has (NATS_PASSWORD_FILE).
"""

from __future__ import annotations

from typing import Any

from components.docker.engine import EngineError, client
from components.nats import BusError


class DockerExec:
    def run(self, props: dict[str, Any], argv: list[str]) -> tuple[int, str]:
        import docker

        env = {"NATS_URL": "nats://127.0.0.1:4222", "NATS_USER": props["user"]}
        try:
            container = client(props["host"]).containers.get(props["bus"])
            code, output = container.exec_run(["koyalite-entrypoint", *argv], environment=env)
        except docker.errors.NotFound:
            raise BusError(f"the event bus container {props['bus']} does not exist on {props['host']}") from None
        except (EngineError, docker.errors.APIError) as e:
            raise BusError(f"the event bus container {props['bus']} on {props['host']}: {e}") from None
        text = output.decode(errors="replace") if isinstance(output, bytes) else ""
        return int(code if code is not None else 1), text.strip()

    def by_hand(self, props: dict[str, Any], args: str) -> str:
        return f"docker exec {props['bus']} koyalite-entrypoint nats --user {props['user']} {args}"


DOCKER = DockerExec()
