"""The bridge's index of the Zendesk links it made or found, by ticket id and issue id.

Zendesk's link create is not idempotent upstream, and its list filter matches ticket *or* issue ids, so
the bridge keeps its own record: per ticket, issue id → the link's id and the key it was made with
(``keys.TICKET_LINKS_KEY``), and per issue id, ticket id → link id (``keys.ISSUE_LINKS_KEY``). The Zendesk
actions keep it (bridge/upstreams/zendesk/actions.py); the planner reads it for the issues a ticket was
linked with; ``bridge reconcile`` compares it with the upstreams.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from redis import Redis
from redis.client import Pipeline

from bridge.connections import batched, text
from bridge.keys import ISSUE_LINKS_KEY, TICKET_LINKS_KEY


@dataclass(frozen=True)
class IndexedLink:
    """A Zendesk link as the index has it."""

    link_id: int
    issue_key: str


def of_ticket(conn: Redis | Pipeline, ticket_id: str) -> dict[str, IndexedLink]:
    """Return the ticket's indexed links by issue id."""
    return of_ticket_reply(conn.hgetall(ticket_key(ticket_id)))


def ticket_key(ticket_id: str) -> str:
    """The Redis hash ``of_ticket`` reads (for a caller's own ``HGETALL`` among other reads)."""
    return TICKET_LINKS_KEY.format(ticket_id=ticket_id)


def of_ticket_reply(found: Mapping[bytes | str, bytes | str]) -> dict[str, IndexedLink]:
    """``of_ticket`` from the reply of an ``HGETALL`` of ``ticket_key(ticket_id)``."""
    return {text(issue_id): _parse(value) for issue_id, value in found.items()}


def tickets_of(conn: Redis | Pipeline, issue_id: str) -> list[str]:
    """Return the tickets the index links to issue ``issue_id``."""
    return tickets_of_reply(conn.hkeys(issue_key(issue_id)))


def issue_key(issue_id: str) -> str:
    """The Redis hash ``tickets_of`` reads (for a caller's own ``HKEYS`` among other reads)."""
    return ISSUE_LINKS_KEY.format(issue_id=issue_id)


def tickets_of_reply(found: list[bytes | str]) -> list[str]:
    """``tickets_of`` from the reply of an ``HKEYS`` of ``issue_key(issue_id)``."""
    return sorted(text(ticket) for ticket in found)


def get(conn: Redis, ticket_id: str, issue_id: str) -> IndexedLink | None:
    """Return the indexed link of ``ticket_id`` ↔ ``issue_id``, or None."""
    return get_reply(conn.hget(ticket_key(ticket_id), issue_id))


def get_reply(found: bytes | str | None) -> IndexedLink | None:
    """``get`` from the reply of an ``HGET`` of ``ticket_key(ticket_id)``, ``issue_id`` (for a caller's own
    ``HGET`` among other commands)."""
    return _parse(found) if found is not None else None


def add(conn: Redis | Pipeline, ticket_id: str, issue_id: str, issue_key: str, zendesk_link_id: int) -> None:
    """Record a link in both directions."""
    value = orjson.dumps({"link": zendesk_link_id, "key": issue_key})
    with batched(conn) as pipe:
        pipe.hset(TICKET_LINKS_KEY.format(ticket_id=ticket_id), issue_id, value)
        pipe.hset(ISSUE_LINKS_KEY.format(issue_id=issue_id), ticket_id, zendesk_link_id)


def remove(conn: Redis | Pipeline, ticket_id: str, issue_id: str) -> None:
    """Forget a link in both directions."""
    with batched(conn) as pipe:
        pipe.hdel(TICKET_LINKS_KEY.format(ticket_id=ticket_id), issue_id)
        pipe.hdel(ISSUE_LINKS_KEY.format(issue_id=issue_id), ticket_id)


def all_links(conn: Redis) -> dict[tuple[str, str], IndexedLink]:
    """Return every indexed link as ``(ticket id, issue id) → link`` (for reconcile)."""
    links: dict[tuple[str, str], IndexedLink] = {}
    prefix = TICKET_LINKS_KEY.format(ticket_id="")
    for key in conn.scan_iter(match=prefix + "*", count=500):
        ticket_id = text(key)[len(prefix) :]
        for issue_id, value in conn.hgetall(key).items():
            links[(ticket_id, text(issue_id))] = _parse(value)
    return links


def _parse(value: bytes | str) -> IndexedLink:
    data = orjson.loads(value)
    return IndexedLink(int(data["link"]), str(data["key"]))
