"""The bridge's own index of ticket ↔ issue links (Zendesk's link create is not idempotent upstream).

``bridge:links:ticket:<ticket_id>`` maps issue key → Zendesk link id, ``bridge:links:issue:<KEY>`` maps
ticket id → Zendesk link id. Rules read it through ``Linked`` (rule 2: keys a ticket no longer
references; rule 5: tickets of a deleted issue); ``bridge reconcile`` compares it with the upstreams.
"""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline

from bridge import constants
from bridge.event import Event
from bridge.redis_conn import text
from bridge.rules import Linked

TICKET_KEY = constants.KEY_PREFIX + "links:ticket:{ticket_id}"
ISSUE_KEY = constants.KEY_PREFIX + "links:issue:{issue_key}"


def linked_for(conn: Redis, event: Event) -> Linked:
    """Return what the index knows about the event's subject."""
    subject = event["subject"]
    if event["source"] == "zendesk":
        keys = conn.hkeys(TICKET_KEY.format(ticket_id=subject["id"]))
        return Linked(jira_issue_keys=tuple(sorted(text(key) for key in keys)))
    issue_key = subject.get("key")
    if subject["kind"] != "issue" or not issue_key:
        return Linked()
    tickets = conn.hkeys(ISSUE_KEY.format(issue_key=issue_key))
    return Linked(zendesk_ticket_ids=tuple(sorted(text(ticket) for ticket in tickets)))


def link_id(conn: Redis, ticket_id: str, issue_key: str) -> int | None:
    """Return the Zendesk link id of ``ticket_id`` ↔ ``issue_key``, when the index has it."""
    found = conn.hget(TICKET_KEY.format(ticket_id=ticket_id), issue_key)
    return int(found) if found is not None else None


def add(conn: Redis | Pipeline, ticket_id: str, issue_key: str, zendesk_link_id: int) -> None:
    """Record a link in both directions."""
    conn.hset(TICKET_KEY.format(ticket_id=ticket_id), issue_key, zendesk_link_id)
    conn.hset(ISSUE_KEY.format(issue_key=issue_key), ticket_id, zendesk_link_id)


def remove(conn: Redis | Pipeline, ticket_id: str, issue_key: str) -> None:
    """Forget a link in both directions."""
    conn.hdel(TICKET_KEY.format(ticket_id=ticket_id), issue_key)
    conn.hdel(ISSUE_KEY.format(issue_key=issue_key), ticket_id)


def all_links(conn: Redis) -> dict[tuple[str, str], int]:
    """Return every indexed link as ``(ticket id, issue key) → Zendesk link id`` (for reconcile)."""
    links: dict[tuple[str, str], int] = {}
    prefix = TICKET_KEY.format(ticket_id="")
    for key in conn.scan_iter(match=prefix + "*", count=500):
        ticket_id = text(key)[len(prefix) :]
        for issue_key, zendesk_link_id in conn.hgetall(key).items():
            links[(ticket_id, text(issue_key))] = int(zendesk_link_id)
    return links
