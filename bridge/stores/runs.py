"""Records of catch-up (``resync``) and link-audit (``reconcile``) runs, and the lock that lets one run of
each kind go at a time.

A run is a hash (``keys.RUN_KEY``): what it was asked (kind, since, subject, dry run, who), when it started
and finished, its status (``running``, ``done``, ``failed``), its counts and where it got to (``cursor:*``
fields). Counts:
- ``read``: tickets, issues or links read from the sources;
- ``planned``: subjects whose state or links differ from what the rules want (a dry run stops here);
- ``repaired``: of those, the ones put through the rules (an event or a re-plan on the resync lane);
- ``errors``: subjects or pages that could not be read or checked (the run goes on past them).

A run killed half-way keeps ``running`` with its cursors; once its lock lapses (``RUN_LOCK_TTL_S``) the
next run of its kind takes the record over and goes on from the cursors (``resume``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from bridge import defaults, keys
from bridge.connections import text
from bridge.errors import BridgeError

COUNTS = ("read", "planned", "repaired", "errors")
"""The counts of a run, in the order operators read them."""

KINDS = ("resync", "reconcile")
"""Kinds of runs: a catch-up from the sources, a link audit."""


@dataclass
class Run:
    """One run's record."""

    id: str
    kind: str
    since: str = ""
    subject: str = ""
    dry_run: bool = False
    by: str = "bridge"
    via: str = "schedule"
    status: str = "running"
    started_at: float = 0.0
    finished_at: float | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    cursors: dict[str, str] = field(default_factory=dict)
    error: str = ""
    resume_at: float | None = None
    """When a run's next job may go on (epoch seconds; None: at once)."""

    def as_json(self) -> dict[str, Any]:
        """The run as the ops API shows it (times in epoch seconds)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "since": self.since or None,
            "subject": self.subject or None,
            "dry_run": self.dry_run,
            "by": self.by,
            "via": self.via,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            **self.counts,
            "error": self.error or None,
        }


def new_run_id(kind: str) -> str:
    """A run id that sorts by start time: ``<kind>-<ms, 12 hex digits>-<6 hex>``."""
    return f"{kind}-{int(time.time() * 1000):012x}-{uuid.uuid4().hex[:6]}"


def start(conn: Redis, run: Run) -> Run:
    """Write a new run's record and list it."""
    run.started_at = run.started_at or time.time()
    key = keys.RUN_KEY.format(run_id=run.id)
    fields: dict[str | bytes, str | bytes | int | float] = {
        "kind": run.kind,
        "since": run.since,
        "subject": run.subject,
        "dry_run": int(run.dry_run),
        "by": run.by,
        "via": run.via,
        "status": run.status,
        "started_at": run.started_at,
    }
    fields.update(run.counts)
    with conn.pipeline() as pipe:
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
        pipe.expire(key, defaults.RUN_TTL_S)
        pipe.zadd(keys.RUNS_KEY, {run.id: run.started_at})
        pipe.zremrangebyrank(keys.RUNS_KEY, 0, -defaults.RUNS_MAX - 1)
        pipe.execute()
    return run


def count(conn: Redis, run_id: str, **added: int) -> None:
    """Add to a run's counts."""
    key = keys.RUN_KEY.format(run_id=run_id)
    with conn.pipeline() as pipe:
        for name, value in added.items():
            if value:
                pipe.hincrby(key, name, value)
        pipe.execute()


def save_cursor(conn: Redis, run_id: str, name: str, value: str) -> None:
    """Remember where a run got to in one of its passes (``name``): a resumed run goes on from there."""
    conn.hset(keys.RUN_KEY.format(run_id=run_id), f"cursor:{name}", value)


def resume_at(conn: Redis, run_id: str, at: float | None) -> None:
    """Note when the run's next job may go on (None: at once)."""
    conn.hset(keys.RUN_KEY.format(run_id=run_id), "resume_at", "" if at is None else str(at))


def finish(conn: Redis, run_id: str, error: str = "") -> None:
    """Close a run: ``done``, or ``failed`` with ``error``."""
    conn.hset(
        keys.RUN_KEY.format(run_id=run_id),
        mapping={"status": "failed" if error else "done", "finished_at": time.time(), "error": error[:2000]},
    )


