"""The operators' questions and repairs, as functions over Redis (one implementation for pages, API, CLI).

Queues and registries are RQ's; events and calls are ``bridge.stores.history``. Every function returns plain
JSON-safe data; nothing here returns a secret (the raw delivery's authenticating headers were never stored).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
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

from bridge import defaults, job_queues, keys, upstreams
from bridge.errors import NotFound
from bridge.job_queues import queue_names
from bridge.stores import batches, history

REGISTRIES: dict[str, type[BaseRegistry]] = {
    "started": StartedJobRegistry,
    "deferred": DeferredJobRegistry,
    "scheduled": ScheduledJobRegistry,
    "failed": FailedJobRegistry,
    "finished": FinishedJobRegistry,
}
PAGE_SIZE = 25
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_job_id(text: str) -> bool:
    """Tell whether a text can be an RQ job id (RQ refuses others with ValueError: ``rq.job.Job.set_id``)."""
    return bool(_JOB_ID.fullmatch(text))


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
    for name, stats in history.destination_stats(conn).items():
        row = asdict(stats)
        row["success_rate"] = stats.success_rate
        row["rate_limited"] = bool(stats.rate_limited_until and stats.rate_limited_until > now)
        row["backing_off"] = bool(stats.backoff_until and stats.backoff_until > now)
        destinations[name] = row
    minutes = history.minute_counts(conn, 60)
    return {
        "queues": queues,
        "workers": workers,
        "paused": bool(is_suspended(conn)),
        "destinations": destinations,
        "per_minute": [{"minute": m, "events": e, "calls": c} for m, e, c in minutes],
        "events_last_minute": minutes[-1][1] if minutes else 0,
        "calls_last_minute": minutes[-1][2] if minutes else 0,
    }


def job_summary(job: Job) -> dict[str, Any]:
    """Return what a list shows of a job: its event, destination, upstream answer and age."""
    meta = job.meta or {}
    args = job.args or ()
    event: dict[str, Any] = args[0] if args and isinstance(args[0], dict) else {}
    event_id = (
        meta.get("event_id") or event.get("id") or (args[0] if args and isinstance(args[0], str) else None)
    )
    subject = event.get("subject") or {}
    exc = job.exc_info or ""
    status = job.get_status(refresh=False)
    return {
        "job_id": job.id,
        "queue": job.origin,
        "status": status.value if status is not None else None,
        "description": job.description,
        "event_id": event_id,
        "source": event.get("source"),
        "type": event.get("type"),
        "subject": (f"{subject.get('kind')} {subject.get('key') or subject.get('id')}" if subject else None),
        "destination": meta.get("destination") or job_queues.destination_of(job.origin),
        "attempt": meta.get("attempt", 1),
        "upstream_status": meta.get("upstream_status"),
        "upstream_body": meta.get("upstream_body"),
        "error": meta.get("error") or (exc.strip().splitlines()[-1] if exc.strip() else None),
        "created_at": job.created_at.timestamp() if job.created_at else None,
        "ended_at": job.ended_at.timestamp() if job.ended_at else None,
    }


def list_jobs(conn: Redis, queue_name: str, registry: str = "queued", page: int = 1) -> dict[str, Any]:
    """Return one page of a queue or one of its registries, newest first."""
    queue = _queue(conn, queue_name)
    start = (max(page, 1) - 1) * PAGE_SIZE
    if registry == "queued":
        total = queue.count
        ids = list(reversed(queue.get_job_ids()))[start : start + PAGE_SIZE]
    elif registry in REGISTRIES:
        holder = REGISTRIES[registry](queue=queue)
        total = holder.count
        ids = holder.get_job_ids(start, start + PAGE_SIZE - 1, desc=True)
    else:
        raise NotFound(f"no registry named {registry!r}")
    jobs = [
        job_summary(job) for job in Job.fetch_many(ids, connection=conn, serializer=JSONSerializer) if job
    ]
    return {"queue": queue_name, "registry": registry, "page": page, "total": total, "jobs": jobs}


def failed_jobs(conn: Redis, destination: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Return failed jobs of every queue (or of one destination's), newest first."""
    found = []
    for name in queue_names():
        if destination is not None and job_queues.destination_of(name) != destination:
            continue
        queue = Queue(name, connection=conn, serializer=JSONSerializer)
        ids = FailedJobRegistry(queue=queue).get_job_ids(0, limit - 1, desc=True)
        found += [
            job_summary(job) for job in Job.fetch_many(ids, connection=conn, serializer=JSONSerializer) if job
        ]
    found.sort(key=lambda job: job.get("ended_at") or 0, reverse=True)
    return found[:limit]


