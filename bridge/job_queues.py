"""The RQ queues the bridge puts work on, and the jobs it puts there (by import path: ``workers.jobs``).

``bridge-events`` takes the receiver's events (one ``process_event`` job each); each destination has its
own ``bridge-calls-<destination>`` queue, so a slow or failing upstream holds up only its own calls.
The bridge names the job functions by string and never imports ``workers``. Every job is enqueued with
the JSON serializer (readable in the dashboard; nothing unpickled from Redis).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import defaults, tracing
from bridge.event import Event
from bridge.settings import Settings
from bridge.stores import batches
from bridge.upstreams import DESTINATIONS

log = logging.getLogger("bridge.worker")

EVENTS_QUEUE = "bridge-events"
"""RQ queue the receiver puts normalized events on."""

RESYNC_QUEUE = "bridge-resync"
"""RQ queue of catch-up and link-audit work (runs, the events and re-plans they make): workers take from it
last, so it never holds up a live delivery."""

DESTINATION_QUEUE = "bridge-calls-{destination}"
"""RQ queue of one destination's calls (its drain jobs, retries and requeued failures)."""

EVENT_JOB_FUNC = "workers.jobs.process_event"
"""Import path of the job that handles a normalized event."""

DRAIN_JOB_FUNC = "workers.jobs.drain_calls"
"""Import path of the job that makes the waiting events' calls to one destination."""

CALLS_JOB_FUNC = "workers.jobs.run_calls"
"""Import path of the job that makes one event's calls to one destination (retries, reconcile)."""

AGAIN_JOB_FUNC = "workers.jobs.make_again"
"""Import path of the job that makes a recorded event's calls again (an operator's override)."""

REPLAN_JOB_FUNC = "workers.jobs.replan_subject"
"""Import path of the job that plans a ticket or issue again from its newest state (bridge/planner.py)."""

RUN_JOB_FUNC = "workers.jobs.run_resync"
"""Import path of the job that makes one catch-up or link-audit run (bridge/resync/)."""

REPLAY_OF_TRACE = "replay_of_trace"
"""Key of a replay job's meta holding the ``traceparent`` of the event it replays (its span links there);
``bridge.tracing.TRACEPARENT`` holds the trace the job continues."""

ABANDONED_RETRY = Retry(max=defaults.ABANDONED_JOB_RETRIES, enqueue_at_front=True)
"""RQ re-queues a job abandoned by a dead worker while it has retries left, at the head of its queue: the
units it held (other events' calls too) are finished first, not after a backlog. Failures the bridge
raises on purpose set ``retries_left`` to 0 first (upstream retries are the bridge's own, with
``Retry-After``)."""


def queue_names() -> list[str]:
    """Return the queues a worker listens on, in priority order: events first, then each destination,
    then the resync lane."""
    return (
        [EVENTS_QUEUE]
        + [DESTINATION_QUEUE.format(destination=destination) for destination in DESTINATIONS]
        + [RESYNC_QUEUE]
    )


def destination_of(queue_name: str) -> str | None:
    """Return the destination whose queue ``queue_name`` is, or None (the events queue)."""
    prefix = DESTINATION_QUEUE.format(destination="")
    return queue_name[len(prefix) :] if queue_name.startswith(prefix) else None


def events_queue(conn: Redis) -> Queue:
    """Return the events queue."""
    return Queue(EVENTS_QUEUE, connection=conn, serializer=JSONSerializer)


def destination_queue(conn: Redis, destination: str) -> Queue:
    """Return the queue of ``destination``'s calls."""
    return Queue(
        DESTINATION_QUEUE.format(destination=destination), connection=conn, serializer=JSONSerializer
    )


def traced(meta: dict[str, Any]) -> dict[str, Any]:
    """Return a job's ``meta`` with the current span's ``traceparent``: the job continues this trace."""
    current = tracing.traceparent()
    return {**meta, tracing.TRACEPARENT: current} if current else meta


def resync_queue(conn: Redis) -> Queue:
    """Return the resync lane."""
    return Queue(RESYNC_QUEUE, connection=conn, serializer=JSONSerializer)


