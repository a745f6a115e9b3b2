"""The webhook event catalog: every event a KoyaLite project can deliver to a webhook."""

from __future__ import annotations

EVENTS: dict[str, str] = {
    "auth.user.created": "A user signed up or was created by an admin.",
    "auth.user.updated": "A user's profile, email or password changed.",
    "auth.user.deleted": "A user was deleted.",
    "auth.session.created": "A user signed in.",
    "storage.object.created": "An object was uploaded.",
    "storage.object.deleted": "An object was deleted.",
    "db.row.inserted": "A row was inserted into a table with change events on.",
    "db.row.updated": "A row was updated in a table with change events on.",
    "db.row.deleted": "A row was deleted from a table with change events on.",
    "function.invocation.failed": "An edge function returned 5xx or timed out.",
    "cron.job.failed": "A cron job's call failed after its retries.",
    "project.limit.exceeded": "A project limit (rate, storage, database size) was reached.",
}
"""Event name -> what it means. Documented in docs/events.md; a test keeps the two in sync."""
