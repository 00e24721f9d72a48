"""Calls waiting for their destination, made for many events in one RQ job.

``process_event`` puts each destination's share of an event's calls (a *unit*: event id, destination,
actions) on the destination's waiting list and makes sure a drain job is queued on the destination's
queue. A drain job takes the units one at a time into its own in-flight list, makes their calls
(``jobs.drain_calls``) and drops them: RQ's own cost per job (about 3 ms of worker CPU and some forty
Redis commands) is paid once for many events instead of once per event and destination. A unit whose
calls must wait (Retry-After, backoff, a busy target) continues as an ordinary scheduled ``run_calls``
job, and one that fails for good becomes a ``run_calls`` job in the failed registry, with the upstream's
answer, that operators requeue as any other.

Nothing is lost on a crash: a unit is on the waiting list or in exactly one drain job's in-flight list
until its calls are made (the move is one Lua step); a drain job that RQ runs again after its worker died
finishes its in-flight unit first (the calls already made are skipped by their idempotency keys), and
the maintenance returns the in-flight unit of a drain job that will not run again to the waiting list.

Arming: a drain job deletes its destination's flag before it takes units, so a unit added later is
either taken by that job or arms a new one; the workers' maintenance arms any destination whose units
wait with no flag (a worker that died between adding a unit and queueing its drain).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from redis import Redis
from redis.client import Pipeline
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import constants, records
from bridge.redis_conn import text
from bridge.settings import Settings
from workers.queues import ABANDONED_RETRY, calls_queue

log = logging.getLogger("bridge.worker")

WAITING_KEY = constants.CALLS_WAITING_KEY
ARMED_KEY = constants.KEY_PREFIX + "calls:{destination}:armed"
IN_FLIGHT_KEY = constants.KEY_PREFIX + "calls:in-flight:{job_id}"
IN_FLIGHT_JOBS_KEY = constants.KEY_PREFIX + "calls:in-flight"
"""Set of ``destination|job id`` of the drain jobs that took a unit (the maintenance checks them)."""
DRAIN_FUNC = "workers.jobs.drain_calls"
ARMED_TTL_S = 10
"""How long a destination counts as having a drain job queued: should that job be lost (deleted by an
operator, say), the next event or the maintenance queues another after this, not never."""
DRAIN_MAX_UNITS = 200
"""Units one drain job takes at most before it hands over to a new job (and to other queues)."""

STOPPING = threading.Event()
"""Set when the worker was asked to stop (SIGTERM): a drain finishes the unit in hand and ends."""

# Finish the unit in hand (if any), then take the next: this job's own in-flight unit first (left by an
# earlier run of the job whose worker died), else the oldest waiting one. One round trip per unit.
_NEXT = """
if ARGV[1] ~= '' then redis.call('LREM', KEYS[2], 1, ARGV[1]) end
local left = redis.call('LINDEX', KEYS[2], 0)
if left then return left end
local unit = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
if unit then redis.call('SADD', KEYS[3], ARGV[2]) else redis.call('SREM', KEYS[3], ARGV[2]) end
return unit
"""
# Give the in-flight unit of a drain job that will not run again back to its destination's waiting list.
_RETURN = """
local unit = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'LEFT')
if not unit then redis.call('SREM', KEYS[3], ARGV[1]) end
return unit
"""


def add(pipe: Pipeline, event_id: str, destination: str, actions: list[dict[str, Any]]) -> None:
    """Put an event's calls to ``destination`` on its waiting list (in the caller's transaction)."""
    unit = {"event_id": event_id, "destination": destination, "actions": actions}
    pipe.rpush(WAITING_KEY.format(destination=destination), orjson.dumps(unit))


def arm(conn: Redis, destinations: Iterable[str], settings: Settings) -> list[str]:
    """Queue a drain job for each destination that has none queued; return those it queued for."""
    destinations = list(destinations)
    with conn.pipeline(transaction=False) as pipe:
        for destination in destinations:
            pipe.set(ARMED_KEY.format(destination=destination), 1, nx=True, ex=ARMED_TTL_S)
        flags = pipe.execute()
    armed = [destination for destination, flag in zip(destinations, flags, strict=True) if flag]
    if not armed:
        return []
    with conn.pipeline() as pipe:
        for destination in armed:
            calls_queue(conn, destination).enqueue_call(
                DRAIN_FUNC,
                args=(destination,),
                job_id=f"drain-{destination}-{uuid.uuid4().hex[:12]}",
                timeout=settings.calls_job_timeout_s,
                result_ttl=constants.DRAIN_JOB_RESULT_TTL_S,
                failure_ttl=constants.EVENT_JOB_FAILURE_TTL_S,
                description=f"{destination} calls of the waiting events",
                meta={"destination": destination},
                retry=ABANDONED_RETRY,
                pipeline=pipe,
            )
        pipe.execute()
    return armed


def arm_idle(conn: Redis, settings: Settings) -> list[str]:
    """Arm every destination whose units wait with no drain flag (the workers' maintenance).

    First, units left in flight by a drain job that will not run again (failed for good after its
    retries, deleted, expired) go back to their waiting lists.
    """
    _return_orphans(conn)
    waiting = records.waiting_calls(conn)
    return arm(conn, [destination for destination, count in waiting.items() if count], settings)


def disarm(conn: Redis, destination: str) -> None:
    """Say that the destination's queued drain job has started: the next unit added arms a new one."""
    conn.delete(ARMED_KEY.format(destination=destination))


def take(conn: Redis, destination: str, job_id: str, finished: bytes = b"") -> bytes | None:
    """Drop the unit ``finished`` from the drain job's in-flight list and take the next one into it."""
    keys = [
        WAITING_KEY.format(destination=destination),
        IN_FLIGHT_KEY.format(job_id=job_id),
        IN_FLIGHT_JOBS_KEY,
    ]
    unit: bytes | None = conn.register_script(_NEXT)(keys=keys, args=[finished, f"{destination}|{job_id}"])
    return unit


def put_down(conn: Redis, destination: str, job_id: str, finished: bytes) -> None:
    """Drop the unit ``finished`` from the in-flight list of a drain job that stops taking units."""
    with conn.pipeline(transaction=True) as pipe:
        pipe.lrem(IN_FLIGHT_KEY.format(job_id=job_id), 1, finished.decode())
        pipe.srem(IN_FLIGHT_JOBS_KEY, f"{destination}|{job_id}")
        pipe.execute()


def _return_orphans(conn: Redis) -> None:
    returning = conn.register_script(_RETURN)
    for member in conn.smembers(IN_FLIGHT_JOBS_KEY):
        destination, _, job_id = text(member).partition("|")
        job = Job.fetch_many([job_id], connection=conn, serializer=JSONSerializer)[0]
        if job is not None and job.get_status(refresh=False) in _MAY_RUN_AGAIN:
            continue
        keys = [IN_FLIGHT_KEY.format(job_id=job_id), WAITING_KEY.format(destination=destination)]
        while returning(keys=[*keys, IN_FLIGHT_JOBS_KEY], args=[member]) is not None:
            log.warning("returned a unit left in flight by drain job %s to the waiting list", job_id)


_MAY_RUN_AGAIN = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
