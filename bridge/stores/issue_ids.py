"""Jira issue ids by key, and current keys by id: the bridge names issues by id, people name them by key.

An issue moved to another project keeps its id and gets a new key; Jira still finds it by the old one
(https://support.atlassian.com/jira-software-cloud/docs/move-an-issue/). So a key, once it named an
issue, names that issue for good, and a key's id is looked up once (from an event or a GET) and kept.
A key that names no issue is remembered briefly as such (``UNKNOWN``), so a ticket naming a typo does not
cost a GET per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redis import Redis
from redis.client import Pipeline

from bridge.connections import batched, text
from bridge.defaults import ISSUE_ID_TTL_S, UNKNOWN_ISSUE_TTL_S
from bridge.keys import ISSUE_ID_KEY, ISSUE_KEY_KEY

UNKNOWN = ""
"""The id remembered for a key that names no issue."""


def ids(conn: Redis, issue_keys: Iterable[str]) -> dict[str, str | None]:
    """Return the remembered id of each key: an id, ``UNKNOWN`` (names no issue) or None (not known)."""
    wanted = list(issue_keys)
    if not wanted:
        return {}
    return by_name(wanted, conn.mget(id_keys(wanted)))


def id_keys(issue_keys: list[str]) -> list[str]:
    """The Redis keys ``ids`` reads (for a caller's own ``MGET`` among other reads; ``by_name``)."""
    return [ISSUE_ID_KEY.format(issue_key=key) for key in issue_keys]


def current_keys(conn: Redis, issue_ids: Iterable[str]) -> dict[str, str | None]:
    """Return the current key of each issue id, as last seen (None when never seen)."""
    wanted = list(issue_ids)
    if not wanted:
        return {}
    return by_name(wanted, conn.mget(current_key_keys(wanted)))


def current_key_keys(issue_ids: list[str]) -> list[str]:
    """The Redis keys ``current_keys`` reads (for a caller's own ``MGET``; ``by_name``)."""
    return [ISSUE_KEY_KEY.format(issue_id=issue_id) for issue_id in issue_ids]


def by_name(names: list[str], found: Sequence[bytes | str | None]) -> dict[str, str | None]:
    """``ids`` or ``current_keys`` from the reply of an ``MGET`` of ``id_keys(names)`` or
    ``current_key_keys(names)``: each name's value as text, None where there is none."""
    return {
        name: (text(value) if value is not None else None) for name, value in zip(names, found, strict=True)
    }


def remember_keys(conn: Redis | Pipeline, issue_id: str, *issue_keys: str) -> None:
    """Remember that each of ``issue_keys`` names issue ``issue_id`` (once a key names an issue, it always does)."""
    with batched(conn) as pipe:
        for key in dict.fromkeys(issue_keys):  # a lookup by the issue's current key names it twice
            if key:
                pipe.set(ISSUE_ID_KEY.format(issue_key=key), issue_id, ex=ISSUE_ID_TTL_S)


def set_current_key(conn: Redis | Pipeline, issue_id: str, key: str) -> None:
    """Remember ``key`` as the current key of issue ``issue_id`` (from its newest state)."""
    conn.set(ISSUE_KEY_KEY.format(issue_id=issue_id), key, ex=ISSUE_ID_TTL_S)


def remember_unknown(conn: Redis | Pipeline, key: str) -> None:
    """Remember for a short while that ``key`` names no issue."""
    conn.set(ISSUE_ID_KEY.format(issue_key=key), UNKNOWN, ex=UNKNOWN_ISSUE_TTL_S)
