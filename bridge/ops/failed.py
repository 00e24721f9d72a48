"""Failed jobs: listed newest first a page at a time, requeued one at a time or all in batches.

At scale (100,000 failed jobs) nothing here reads a whole registry: a page reads the entries it shows from
each queue's failed registry (``ZREVRANGEBYSCORE … LIMIT``, entries past their expiry left out, as RQ's
cleanup would) and merges them, however deep it is; the total is ``ZCOUNT``. "Requeue all" takes
``REQUEUE_BATCH`` jobs at a time, as RQ's ``FailedJobRegistry.requeue`` does for one, in two round trips
per batch.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.connections import text
from bridge.errors import NotFound
from bridge.job_queues import queue_names
from bridge.ops import actor, summaries
from bridge.stores import history

DIRECT_PAGE_DEPTH = 500
"""Failed jobs a page may start at and still be found by merging the registries' heads directly."""

CEILING_PRECISION_S = 0.001
"""Where the binary search for a deep page's first score stops: the entries this close to it are read."""


def _queues(destination: str | None) -> list[str]:
    return [
        name
        for name in queue_names()
        if destination is None or job_queues.destination_of(name) == destination
    ]


def _registry_key(queue: str) -> str:
    return str(FailedJobRegistry.key_template.format(queue))


def failed_page(
    conn: Redis, destination: str | None = None, page: int = 1, per_page: int = defaults.FAILED_PAGE_SIZE
) -> dict[str, Any]:
    """Return one page of the failed jobs of every queue (or of one destination's), newest first."""
    page = max(page, 1)
    registries = [_registry_key(queue) for queue in _queues(destination)]
    ids, total = _page_ids(conn, registries, (page - 1) * per_page, per_page)
    return {
        "destination": destination,
        "page": page,
        "per_page": per_page,
        "total": total,
        "jobs": summaries.fetch(conn, ids),
    }


def _page_ids(conn: Redis, registries: list[str], start: int, count: int) -> tuple[list[str], int]:
    """Return the ids ranked ``start`` to ``start + count - 1``, newest first across ``registries``, and
    how many live entries they hold.

    Scores are expiry times (failure time plus the one failure TTL): the highest are the newest. A page
    near the top merges each registry's first ``start + count`` entries; a deeper one first finds the
    score ``ceiling`` with at most ``start`` entries at or above it (a binary search over ``ZCOUNT``, one
    round trip a step), so that only the few entries just below it are read, at any depth.
    """
    now = time.time()
    with conn.pipeline(transaction=False) as pipe:
        for key in registries:
            pipe.zcount(key, now, "+inf")  # entries past their expiry are RQ's cleanup's, not shown
        total = sum(int(found) for found in pipe.execute())
    if start >= total:
        return [], total
    ceiling, skip = "+inf", start
    if start > DIRECT_PAGE_DEPTH:
        score, above = _ceiling(conn, registries, now, start)
        ceiling, skip = f"({score!r}", start - above
    with conn.pipeline(transaction=False) as pipe:
        for key in registries:
            pipe.zrevrangebyscore(key, ceiling, now, start=0, num=skip + count, withscores=True)
        newest = heapq.merge(*pipe.execute(), key=lambda entry: entry[1], reverse=True)
    return [text(job_id) for job_id, _ in list(newest)[skip : skip + count]], total


def _ceiling(conn: Redis, registries: list[str], now: float, start: int) -> tuple[float, int]:
    """Return a score with at most ``start`` live entries at or above it and as few as can be found
    between ``start`` and it, with how many are at or above it."""

    def at_or_above(score: float) -> int:
        with conn.pipeline(transaction=False) as pipe:
            for key in registries:
                pipe.zcount(key, score, "+inf")
            return sum(int(found) for found in pipe.execute())

    with conn.pipeline(transaction=False) as pipe:
        for key in registries:
            pipe.zrevrange(key, 0, 0, withscores=True)
        top = max(score for newest in pipe.execute() for _, score in newest)
    low, high, above = now, top + 1.0, 0  # at_or_above(low) > start >= at_or_above(high)
    while high - low > CEILING_PRECISION_S:
        middle = (low + high) / 2
        found = at_or_above(middle)
        if found > start:
            low = middle
        else:
            high, above = middle, found
            if found == start:
                break
    return high, above


