"""The operators' questions and repairs, as functions over Redis (one implementation for pages, API, CLI).

Queues and registries are RQ's; events and calls are ``bridge.stores.history``. Every function returns plain
JSON-safe data; nothing here returns a secret (the raw delivery's authenticating headers were never stored).
Failed jobs (pages, requeues) are ``failed.py``, a job's row ``summaries.py``. Every repair is recorded in
the audit log with who asked (``actor.audited``). Lists read pages, never whole registries: counts are
``ZCARD``/``LLEN``, pages ``ZRANGE``/``LRANGE``.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (
    BaseRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import JSONSerializer
from rq.suspension import is_suspended, resume, suspend

from bridge import defaults, job_queues, tracing, upstreams
from bridge.connections import text
from bridge.errors import NotFound
from bridge.job_queues import REPLAY_OF_TRACE, queue_names
from bridge.ops import actor, summaries
from bridge.ops.failed import failed_jobs, failed_page, requeue_all_failed, requeue_failed
from bridge.ops.summaries import job_summary
from bridge.rules.model import override_of
from bridge.stores import audit, batches, breaker, history

__all__ = [
    "audit_log",
    "delete_job",
    "event",
    "failed_jobs",
    "failed_page",
    "job_summary",
    "list_jobs",
    "overview",
    "replay",
    "replay_result",
    "requeue_all_failed",
    "requeue_failed",
    "search",
    "set_paused",
]

REGISTRIES: dict[str, type[BaseRegistry]] = {
    "started": StartedJobRegistry,
    "deferred": DeferredJobRegistry,
    "scheduled": ScheduledJobRegistry,
    "failed": FailedJobRegistry,
    "finished": FinishedJobRegistry,
}
PAGE_SIZE = 25
is_job_id = summaries.is_job_id


def _queue(conn: Redis, name: str) -> Queue:
    if name not in queue_names():
        raise NotFound(f"no queue named {name!r}")
    return Queue(name, connection=conn, serializer=JSONSerializer)


def overview(conn: Redis) -> dict[str, Any]:
    """Return every queue's counts, the workers, per-minute figures and each destination's health."""
    now = time.time()
    queues = []
    # Events whose calls wait for the destination's next drain job (not RQ jobs of their own).
    waiting = batches.waiting(conn)
    for name in queue_names():
        queue = Queue(name, connection=conn, serializer=JSONSerializer)
        counts = {"queued": queue.count}
        for registry_name, registry in REGISTRIES.items():
            counts[registry_name] = registry(queue=queue).count
        destination = job_queues.destination_of(name)
        queues.append(
            {"name": name, "destination": destination, "waiting": waiting.get(destination or "", 0), **counts}
        )
    workers = [
        {
            "name": worker.name,
            "state": str(worker.get_state()),
            "queues": worker.queue_names(),
            "current_job": worker.get_current_job_id(),
        }
        for worker in Worker.all(connection=conn)
    ]
    destinations = {}
    gates = breaker.read(conn, upstreams.DESTINATIONS)
    for name, stats in history.destination_stats(conn).items():
        row = asdict(stats)
        row["success_rate"] = stats.success_rate
        row["rate_limited"] = bool(stats.rate_limited_until and stats.rate_limited_until > now)
        row["backing_off"] = bool(stats.backoff_until and stats.backoff_until > now)
        gate = gates.get(name, breaker.Gate(read_at=now))
        # The gate (bridge/guard.py): a 429's pause for every worker, and the circuit breaker.
        row["circuit"] = gate.circuit
        row["circuit_reason"] = gate.reason
        row["circuit_opens_in_s"] = max(0.0, gate.open_until - now)
        row["circuit_trips"] = gate.trips
        row["paused_for_s"] = max(0.0, gate.paused_until - now)
        destinations[name] = row
    minutes = history.minute_counts(conn, 60)
    return {
        "recent_events": [asdict(summary) for summary in history.recent(conn)],
        "queues": queues,
        "workers": workers,
        "paused": bool(is_suspended(conn)),
        "destinations": destinations,
        "per_minute": [{"minute": m, "events": e, "calls": c} for m, e, c in minutes],
        "events_last_minute": minutes[-1][1] if minutes else 0,
        "calls_last_minute": minutes[-1][2] if minutes else 0,
    }


def list_jobs(conn: Redis, queue_name: str, registry: str = "queued", page: int = 1) -> dict[str, Any]:
    """Return one page of a queue or one of its registries, newest first."""
    queue = _queue(conn, queue_name)
    start = (max(page, 1) - 1) * PAGE_SIZE
    if registry == "queued":
        # RQ appends to the right: the newest are the last; one page read from the end, not the whole list.
        total = queue.count
        ids = [text(job_id) for job_id in conn.lrange(queue.key, -(start + PAGE_SIZE), -(start + 1))]
        ids.reverse()
    elif registry in REGISTRIES:
        holder = REGISTRIES[registry](queue=queue)
        total = holder.count
        ids = holder.get_job_ids(start, start + PAGE_SIZE - 1, desc=True)
    else:
        raise NotFound(f"no registry named {registry!r}")
    jobs = summaries.fetch(conn, ids)
    return {"queue": queue_name, "registry": registry, "page": page, "total": total, "jobs": jobs}


def _job(conn: Redis, job_id: str) -> Job:
    if not is_job_id(job_id):
        raise NotFound(f"no job {job_id[:64]!r} (job ids are letters, digits, _ and -)")
    try:
        return Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        raise NotFound(f"no job {job_id!r}") from None


def delete_job(conn: Redis, job_id: str) -> dict[str, Any]:
    """Delete a job from its queue and registries (recorded in the audit log)."""
    with actor.audited(conn, "delete", job_id) as outcome:
        job = _job(conn, job_id)
        outcome.detail = f"{job.get_status(refresh=False)} job of {job.origin}"
        job.delete()
    return {"deleted": job_id}


def event(conn: Redis, event_id: str) -> dict[str, Any]:
    """Return the event, its raw delivery, its calls, its jobs and its trace id (None when untraced)."""
    record = history.load_event(conn, event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r} (unknown, or older than the retention)")
    job_ids = [event_id] + [f"calls-{event_id}-{destination}" for destination in upstreams.DESTINATIONS]
    answer = asdict(record)
    del answer["traceparent"]  # its trace id is the answer's; the span id is the bridge's own business
    for call in answer["calls"]:
        call["meaning"] = history.OUTCOME_WORDS.get(call.get("outcome", ""), "")
    return {**answer, "jobs": summaries.fetch(conn, job_ids)}


REPLAY_NOTE = (
    "A replay makes only the calls not made yet: a call made before shows as skipped-duplicate, which means"
    " already made, nothing to do, and an event whose state is applied already plans nothing. If an"
    " upstream lost an effect (a link deleted by hand), replay with again to make the calls again."
)
"""What a replay does, said with its answer (the CLI prints it, the event page says the same)."""

AGAIN_NOTE = (
    "The calls the current rules plan for the subject's newest state are made again, each under a new"
    " idempotency key that records who asked, when and for which event, looking upstream before creating"
    " anything; the outcome goes to the audit log and the event's page."
)
"""What a replay with ``again`` does."""


def replay(conn: Redis, event_id: str, again: bool = False) -> dict[str, Any]:
    """Run an event through the rules again; audited.

    Without ``again``, idempotency keys keep each effect single: what was made is not made again. With
    ``again`` (an operator who knows the upstream lost an effect), the calls of the subject's newest state
    are made again under new keys recording the override (``workers.jobs.make_again``). Returns
    ``{replayed, job_id, again, note}``; raises ``NotFound`` for an unknown event.
    """
    with actor.audited(conn, "replay-again" if again else "replay", event_id) as outcome:
        job = _replay(conn, event_id, again)
        outcome.detail = f"queued as job {job.id}"
    return {
        "replayed": event_id,
        "job_id": job.id,
        "again": again,
        "note": AGAIN_NOTE if again else REPLAY_NOTE,
    }


def _replay(conn: Redis, event_id: str, again: bool) -> Job:
    record = history.load_event(conn, event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r} (unknown, or older than the retention)")
    queue = Queue(job_queues.EVENTS_QUEUE, connection=conn, serializer=JSONSerializer)
    who = actor.current()
    # A replay is a trace of its own (in a traced process), linked to the trace of the event it replays.
    with tracing.span("replay", links=[record.traceparent], attributes={"bridge.event_id": event_id}):
        meta: dict[str, Any] = {"event_id": event_id, "replay": True}
        if record.traceparent:
            meta[REPLAY_OF_TRACE] = record.traceparent
        meta = job_queues.traced(meta)
        options: dict[str, Any] = {
            "timeout": defaults.EVENT_JOB_TIMEOUT_S,
            "result_ttl": defaults.EVENT_JOB_RESULT_TTL_S,
            "failure_ttl": defaults.JOB_FAILURE_TTL_S,
            "meta": meta,
        }
        if not again:
            return queue.enqueue_call(
                job_queues.EVENT_JOB_FUNC,
                args=(record.event,),
                description=f"replay of {event_id}",
                **options,
            )
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        override = override_of(who.name, who.via, event_id, at)
        return queue.enqueue_call(
            job_queues.AGAIN_JOB_FUNC,
            args=(event_id, override),
            description=f"make the calls of {event_id} again (asked by {who.name} via {who.via})",
            **options,
        )


def replay_result(conn: Redis, job_id: str) -> dict[str, Any] | None:
    """Return what a replay job made of its event once it ended (None while it waits or runs): the job's
    status, and the event that shows the outcome (the replayed one, or the one that made the calls again)
    with its status, reason and each call's outcome in words."""
    job = _job(conn, job_id)
    status = job.get_status(refresh=False)
    if status not in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return None
    value = job.return_value(refresh=False) if status == JobStatus.FINISHED else None
    result = value if isinstance(value, dict) else {}
    shown = str(result.get("event_id") or job.meta.get("event_id") or "")
    record = history.load_event(conn, shown) if shown else None
    calls = [
        {
            "kind": call.get("kind"),
            "target": call.get("target"),
            "outcome": call.get("outcome"),
            "meaning": history.OUTCOME_WORDS.get(str(call.get("outcome")), ""),
        }
        for call in (record.calls if record else [])
    ]
    return {
        "job_status": str(status.value),
        "event_id": shown or None,
        "status": record.status if record else None,
        "reason": record.reason if record else str(result.get("reason") or ""),
        "calls": calls,
    }


def search(conn: Redis, text: str) -> dict[str, Any]:
    """Find events by Jira key, ticket id, Salesforce id, event id or delivery id, and jobs by id."""
    events = [asdict(summary) for summary in history.search(conn, text)]
    jobs = summaries.fetch(conn, [text.strip()]) if is_job_id(text.strip()) else []
    return {"query": text, "events": events, "jobs": jobs}


def set_paused(conn: Redis, paused: bool) -> dict[str, Any]:
    """Pause or resume every worker (RQ's suspension: jobs in hand finish, no new job starts; audited)."""
    with actor.audited(conn, "pause" if paused else "resume", "every worker"):
        if paused:
            suspend(conn)
        else:
            resume(conn)
    return {"paused": paused}


def audit_log(conn: Redis, limit: int = 50, before: str | None = None) -> dict[str, Any]:
    """Return the operators' actions, newest first, ``limit`` at a time (older than entry ``before``)."""
    entries = [asdict(entry) for entry in audit.recent(conn, limit, before)]
    older = entries[-1]["id"] if len(entries) == limit else None
    return {"entries": entries, "total": audit.count(conn), "older": older}
