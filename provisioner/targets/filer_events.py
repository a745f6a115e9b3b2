"""SeaweedFS's filers report object creates and deletes to the event worker, shared by every target.

SeaweedFS has a webhook notification of its own (weed/notification/webhook): a filer POSTs each matching event as
JSON to one endpoint with a bearer token, retrying with backoff. It reads its settings through viper, where
`WEED_NOTIFICATION_WEBHOOK_<KEY>` sets `notification.webhook.<key>`: so it is configured by environment alone, and
the token comes from the environment's secrets like every other secret. Only `/buckets/` (what the S3 gateway
writes) is reported. The filer keeps undelivered events in memory: a worker down for longer than its retries (10,
the most it allows, after waits doubling from 2 s up to 2 minutes: about 10 minutes) loses them, unlike everything
after the bus.
"""

from __future__ import annotations

from provisioner.plan.model import SeaweedFS, SecretEnv


def filer_events(part: SeaweedFS) -> tuple[dict[str, str], tuple[SecretEnv, ...]]:
    """(plain environment, secret environment) of a filer; empty when the plan sends storage events nowhere."""
    if part.notify_url is None or part.notify_token_secret is None:
        return {}, ()
    plain = {
        "WEED_NOTIFICATION_WEBHOOK_ENABLED": "true",
        "WEED_NOTIFICATION_WEBHOOK_ENDPOINT": part.notify_url,
        "WEED_NOTIFICATION_WEBHOOK_EVENT_TYPES": "create delete",
        "WEED_NOTIFICATION_WEBHOOK_PATH_PREFIXES": "/buckets/",
        "WEED_NOTIFICATION_WEBHOOK_MAX_RETRIES": "10",
        "WEED_NOTIFICATION_WEBHOOK_BACKOFF_SECONDS": "2",
        "WEED_NOTIFICATION_WEBHOOK_MAX_BACKOFF_SECONDS": "120",
    }
    return plain, (SecretEnv("WEED_NOTIFICATION_WEBHOOK_BEARER_TOKEN", part.notify_token_secret),)