def enqueue_replan(
    conn: Redis, pipe: Pipeline, kind: str, subject_id: str, cause: str, queue: str = EVENTS_QUEUE
) -> None:
    """Queue a re-plan of a subject (on the events queue, or ``queue``), in the caller's transaction."""
    Queue(queue, connection=conn, serializer=JSONSerializer).enqueue_call(
        REPLAN_JOB_FUNC,
        args=(kind, subject_id, cause),
        timeout=defaults.EVENT_JOB_TIMEOUT_S,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=f"plan {kind} {subject_id} again after {cause}",
        meta=traced({"subject": f"{kind} {subject_id}"}),
        retry=ABANDONED_RETRY,
        pipeline=pipe,
    )


def enqueue_resync_event(conn: Redis, pipe: Pipeline, event: Event) -> None:
    """Queue a catch-up's event on the resync lane (the ordinary event job), in the caller's transaction."""
    subject = event["subject"]
    resync_queue(conn).enqueue_call(
        EVENT_JOB_FUNC,
        args=(event,),
        timeout=defaults.EVENT_JOB_TIMEOUT_S,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=f"{event['type']} {subject['kind']} {subject.get('key') or subject['id']} ({event['delivery_id']})",
        meta=traced({"event_id": event["id"]}),
        retry=ABANDONED_RETRY,
        pipeline=pipe,
    )


def enqueue_run(
    conn: Redis,
    run_id: str,
    kind: str,
    since: str = "",
    subject: str = "",
    by: str = "bridge",
    via: str = "schedule",
    part: int = 1,
    at: float | None = None,
) -> str:
    """Queue a catch-up (``resync``) or link audit (``reconcile``) run on the resync lane; return its job id.

    ``subject``: ``zendesk:<ticket id>`` or ``jira:<issue key or id>`` for one subject; ``part``: which of
    the run's jobs this is (each goes on from where the one before stopped); ``at``: not before then
    (epoch seconds; the keeper moves it onto the lane when due)."""
    queue = resync_queue(conn)
    options: dict[str, Any] = {
        "args": (run_id, kind, since, subject, by, via),
        "job_id": f"run-{run_id}-{part}",
        "timeout": defaults.RESYNC_JOB_TIMEOUT_S,
        "result_ttl": defaults.EVENT_JOB_RESULT_TTL_S,
        "failure_ttl": defaults.JOB_FAILURE_TTL_S,
        "description": f"{kind} {subject or ('since ' + since if since else 'everything')} ({run_id})",
        "meta": {"run_id": run_id, "part": part},
        "retry": ABANDONED_RETRY,
    }
    if at is not None and at > time.time():
        # RQ schedules by whole seconds (rounding down): round up, never before it may go.
        job = queue.enqueue_at(datetime.fromtimestamp(math.ceil(at), UTC), RUN_JOB_FUNC, **options)
    else:
        job = queue.enqueue_call(RUN_JOB_FUNC, **options)
    return str(job.id)


def enqueue_due(conn: Redis, names: Iterable[str] | None = None) -> int:
    """Move the scheduled jobs that are due (retries waiting for their time) onto their queues.

    RQ's own scheduler does this in one worker that holds a lock for a minute; the workers' keeper does it
    instead (workers/keeper.py), one worker a round, so that a killed worker never leaves retries waiting.
    Returns how many jobs it moved.
    """
    moved = 0
    for name in names or queue_names():
        queue = Queue(name, connection=conn, serializer=JSONSerializer)
        registry = queue.scheduled_job_registry
        due = registry.get_jobs_to_schedule()
        if not due:
            continue
        jobs = Job.fetch_many(due, connection=conn, serializer=JSONSerializer)
        with conn.pipeline() as pipe:
            for job_id, job in zip(due, jobs, strict=True):
                if job is not None:
                    queue.enqueue_job(job, pipeline=pipe)
                    moved += 1
                registry.remove(job_id, pipeline=pipe)
            pipe.execute()
    return moved


def arm(conn: Redis, destinations: Iterable[str], settings: Settings, at: float | None = None) -> list[str]:
    """Queue a drain job for each destination that has none queued (with ``at``, epoch seconds, scheduled
    for then: its gate holds it until then); return those it queued for."""
    delay = max(0.0, at - time.time()) if at is not None else 0.0
    armed = batches.set_armed(conn, list(destinations), defaults.ARMED_TTL_S + math.ceil(delay))
    if armed:
        queue_drains(conn, armed, settings, delay)
    return armed


