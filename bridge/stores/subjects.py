"""The newest state of each subject the bridge applied — a Zendesk ticket, a Jira issue — and who names whom.

Per subject (``keys.SUBJECT_KEY``, a hash): ``state`` (JSON; bridge/subjects.py says what it holds),
``sequence`` and ``precision`` (milliseconds: the subject's own clock, Jira's ``timestamp`` or Zendesk's
``updated_at``, and how coarse it is), ``event`` (the event it came from) and, for a ticket, ``links``
(JSON: the issue ids its last plan wanted linked), ``named`` (the issue ids its Jira field names) and
``named_keys`` (keys it names that no issue has).
Who names whom (``keys.NAMED_BY_KEY``): a ticket's set holds the issues whose JIRA_ZENDESK_FIELD names it,
an issue's set the tickets whose Jira field names it, so that a change on either side reaches the other.
The planner (bridge/planner.py) reads these under WATCH and writes them in the transaction that queues the
plan's calls; nothing else writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis import Redis
from redis.client import Pipeline

from bridge.connections import text
from bridge.keys import NAMED_BY_KEY, NAMED_KEY_KEY, PLAN_VERSION_KEY, SUBJECT_KEY
from bridge.stores.scripts import Lua

# A counter that never goes below the time in microseconds: versions keep growing across a Redis that
# lost the counter, and Jira Software, which keeps a remote link's highest updateSequenceNumber, sees a
# plan's version as newer than any submitted before.
_NEXT_VERSION = Lua("""
local version = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if version < floor then
  redis.call('SET', KEYS[1], ARGV[1])
  version = floor
end
return version
""")


@dataclass
class Stored:
    """A subject's newest applied state."""

    kind: str
    id: str
    sequence: int
    precision: int
    state: dict[str, Any]
    event_id: str = ""
    links: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)
    named_keys: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return subject_key(self.kind, self.id)


def subject_key(kind: str, subject_id: str) -> str:
    """Return the Redis key of a subject's state."""
    return SUBJECT_KEY.format(kind=kind, subject_id=subject_id)


def named_by_key(kind: str, subject_id: str) -> str:
    """Return the Redis key of the set of subjects that name this one."""
    return NAMED_BY_KEY.format(kind=kind, subject_id=subject_id)


def named_key_key(issue_key: str) -> str:
    """Return the Redis key of the set of tickets naming a key that no issue has (yet)."""
    return NAMED_KEY_KEY.format(issue_key=issue_key)


def watch(pipe: Pipeline, *watched: str) -> None:
    """WATCH ``watched`` on the planner's pipeline: a change by anyone else before EXEC aborts the plan."""
    pipe.watch(*watched)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


def watch_subject(pipe: Pipeline, kind: str, subject_id: str) -> None:
    """WATCH a subject's state and the set of subjects naming it (one round trip: a plan reads both)."""
    watch(pipe, subject_key(kind, subject_id), named_by_key(kind, subject_id))


def load(conn: Redis | Pipeline, kind: str, subject_id: str) -> Stored | None:
    """Return the subject's stored state, or None when the bridge has none."""
    return loaded(kind, subject_id, conn.hgetall(subject_key(kind, subject_id)))


def loaded(kind: str, subject_id: str, found: Mapping[bytes | str, bytes | str]) -> Stored | None:
    """``load`` from the reply of an ``HGETALL`` of ``subject_key(kind, subject_id)``."""
    if not found:
        return None
    values = {text(name): value for name, value in found.items()}
    return Stored(
        kind=kind,
        id=subject_id,
        sequence=int(values["sequence"]),
        precision=int(values.get("precision", 1)),
        state=orjson.loads(values["state"]),
        event_id=text(values.get("event", b"")),
        links=orjson.loads(values["links"]) if "links" in values else [],
        named=orjson.loads(values["named"]) if "named" in values else [],
        named_keys=orjson.loads(values["named_keys"]) if "named_keys" in values else [],
    )


def save(pipe: Pipeline, stored: Stored, ttl_s: int) -> None:
    """Write the subject's state (inside the planner's transaction)."""
    key = stored.key
    pipe.hset(
        key,
        mapping={
            "sequence": stored.sequence,
            "precision": stored.precision,
            "state": orjson.dumps(stored.state, option=orjson.OPT_SORT_KEYS),
            "event": stored.event_id,
            "links": orjson.dumps(stored.links),
            "named": orjson.dumps(stored.named),
            "named_keys": orjson.dumps(stored.named_keys),
        },
    )
    pipe.expire(key, ttl_s)


def named_by(conn: Redis | Pipeline, kind: str, subject_id: str) -> set[str]:
    """Return the ids of the subjects that name this one."""
    return {text(member) for member in conn.smembers(named_by_key(kind, subject_id))}


def tickets_naming_key(conn: Redis | Pipeline, issue_key: str) -> set[str]:
    """Return the tickets that name ``issue_key`` while no issue has it."""
    return {text(member) for member in conn.smembers(named_key_key(issue_key))}


def rename(
    pipe: Pipeline, kind: str, named: Iterable[str], unnamed: Iterable[str], by: str, ttl_s: int
) -> None:
    """Record that subject ``by`` now names the ``kind`` subjects ``named`` and no longer ``unnamed``."""
    for subject_id in named:
        pipe.sadd(named_by_key(kind, subject_id), by)
        pipe.expire(named_by_key(kind, subject_id), ttl_s)
    for subject_id in unnamed:
        pipe.srem(named_by_key(kind, subject_id), by)


def rename_keys(
    pipe: Pipeline, named: Iterable[str], unnamed: Iterable[str], ticket_id: str, ttl_s: int
) -> None:
    """Record the keys (naming no issue) that ticket ``ticket_id`` now names, and those it no longer does."""
    for issue_key in named:
        pipe.sadd(named_key_key(issue_key), ticket_id)
        pipe.expire(named_key_key(issue_key), ttl_s)
    for issue_key in unnamed:
        pipe.srem(named_key_key(issue_key), ticket_id)


def next_version(conn: Redis, now_us: int) -> int:
    """Return a new plan version: greater than every one before, and at least ``now_us``."""
    return int(_NEXT_VERSION(conn, [PLAN_VERSION_KEY], [now_us]))


def queue_next_version(pipe: Pipeline, now_us: int) -> None:
    """``next_version`` among other reads of ``pipe`` (sent by ``bridge.stores.scripts.execute``; its reply
    is the version)."""
    _NEXT_VERSION.queue(pipe, [PLAN_VERSION_KEY], [now_us])


def queue_load(pipe: Pipeline, kind: str, subject_id: str) -> None:
    """``load`` among other reads of ``pipe``: its reply goes to ``loaded``."""
    pipe.hgetall(subject_key(kind, subject_id))
