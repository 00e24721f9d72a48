"""The bridge's own index of ticket ↔ issue links (Zendesk's link create is not idempotent upstream).

``keys.TICKET_LINKS_KEY`` maps issue key → Zendesk link id per ticket, ``keys.ISSUE_LINKS_KEY`` ticket id →
Zendesk link id per issue; ``keys.TICKET_REFERENCES_KEY`` holds the keys the ticket itself held at its
latest event that said so. Rules read them through ``Linked`` (rule 2: keys a ticket dropped; rule 5:
tickets of a deleted issue); ``bridge reconcile`` compares the links with the upstreams.
"""

from __future__ import annotations

import orjson
from redis import Redis
from redis.client import Pipeline

from bridge.connections import text
from bridge.event import Event
from bridge.keys import ISSUE_LINKS_KEY, TICKET_LINKS_KEY, TICKET_REFERENCES_KEY
from bridge.rules.model import Linked

# Keep the newest statement of a ticket's keys: an older event processed late does not roll it back.
_REMEMBER = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '-1')
if tonumber(ARGV[1]) < stored then return 0 end
redis.call('HSET', KEYS[1], 'sequence', ARGV[1], 'keys', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def linked_for(conn: Redis, event: Event) -> Linked:
    """Return what the index knows about the event's subject."""
    subject = event["subject"]
    if event["source"] == "zendesk":
        with conn.pipeline(transaction=False) as pipe:
            pipe.hkeys(TICKET_LINKS_KEY.format(ticket_id=subject["id"]))
            pipe.hget(TICKET_REFERENCES_KEY.format(ticket_id=subject["id"]), "keys")
            keys, referenced = pipe.execute()
        return Linked(
            jira_issue_keys=tuple(sorted(text(key) for key in keys)),
            referenced_jira_issue_keys=tuple(orjson.loads(referenced)) if referenced else (),
        )
    issue_key = subject.get("key")
    if subject["kind"] != "issue" or not issue_key:
        return Linked()
    tickets = conn.hkeys(ISSUE_LINKS_KEY.format(issue_key=issue_key))
    return Linked(zendesk_ticket_ids=tuple(sorted(text(ticket) for ticket in tickets)))


def remember_references(conn: Redis | Pipeline, event: Event, retention_s: int) -> None:
    """Remember which keys a ticket holds, when the event says so (rule 2 compares with the next one)."""
    if event["source"] != "zendesk" or not event.get("data", {}).get("jira_keys_known"):
        return
    keys = sorted(event["refs"].get("jira_issue_keys", []))
    conn.eval(
        _REMEMBER,
        1,
        TICKET_REFERENCES_KEY.format(ticket_id=event["subject"]["id"]),
        event["sequence"],
        orjson.dumps(keys),
        retention_s,
    )


def link_id(conn: Redis, ticket_id: str, issue_key: str) -> int | None:
    """Return the Zendesk link id of ``ticket_id`` ↔ ``issue_key``, when the index has it."""
    found = conn.hget(TICKET_LINKS_KEY.format(ticket_id=ticket_id), issue_key)
    return int(found) if found is not None else None


def add(conn: Redis | Pipeline, ticket_id: str, issue_key: str, zendesk_link_id: int) -> None:
    """Record a link in both directions."""
    conn.hset(TICKET_LINKS_KEY.format(ticket_id=ticket_id), issue_key, zendesk_link_id)
    conn.hset(ISSUE_LINKS_KEY.format(issue_key=issue_key), ticket_id, zendesk_link_id)


def remove(conn: Redis | Pipeline, ticket_id: str, issue_key: str) -> None:
    """Forget a link in both directions."""
    conn.hdel(TICKET_LINKS_KEY.format(ticket_id=ticket_id), issue_key)
    conn.hdel(ISSUE_LINKS_KEY.format(issue_key=issue_key), ticket_id)


def all_links(conn: Redis) -> dict[tuple[str, str], int]:
    """Return every indexed link as ``(ticket id, issue key) → Zendesk link id`` (for reconcile)."""
    links: dict[tuple[str, str], int] = {}
    prefix = TICKET_LINKS_KEY.format(ticket_id="")
    for key in conn.scan_iter(match=prefix + "*", count=500):
        ticket_id = text(key)[len(prefix) :]
        for issue_key, zendesk_link_id in conn.hgetall(key).items():
            links[(ticket_id, text(issue_key))] = int(zendesk_link_id)
    return links
