"""The normalized event, version 1 (README.md, "The event").

Every inbound delivery, whatever its source and shape, becomes one ``Event``: a JSON-safe dict that
travels through Redis as an RQ job argument and is what rules are written against.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from bridge.defaults import EVENT_VERSION

Source = Literal["jira", "zendesk"]

EVENT_TYPES = frozenset(
    {
        "issue.created",
        "issue.updated",
        "issue.deleted",
        "comment.created",
        "comment.updated",
        "comment.deleted",
        "issuelink.created",
        "issuelink.deleted",
        "ticket.created",
        "ticket.updated",
        "ticket.solved",
        "ticket.deleted",
    }
)


class Actor(TypedDict):
    """The account that caused the event (``id`` is None when the sender does not say)."""

    id: str | None
    name: str | None


class Subject(TypedDict, total=False):
    """What the event is about: ``kind`` and ``id`` always, ``key`` for Jira issues."""

    kind: str
    id: str
    key: str


class Refs(TypedDict):
    """Identifiers of the other systems' records that the subject references."""

    jira_issue_keys: list[str]
    zendesk_ticket_ids: list[str]
    salesforce_ids: list[str]


class Event(TypedDict):
    """A normalized event, version 1."""

    version: int
    id: str
    source: Source
    type: str
    delivery_id: str
    occurred_at: str
    sequence: int
    actor: Actor
    subject: Subject
    refs: Refs
    data: dict[str, Any]
    received_at: str


@dataclass(frozen=True)
class Normalized:
    """What a source's ``normalize`` found in a delivery, before ids and times are stamped on."""

    type: str
    subject: Subject
    actor: Actor
    occurred_at: datetime
    sequence: int
    refs: Refs
    data: dict[str, Any] = field(default_factory=dict)


class _IdSource:
    """Random per-process prefix plus a counter: unique without a system call per id."""

    def __init__(self) -> None:
        self.reset()
        # A forked child must not repeat its parent's ids (checking getpid() per id is a system call).
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(6).hex()
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFF:08x}"


_ids = _IdSource()


def new_event_id() -> str:
    """Return a new event id: 32 hex digits, time-ordered (sorts by arrival) and unique."""
    # Milliseconds first, so Redis lists and dashboard pages sort naturally.
    return f"{time.time_ns() // 1_000_000:012x}{_ids.next()}"


def build_event(found: Normalized, source: Source, delivery_id: str, received_at: datetime) -> Event:
    """Stamp a normalized delivery with its id, source and times."""
    return {
        "version": EVENT_VERSION,
        "id": new_event_id(),
        "source": source,
        "type": found.type,
        "delivery_id": delivery_id,
        "occurred_at": isoformat(found.occurred_at),
        "sequence": found.sequence,
        "actor": found.actor,
        "subject": found.subject,
        "refs": found.refs,
        "data": found.data,
        "received_at": isoformat(received_at),
    }


def isoformat(moment: datetime) -> str:
    """Format a time as ISO 8601 UTC with milliseconds and a ``Z``."""
    # isoformat() in UTC ends in "+00:00"; it is several times faster than strftime (a hot path).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def empty_refs() -> Refs:
    """Return refs with nothing in them."""
    return {"jira_issue_keys": [], "zendesk_ticket_ids": [], "salesforce_ids": []}