def queue_drains(conn: Redis, destinations: list[str], settings: Settings, delay: float = 0.0) -> None:
    """Queue a drain job for each destination whose drain flag the caller raised (``arm``, or a take that
    arms: ``batches.take``), in ``delay`` seconds."""
    with conn.pipeline() as pipe:
        for destination in destinations:
            queue = destination_queue(conn, destination)
            job = queue.create_job(
                DRAIN_JOB_FUNC,
                args=(destination,),
                job_id=f"drain-{destination}-{uuid.uuid4().hex[:12]}",
                timeout=settings.calls_job_timeout_s,
                result_ttl=defaults.DRAIN_JOB_RESULT_TTL_S,
                failure_ttl=defaults.JOB_FAILURE_TTL_S,
                description=f"{destination} calls of the waiting events",
                meta={"destination": destination},
                status=JobStatus.SCHEDULED if delay else JobStatus.QUEUED,
                retry=ABANDONED_RETRY,
            )
            if delay:
                # RQ schedules by whole seconds (rounding down): round up, never before the gate opens.
                queue.schedule_job(job, datetime.fromtimestamp(math.ceil(time.time() + delay), UTC), pipe)
            else:
                queue.enqueue_job(job, pipeline=pipe)
        pipe.execute()


def arm_idle(conn: Redis, settings: Settings) -> list[str]:
    """Arm every destination whose units wait with no drain flag (the workers' maintenance).

    First, units left in flight by a drain job that will not run again (failed for good after its
    retries, deleted, expired) go back to their waiting lists.
    """
    for destination, job_id in batches.holders(conn):
        job = Job.fetch_many([job_id], connection=conn, serializer=JSONSerializer)[0]
        if job is not None and job.get_status(refresh=False) in _MAY_RUN_AGAIN:
            continue
        for _ in range(batches.return_units(conn, destination, job_id)):
            log.warning("returned a unit left in flight by drain job %s to the waiting list", job_id)
    waiting = batches.waiting(conn)
    return arm(conn, [destination for destination, count in waiting.items() if count], settings)


_MAY_RUN_AGAIN = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


PER_JOB_FIELDS = ("created_at", "enqueued_at", "data", "description")
"""Fields of an RQ job hash that differ per job; the id is the hash's key."""

_ARGUMENT = "__argument__"


@dataclass(frozen=True)
class JobTemplate:
    """An RQ job hash as RQ itself writes it (``Job.to_dict``), less the fields each job fills in."""

    fields: dict[str, str]
    """The fixed fields: status, origin, timeout, TTLs, the retries RQ gives an abandoned job..."""
    data_prefix: bytes
    data_suffix: bytes

    def data(self, argument: bytes) -> bytes:
        """Return the job's ``data`` field (function, arguments) around one JSON-encoded argument."""
        # Left uncompressed, which RQ's ``Job.restore`` accepts: the receiver spends no time on zlib.
        return self.data_prefix + argument + self.data_suffix

    @staticmethod
    def meta(meta: dict[str, Any]) -> bytes:
        """Return the job's ``meta`` field holding ``meta``, serialized as RQ serializes it."""
        serialized: bytes = JSONSerializer.dumps(meta)  # type: ignore[no-untyped-call]
        return serialized


def event_job_template(queue: str = EVENTS_QUEUE) -> JobTemplate:
    """Return the hash of an event job on ``queue`` as RQ makes it, with its one argument left open."""
    job = Job.create(
        EVENT_JOB_FUNC,
        args=[_ARGUMENT],
        connection=Redis(),  # never used: nothing is sent
        serializer=JSONSerializer,
        id="template",
        timeout=defaults.EVENT_JOB_TIMEOUT_S,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        origin=queue,
        description="",
        status=JobStatus.QUEUED,
        retry=ABANDONED_RETRY,
    )
    fields = {
        name: str(value.value if isinstance(value, Enum) else value)
        for name, value in job.to_dict().items()
        if name not in PER_JOB_FIELDS
    }
    prefix, found, suffix = job.data.partition(JSONSerializer.dumps(_ARGUMENT))  # type: ignore[no-untyped-call]
    if not found:
        raise RuntimeError("RQ's job data does not hold its argument as JSON: is the serializer still JSON?")
    return JobTemplate(fields, prefix, suffix)
