"""`events`: the event bus (NATS with JetStream), its streams, and the work queues that consume them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.services import IMAGE, Resources
from provisioner.manifest.models.types import ByteQuantity, DnsLabel, Duration

SUBJECT = r"^(>|(\*|[A-Za-z0-9_-]+)(\.(\*|[A-Za-z0-9_-]+))*(\.>)?)$"
"""A NATS subject or subject filter: dot-separated tokens, `*` for one token, a final `>` for the rest."""
_SUBJECT = re.compile(SUBJECT)
AGE = r"^[0-9]+(s|m|h|d)$"
_AGE = re.compile(AGE)


def _subject(value: str) -> str:
    if len(value) > 255 or not _SUBJECT.match(value):
        raise PydanticCustomError(
            "koyalite",
            "'{value}' is not a NATS subject",
            {
                "value": value,
                "hint": "write dot-separated tokens of letters, digits, '-' and '_'; `*` matches one token, a last `>` the rest",
            },
        )
    return value


def _age(value: str) -> str:
    if not _AGE.match(value):
        raise PydanticCustomError(
            "koyalite", "'{value}' is not an age", {"value": value, "hint": "write a whole number with s, m, h or d, like 7d"}
        )
    return value


Subject = Annotated[
    str,
    AfterValidator(_subject),
    WithJsonSchema({"type": "string", "pattern": SUBJECT, "maxLength": 255, "description": "A NATS subject.", "examples": ["storage.>"]}),
]
Age = Annotated[
    str,
    AfterValidator(_age),
    WithJsonSchema({"type": "string", "pattern": AGE, "description": "An age: a whole number with s, m, h or d.", "examples": ["7d"]}),
]


def parse_age(age: str) -> int:
    """Seconds in a validated age (`7d` -> 604800)."""
    return int(age[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[age[-1]]


def captures(pattern: str, subject: str) -> bool:
    """Whether a subject filter matches every subject the other one matches (`storage.>` captures `storage.object.*`)."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or tokens[i] == ">":
            return False
        if token != "*" and token != tokens[i]:
            return False
    return len(tokens) == len(wanted)


def subjects_overlap(a: str, b: str) -> bool:
    """Whether some subject matches both filters (NATS refuses two streams whose subjects overlap)."""
    left, right = a.split("."), b.split(".")
    for i in range(max(len(left), len(right))):
        x = left[i] if i < len(left) else None
        y = right[i] if i < len(right) else None
        if x == ">" or y == ">":
            return x is not None and y is not None
        if x is None or y is None:
            return False
        if x != y and "*" not in (x, y):
            return False
    return True


class Bus(Model):
    """The NATS servers: one on Docker, a clustered StatefulSet on Kubernetes."""

    image: Annotated[str, Field(pattern=IMAGE)] | None = Field(
        None, description="Image override (repository with :tag or @sha256 digest); defaults to <registry>/nats:2.15.2."
    )
    replicas: int = Field(1, ge=1, le=5, description="NATS servers in the cluster (Kubernetes; Docker runs one). 3 tolerates one loss.")
    volume: ByteQuantity = Field("10Gi", description="JetStream storage per server; every stream's max_bytes must fit in it.")
    storage_class: DnsLabel | None = Field(None, description="Kubernetes StorageClass for the volumes; the cluster default when unset.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory per server.")


class Stream(Model):
    """A JetStream stream: keeps what is published on its subjects, by age, size and count."""

    name: DnsLabel = Field(description="Stream name; unique in the project.", examples=["storage"])
    subjects: list[Subject] = Field(min_length=1, description="Subjects the stream captures.", examples=[["storage.>"]])
    max_age: Age | None = Field("7d", description="Oldest message kept; unset keeps messages until a size or count limit.")
    max_bytes: ByteQuantity | None = Field(None, description="Most bytes kept; the oldest go first.", examples=["1Gi"])
    max_msgs: int | None = Field(None, ge=1, description="Most messages kept; the oldest go first.")
    storage: Literal["file", "memory"] = Field("file", description="file survives a restart of the bus; memory does not.")
    replicas: int = Field(1, ge=1, le=5, description="Copies of each message across the cluster; at most events.bus.replicas.")
    discard: Literal["old", "new"] = Field("old", description="At a limit: drop the oldest messages, or refuse new ones.")


class Queue(Model):
    """A work queue: a durable consumer of a stream that hands each message to a function or a webhook until it
    succeeds, retrying with backoff, then moves it to its dead-letter subject."""

    name: DnsLabel = Field(description="Queue name; unique in the project.", examples=["thumbnails"])
    stream: DnsLabel = Field(description="The stream it consumes.", examples=["storage"])
    subjects: list[Subject] = Field(
        default_factory=list,
        description="Only these subjects of the stream; all of them when empty.",
        examples=[["storage.object.created"]],
    )
    function: DnsLabel | None = Field(None, description="Edge function called with each message (one of function or webhook).")
    webhook: DnsLabel | None = Field(None, description="Webhook each message is delivered to (one of function or webhook).")
    ack_wait: Duration = Field("30s", description="Time a delivery may take before it counts as failed and is tried again.")
    max_deliver: int = Field(5, ge=1, le=1000, description="Deliveries tried in all, the first included.")
    backoff: list[Duration] = Field(
        default_factory=list, description="Waits before the 2nd, 3rd, ... attempts; the last repeats.", examples=[["1s", "10s", "1m"]]
    )
    max_in_flight: int = Field(1, ge=1, le=10_000, description="Messages handed out and not yet acknowledged, at most.")
    dead_letter: Subject | None = Field(
        None, description="Subject a message goes to after its last failed delivery; deadletter.<queue> when unset."
    )

    @model_validator(mode="after")
    def _consumer(self) -> Queue:
        if (self.function is None) == (self.webhook is None):
            raise PydanticCustomError(
                "koyalite",
                "a queue delivers to exactly one of function or webhook",
                {"hint": "set `function: NAME` or `webhook: NAME`, not both"},
            )
        return self


class Events(Model):
    """The event bus: NATS with JetStream. Streams keep events, queues deliver them; webhooks are delivered through it."""

    bus: Bus = Field(default_factory=Bus, description="The NATS servers.")
    streams: list[Stream] = Field(default_factory=list, description="Streams; merged by name across environments.")
    queues: list[Queue] = Field(default_factory=list, description="Work queues; merged by name across environments.")


def dead_letter_subject(kind: str, name: str, declared: str | None = None) -> str:
    """Where a queue's (or a webhook's) messages go after their last failed delivery."""
    return declared or (f"deadletter.{name}" if kind == "queue" else f"deadletter.webhook.{name}")


WEBHOOK_STREAM = "koyalite-webhooks"
"""The stream the provisioner adds for webhook events that no declared stream keeps (a reserved name)."""


def webhook_subjects(streams: list[Stream], webhooks: list[tuple[str, list[str]]]) -> list[str]:
    """The subjects webhook deliveries need that no declared stream keeps: each (name, events) webhook's events and its
    dead-letter subject. Literal subjects only, so they can never partly overlap a declared stream's filters."""
    needed = [*(e for _, events in webhooks for e in events), *(f"deadletter.webhook.{name}" for name, _ in webhooks)]
    kept = [pattern for s in streams for pattern in s.subjects]
    return sorted({subject for subject in needed if not any(captures(pattern, subject) for pattern in kept)})
