"""Calls waiting for their destination, made for many events in one RQ job.

``process_event`` puts each destination's share of an event's calls (a *unit*: event id, destination,
actions) on the destination's waiting list and makes sure a drain job is queued on the destination's
queue. A drain job takes the units one at a time into its own in-flight list, makes their calls
(``jobs.make_calls``) and drops them: RQ's own cost per job (about 3 ms of worker CPU and some forty
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
import time
import uuid
from typing import Any

import orjson
from redis import Redis
from redis.client import Pipeline
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import constants
from bridge.redis_conn import text
from bridge.settings import Settings
from workers import context

log = logging.getLogger("bridge.worker")

WAITING_KEY = constants.CALLS_WAITING_KEY
ARMED_KEY = constants.KEY_PREFIX + "calls:{destination}:armed"
IN_FLIGHT_KEY = constants.KEY_PREFIX + "calls:in-flight:{job_id}"
IN_FLIGHT_JOBS_KEY = constants.KEY_PREFIX + "calls:in-flight"
"""Set of ``destination|job id`` of the drain jobs that took a unit (the maintenance checks them)."""
DRAIN_FUNC = "workers.batches.drain"
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


def arm(conn: Redis, destination: str, settings: Settings) -> str | None:
    """Queue a drain job for ``destination`` unless one is queued already; return its id if queued."""
    if not conn.set(ARMED_KEY.format(destination=destination), 1, nx=True, ex=ARMED_TTL_S):
        return None
    from workers.jobs import ABANDONED_RETRY, calls_queue  # jobs imports this module

    job = calls_queue(conn, destination).enqueue_call(
        DRAIN_FUNC,
        args=(destination,),
        job_id=f"drain-{destination}-{uuid.uuid4().hex[:12]}",
        timeout=settings.calls_job_timeout_s,
        result_ttl=constants.DRAIN_JOB_RESULT_TTL_S,
        failure_ttl=constants.EVENT_JOB_FAILURE_TTL_S,
        description=f"{destination} calls of the waiting events",
        meta={"destination": destination},
        retry=ABANDONED_RETRY,
    )
    return str(job.id)


def arm_idle(conn: Redis, settings: Settings) -> list[str]:
    """Arm every destination whose units wait with no drain flag (the workers' maintenance).

    First, units left in flight by a drain job that will not run again (failed for good after its
    retries, deleted, expired) go back to their waiting lists.
    """
    _return_orphans(conn)
    armed = []
    for destination in constants.DESTINATIONS:
        if conn.llen(WAITING_KEY.format(destination=destination)) and arm(conn, destination, settings):
            armed.append(destination)
    return armed


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


def waiting(conn: Redis) -> dict[str, int]:
    """Return how many units wait for each destination (for the overview)."""
    with conn.pipeline(transaction=False) as pipe:
        for destination in constants.DESTINATIONS:
            pipe.llen(WAITING_KEY.format(destination=destination))
        counts = pipe.execute()
    return dict(zip(constants.DESTINATIONS, (int(count) for count in counts), strict=True))


def drain(destination: str) -> dict[str, Any]:
    """Make the calls of waiting units for ``destination`` (an RQ job), within half the job's timeout."""
    from workers.jobs import failed_calls_job, make_calls  # jobs imports this module

    job = get_current_job()
    assert job is not None, "runs inside an RQ job"
    conn: Redis = job.connection
    settings = context.current().settings
    conn.delete(ARMED_KEY.format(destination=destination))
    keys = [
        WAITING_KEY.format(destination=destination),
        IN_FLIGHT_KEY.format(job_id=job.id),
        IN_FLIGHT_JOBS_KEY,
    ]
    member = f"{destination}|{job.id}"
    take = conn.register_script(_NEXT)
    deadline = time.monotonic() + settings.calls_job_timeout_s / 2
    in_hand: bytes = b""
    units = failed = 0
    while True:
        if in_hand and (STOPPING.is_set() or units >= DRAIN_MAX_UNITS or time.monotonic() > deadline):
            with conn.pipeline(transaction=True) as pipe:
                pipe.lrem(keys[1], 1, in_hand.decode())
                pipe.srem(IN_FLIGHT_JOBS_KEY, member)
                pipe.execute()
            break
        raw = take(keys=keys, args=[in_hand, member])
        if raw is None:
            break
        unit = orjson.loads(raw)
        description = f"{destination} calls of event {unit['event_id']}"
        meta = {"event_id": unit["event_id"], "destination": destination}
        outcome = make_calls(
            conn, unit["event_id"], destination, unit["actions"], 1, job.id, description, meta
        )
        if outcome.failed_meta is not None:
            failed_calls_job(conn, unit["event_id"], destination, outcome, description, meta)
            failed += 1
        in_hand = raw
        units += 1
    if conn.llen(keys[0]):
        arm(conn, destination, settings)
    return {"units": units, "failed": failed}
