"""nats.conf, shared by every target so Docker's one server and Kubernetes' cluster run the same configuration."""

from __future__ import annotations

import json

from provisioner.plan.model import EventBus

NATS_CONFIG = "/etc/nats/nats.conf"
SERVER_COMMAND = ["koyalite-nats-server", "--config", NATS_CONFIG]
"""nats-server through the image's wrapper, which hands the password to nats.conf as a quoted string
(images/nats/koyalite-nats-server: NATS parses a variable's value as configuration)."""
ACCOUNT = "KOYALITE"
"""The one account the project's clients use; JetStream is enabled for it alone."""


APPLY_DIR = "/etc/koyalite/nats"
APPLY_SCRIPT = f"""\
# Create or update every declared stream, then every consumer, with the nats CLI (idempotent; deletes nothing).
set -eu
for file in {APPLY_DIR}/streams/*.json; do
  name=$(basename "$file" .json)
  if nats stream info "$name" >/dev/null 2>&1; then nats stream edit "$name" --config "$file" --force >/dev/null
  else nats stream add --config "$file" >/dev/null; fi
  echo "stream $name ready"
done
for file in {APPLY_DIR}/consumers/*/*.json; do
  [ -e "$file" ] || continue
  stream=$(basename "$(dirname "$file")"); name=$(basename "$file" .json)
  if nats consumer info "$stream" "$name" >/dev/null 2>&1; then nats consumer edit "$stream" "$name" --config "$file" --force >/dev/null
  else nats consumer add "$stream" --config "$file" >/dev/null; fi
  echo "consumer $stream/$name ready"
done
"""


def nats_config(part: EventBus, *, server_name: str, max_file_store: int, routes: list[str] | None = None, cluster: str = "") -> str:
    """nats.conf as text. The password is `$NATS_PASSWORD_QUOTED`, which the server reads from its environment (the
    secret, quoted by SERVER_COMMAND's wrapper at start): the file holds no secret. A `server_name` starting with `$` is such a variable too (each
    Kubernetes server is named after its pod). `routes` (nats://host:port of every server) make a cluster."""
    lines = [
        f"server_name: {server_name if server_name.startswith('$') else json.dumps(server_name)}",
        f"port: {part.client_port}",
        f"http_port: {part.monitor_port}",
        "jetstream {",
        f"  store_dir: {json.dumps(part.store_dir)}",
        f"  max_file_store: {max_file_store}",
        "}",
        "accounts {",
        f"  {ACCOUNT} {{",
        "    jetstream: enabled",
        f"    users: [{{user: {json.dumps(part.user)}, password: $NATS_PASSWORD_QUOTED}}]",
        "  }",
        "}",
    ]
    if routes:
        lines += [
            "cluster {",
            f"  name: {json.dumps(cluster)}",
            f"  port: {part.cluster_port}",
            "  routes: [",
            *(f"    {json.dumps(r)}" for r in routes),
            "  ]",
            "}",
        ]
    return "\n".join(lines) + "\n"
