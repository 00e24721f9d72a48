"""The audit log: what operators did to the bridge — who, when, what, and how it ended.

One Redis stream (``keys.AUDIT_KEY``), newest entries last, trimmed at each write to about
``defaults.AUDIT_LOG_MAX`` entries (``XADD … MAXLEN ~``: bounded, in time order, paged by entry id).
Each entry: ``at`` (epoch seconds), ``actor`` (a dashboard or API login, or the OS user of a command),
``via`` (``dashboard``, ``api``, ``cli``, ``schedule``), ``action`` (``requeue``, ``requeue-all``,
``delete``, ``replay``, ``pause``, ``resume``, ``jsm apply``, ``reconcile``…), ``target`` (a job, an
event, a destination, an integration), ``ok`` and a one-line ``detail``.

Operator actions are recorded by ``bridge.ops.actor.audited`` around them; runs that act on their own
schedule (reconcile, and resync) record themselves with ``record_run``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError

from bridge import defaults, keys
from bridge.connections import text

DETAIL_LIMIT = 500
"""Characters of an entry's detail kept (an error message, a count)."""


@dataclass(frozen=True)
class AuditEntry:
    """One operator action."""

    id: str
    at: float
    actor: str
    via: str
    action: str
    target: str
    ok: bool
    detail: str


def record(conn: Redis, *, actor: str, via: str, action: str, target: str, ok: bool, detail: str = "") -> str:
    """Append an action to the log (trimming the oldest beyond the cap); return its entry id."""
    fields = {
        "at": repr(time.time()),
        "actor": actor,
        "via": via,
        "action": action,
        "target": target,
        "ok": "1" if ok else "0",
        "detail": " ".join(detail.split())[:DETAIL_LIMIT],
    }
    entry_id = conn.xadd(keys.AUDIT_KEY, fields, maxlen=defaults.AUDIT_LOG_MAX, approximate=True)  # type: ignore[arg-type]
    return text(entry_id)


def record_run(
    conn: Redis, name: str, target: str, ok: bool, detail: str, actor: str = "bridge", via: str = "schedule"
) -> str:
    """Record a run that acts by itself (``reconcile``, ``resync``): what it looked at and what it did."""
    return record(conn, actor=actor, via=via, action=name, target=target, ok=ok, detail=detail)


def recent(conn: Redis, limit: int = 50, before: str | None = None) -> list[AuditEntry]:
    """Return up to ``limit`` entries, newest first (older than the entry id ``before`` when given)."""
    newest = f"({before}" if before else "+"
    try:
        found: Any = conn.xrevrange(keys.AUDIT_KEY, newest, "-", limit)
    except ResponseError:  # an id nothing can be older than (0-0), or beyond Redis's 64 bits
        return []
    return [_entry(entry_id, fields) for entry_id, fields in found]


def count(conn: Redis) -> int:
    """Return how many entries the log holds."""
    return int(conn.xlen(keys.AUDIT_KEY))


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> AuditEntry:
    values = {text(name): text(value) for name, value in fields.items()}
    return AuditEntry(
        id=text(entry_id),
        at=float(values.get("at", 0)),
        actor=values.get("actor", ""),
        via=values.get("via", ""),
        action=values.get("action", ""),
        target=values.get("target", ""),
        ok=values.get("ok") == "1",
        detail=values.get("detail", ""),
    )