def load(conn: Redis, run_id: str) -> Run | None:
    """Return a run's record, or None when there is none (or it expired)."""
    raw = conn.hgetall(keys.RUN_KEY.format(run_id=run_id))
    return _parse(run_id, raw) if raw else None


def recent(conn: Redis, limit: int = 50) -> list[Run]:
    """Return the newest runs, newest first."""
    found_ids: list[bytes | str] = conn.zrevrange(keys.RUNS_KEY, 0, max(0, limit - 1))  # type: ignore[assignment]
    ids = [text(raw) for raw in found_ids]
    with conn.pipeline() as pipe:
        for run_id in ids:
            pipe.hgetall(keys.RUN_KEY.format(run_id=run_id))
        found = pipe.execute()
    return [_parse(run_id, raw) for run_id, raw in zip(ids, found, strict=True) if raw]


def unfinished(conn: Redis, kind: str) -> Run | None:
    """Return the newest run of ``kind`` left ``running`` by a process that died (its lock lapsed), if any.

    Only catch-ups and audits of everything are resumed; a one-subject or dry run is not worth it."""
    if conn.exists(keys.RUN_LOCK_KEY.format(kind=kind)):
        return None
    for run in recent(conn, defaults.RUNS_MAX):
        if run.kind == kind and run.status == "running" and not run.subject and not run.dry_run:
            return run
    return None


def lock(conn: Redis, kind: str, run_id: str) -> bool:
    """Take the lock of ``kind``'s runs for ``run_id``; False when another run holds it."""
    return bool(conn.set(keys.RUN_LOCK_KEY.format(kind=kind), run_id, nx=True, ex=defaults.RUN_LOCK_TTL_S))


def renew(conn: Redis, kind: str, run_id: str) -> None:
    """Keep the lock while the run goes on (each page); raise ``LockLost`` when another run has it now."""
    key = keys.RUN_LOCK_KEY.format(kind=kind)
    holder = conn.get(key)
    if holder is not None and text(holder) != run_id:
        raise LockLost(f"another {kind} run ({text(holder)}) took over")
    conn.set(key, run_id, ex=defaults.RUN_LOCK_TTL_S)


def unlock(conn: Redis, kind: str, run_id: str) -> None:
    """Give the lock back (only if this run still holds it)."""
    key = keys.RUN_LOCK_KEY.format(kind=kind)
    holder = conn.get(key)
    if holder is not None and text(holder) == run_id:
        conn.delete(key)


def holder(conn: Redis, kind: str) -> str | None:
    """Return the id of the run of ``kind`` under way, if any."""
    found = conn.get(keys.RUN_LOCK_KEY.format(kind=kind))
    return text(found) if found is not None else None


def first_sight(conn: Redis, run_id: str, subject: str) -> bool:
    """Whether ``subject`` (``ticket:5001``) is seen for the first time in this run (and note it)."""
    key = keys.RUN_SEEN_KEY.format(run_id=run_id)
    with conn.pipeline() as pipe:
        pipe.sadd(key, subject)
        pipe.expire(key, defaults.RUN_TTL_S)
        added, _ = pipe.execute()
    return bool(added)


class LockLost(BridgeError):
    """Another run of the same kind holds the lock now (this one stalled past ``RUN_LOCK_TTL_S``)."""


def _parse(run_id: str, raw: dict[Any, Any]) -> Run:
    fields = {text(name): text(value) for name, value in raw.items()}
    finished = fields.get("finished_at")
    return Run(
        id=run_id,
        kind=fields.get("kind", ""),
        since=fields.get("since", ""),
        subject=fields.get("subject", ""),
        dry_run=fields.get("dry_run") == "1",
        by=fields.get("by", ""),
        via=fields.get("via", ""),
        status=fields.get("status", ""),
        started_at=float(fields.get("started_at") or 0),
        finished_at=float(finished) if finished else None,
        counts={name: int(fields.get(name) or 0) for name in COUNTS},
        cursors={name[7:]: value for name, value in fields.items() if name.startswith("cursor:")},
        error=fields.get("error", ""),
        resume_at=float(fields["resume_at"]) if fields.get("resume_at") else None,
    )
