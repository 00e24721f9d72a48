"""Jira issue ids by key, as resolved for Zendesk's link create (which names issues by id)."""

from __future__ import annotations

from redis import Redis

from bridge import constants
from bridge.redis_conn import text

ISSUE_ID_KEY = constants.KEY_PREFIX + "issue-id:{issue_key}"
ISSUE_ID_TTL_S = 24 * 3600
"""Issue ids never change, but a key can move to another issue; a day bounds how long a move goes unseen."""


def get(conn: Redis, issue_key: str) -> str | None:
    """Return the remembered id of ``issue_key``, or None."""
    cached = conn.get(ISSUE_ID_KEY.format(issue_key=issue_key))
    return text(cached) if cached is not None else None


def put(conn: Redis, issue_key: str, issue_id: str) -> None:
    """Remember the id of ``issue_key`` for a day."""
    conn.set(ISSUE_ID_KEY.format(issue_key=issue_key), issue_id, ex=ISSUE_ID_TTL_S)