def failed_jobs(conn: Redis, destination: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Return the newest ``limit`` failed jobs of every queue (or of one destination's)."""
    jobs: list[dict[str, Any]] = failed_page(conn, destination, 1, limit)["jobs"]
    return jobs


def requeue_failed(conn: Redis, job_id: str) -> dict[str, Any]:
    """Put a failed job back on its queue (recorded in the audit log)."""
    if not summaries.is_job_id(job_id):
        raise NotFound(f"no job {job_id[:64]!r} (job ids are letters, digits, _ and -)")
    with actor.audited(conn, "requeue", job_id) as outcome:
        try:
            job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
        except NoSuchJobError:
            raise NotFound(f"no job {job_id!r}") from None
        queue = Queue(job.origin, connection=conn, serializer=JSONSerializer)
        _forget_failure(job)
        try:
            FailedJobRegistry(queue=queue).requeue(job)
        except InvalidJobOperation:
            raise NotFound(f"job {job_id!r} is not in the failed registry") from None
        _note_requeued(conn, [job])
        outcome.detail = f"put back on {job.origin}"
    return {"requeued": job_id, "queue": job.origin}


def requeue_all_failed(
    conn: Redis, destination: str | None = None, batch: int = defaults.REQUEUE_BATCH
) -> dict[str, Any]:
    """Requeue every failed job (of one destination when given), ``batch`` at a time; return how many.

    ``job_ids`` lists the first ``batch`` requeued only: the count is the answer.
    """
    requeued = 0
    shown: list[str] = []
    with actor.audited(conn, "requeue-all", destination or "every destination") as outcome:
        for queue_name in _queues(destination):
            queue = Queue(queue_name, connection=conn, serializer=JSONSerializer)
            key = _registry_key(queue_name)
            while ids := _oldest(conn, key, batch):
                done = _requeue_batch(conn, queue, key, ids)
                requeued += len(done)
                shown += done[: max(0, batch - len(shown))]
        outcome.detail = f"{requeued} job(s) requeued"
    return {"requeued": requeued, "job_ids": shown}


def _oldest(conn: Redis, key: str, count: int) -> list[str]:
    found: list[bytes] = conn.zrange(key, 0, count - 1)  # type: ignore[assignment]
    return [text(job_id) for job_id in found]


def _requeue_batch(conn: Redis, queue: Queue, key: str, ids: list[str]) -> list[str]:
    """Requeue the jobs ``ids`` of ``queue``'s failed registry; return those requeued (others are gone)."""
    jobs = Job.fetch_many(ids, connection=conn, serializer=JSONSerializer)
    with conn.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.zrem(key, job_id)  # also the entries whose job expired: they would come back forever
        removed = pipe.execute()
    taken = [job for job, gone in zip(jobs, removed, strict=True) if job is not None and gone]
    with conn.pipeline() as pipe:
        for job in taken:
            _forget_failure(job)
            job.started_at = job.ended_at = None
            job._exc_info = ""  # as RQ's own requeue does
            queue._enqueue_job(job, pipeline=pipe)
        _note_requeued(pipe, taken)
        pipe.execute()
    return [job.id for job in taken]


def _forget_failure(job: Job) -> None:
    """Drop the last failure's answer from the job: the next run's outcome is what its row shows."""
    for name in summaries.FAILURE_META:
        job.meta.pop(name, None)
    who = actor.current()
    job.meta["requeued_by"] = f"{who.name} ({who.via})"


def _note_requeued(conn: Redis | Any, jobs: list[Job]) -> None:
    for job in jobs:
        event_id = job.meta.get("event_id")
        if event_id:
            history.set_event_status(conn, event_id, "planned", "requeued by an operator")
            conn.hincrby(keys.EVENT_KEY.format(event_id=event_id), history.PENDING_FIELD, 1)