def _job(conn: Redis, job_id: str) -> Job:
    if not is_job_id(job_id):
        raise NotFound(f"no job {job_id[:64]!r} (job ids are letters, digits, _ and -)")
    try:
        return Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        raise NotFound(f"no job {job_id!r}") from None


def requeue_failed(conn: Redis, job_id: str) -> dict[str, Any]:
    """Put a failed job back on its queue."""
    job = _job(conn, job_id)
    queue = Queue(job.origin, connection=conn, serializer=JSONSerializer)
    try:
        FailedJobRegistry(queue=queue).requeue(job_id)
    except InvalidJobOperation:
        raise NotFound(f"job {job_id!r} is not in the failed registry") from None
    if job.meta.get("event_id"):
        history.set_event_status(conn, job.meta["event_id"], "planned", "requeued by an operator")
        conn.hincrby(keys.EVENT_KEY.format(event_id=job.meta["event_id"]), history.PENDING_FIELD, 1)
    return {"requeued": job_id, "queue": job.origin}


def requeue_all_failed(conn: Redis, destination: str | None = None) -> dict[str, Any]:
    """Requeue every failed job (of one destination when given); return how many."""
    requeued = [
        requeue_failed(conn, job["job_id"])["requeued"] for job in failed_jobs(conn, destination, 10_000)
    ]
    return {"requeued": len(requeued), "job_ids": requeued}


def delete_job(conn: Redis, job_id: str) -> dict[str, Any]:
    """Delete a job from its queue and registries."""
    job = _job(conn, job_id)
    job.delete()
    return {"deleted": job_id}


def event(conn: Redis, event_id: str) -> dict[str, Any]:
    """Return the event, its raw delivery, its calls and its jobs."""
    record = history.load_event(conn, event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r} (unknown, or older than the retention)")
    job_ids = [event_id] + [f"calls-{event_id}-{destination}" for destination in upstreams.DESTINATIONS]
    jobs = [
        job_summary(job) for job in Job.fetch_many(job_ids, connection=conn, serializer=JSONSerializer) if job
    ]
    return {**asdict(record), "jobs": jobs}


def replay(conn: Redis, event_id: str) -> dict[str, Any]:
    """Run an event through the rules again (idempotency keys keep each effect single)."""
    record = history.load_event(conn, event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r} (unknown, or older than the retention)")
    queue = Queue(job_queues.EVENTS_QUEUE, connection=conn, serializer=JSONSerializer)
    job = queue.enqueue_call(
        job_queues.EVENT_JOB_FUNC,
        args=(record.event,),
        timeout=defaults.EVENT_JOB_TIMEOUT_S,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=f"replay of {event_id}",
        meta={"event_id": event_id, "replay": True},
    )
    return {"replayed": event_id, "job_id": job.id}


def search(conn: Redis, text: str) -> dict[str, Any]:
    """Find events by Jira key, ticket id, Salesforce id, event id or delivery id, and jobs by id."""
    events = [asdict(summary) for summary in history.search(conn, text)]
    jobs = []
    if is_job_id(text.strip()):
        for job in Job.fetch_many([text.strip()], connection=conn, serializer=JSONSerializer):
            if job:
                jobs.append(job_summary(job))
    return {"query": text, "events": events, "jobs": jobs}


def set_paused(conn: Redis, paused: bool) -> dict[str, Any]:
    """Pause or resume every worker (RQ's suspension: jobs in hand finish, no new job starts)."""
    if paused:
        suspend(conn)
    else:
        resume(conn)
    return {"paused": paused}
