"""Jira issue ids by key, as resolved for Zendesk's link create (which names issues by id)."""

from __future__ import annotations

from redis import Redis

from bridge.connections import text
from bridge.defaults import ISSUE_ID_TTL_S
from bridge.keys import ISSUE_ID_KEY


def get(conn: Redis, issue_key: str) -> str | None:
    """Return the remembered id of ``issue_key``, or None."""
    cached = conn.get(ISSUE_ID_KEY.format(issue_key=issue_key))
    return text(cached) if cached is not None else None


def put(conn: Redis, issue_key: str, issue_id: str) -> None:
    """Remember the id of ``issue_key`` for a day."""
    conn.set(ISSUE_ID_KEY.format(issue_key=issue_key), issue_id, ex=ISSUE_ID_TTL_S)
