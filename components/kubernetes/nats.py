"""The nats CLI in a Kubernetes bus pod through the API server (pods/exec), for the stream and consumer resources
(components/nats.py): what `kubectl exec` does, with the deployer's kubeconfig and context.

The bus container has NATS_URL, NATS_USER and NATS_PASSWORD in its environment (the password from the
environment's Secret), and an exec'd process inherits it: no credential travels with the command.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from components.nats import BusError

RETRY_S = 120
"""How long to wait for the bus pod to take commands: during a rolling restart it is gone for a while."""
RETRIED = frozenset({404, 409, 500, 502, 503})
"""API server answers that mean the pod is not (yet) there or not running."""


@functools.cache
def _core(kubeconfig: str | None, context: str | None) -> Any:
    import yaml
    from kubernetes import client, config

    if kubeconfig is not None and "\n" in kubeconfig:  # the kubeconfig's contents (stack config set with --secret)
        api = config.new_client_from_config_dict(yaml.safe_load(kubeconfig), context=context)  # type: ignore[no-untyped-call]
    else:  # a path, or $KUBECONFIG / ~/.kube/config, as the kubernetes provider reads them
        api = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
    return client.CoreV1Api(api)


class KubernetesExec:
    def run(self, props: dict[str, Any], argv: list[str]) -> tuple[int, str]:
        import yaml
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import ConfigException
        from kubernetes.stream import stream
        from websocket import WebSocketException

        where = f"pod {props['namespace']}/{props['pod']}"
        try:
            core = _core(props.get("kubeconfig"), props.get("context"))
        except (ConfigException, OSError, yaml.YAMLError) as e:  # the kubeconfig cannot be read or has no such context
            raise BusError(f"cannot reach the cluster for {where}: {e}") from None
        deadline = time.monotonic() + RETRY_S
        while True:
            try:
                session = stream(
                    core.connect_get_namespaced_pod_exec,
                    props["pod"],
                    props["namespace"],
                    container=props["container"],
                    command=argv,
                    stdin=False,
                    stdout=True,
                    stderr=True,
                    tty=False,
                    _preload_content=False,
                )
                break
            except ApiException as e:
                if e.status not in RETRIED or time.monotonic() > deadline:
                    raise BusError(f"exec in {where}: {e.status} {e.reason}") from None
            except (WebSocketException, OSError) as e:  # the upgrade failed: the pod's container is not running yet
                if time.monotonic() > deadline:
                    raise BusError(f"exec in {where}: {e}") from None
            time.sleep(2)
        try:
            session.run_forever(timeout=60)
            output = session.read_stdout() + session.read_stderr()
            code = session.returncode
        finally:
            session.close()
        return (1 if code is None else int(code)), output.strip()

    def by_hand(self, props: dict[str, Any], args: str) -> str:
        return f"kubectl exec -n {props['namespace']} {props['pod']} -c {props['container']} -- nats {args}"


KUBERNETES = KubernetesExec()
