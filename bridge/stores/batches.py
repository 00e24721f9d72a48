"""Calls waiting for their destination, made for many events in one RQ job: the lists they wait in.

The planner puts each destination's share of an event's calls (a *unit*: event id, destination,
actions) on the destination's waiting list; the event job then takes one unit per destination itself
(every unit waiting, for an API that takes calls in bulk; none until ``BULK_UNITS_MAX`` wait when the
workers are behind: ``workers.jobs._make_now``) and makes sure a drain job is queued for what is left
(``bridge.job_queues.arm``). A job takes units into its own in-flight list — one at a time, or up to
``BULK_UNITS_MAX`` for an API that takes calls in bulk (their calls merged into one request) — makes
their calls (``workers.jobs.drain_calls``) and drops them: RQ's own cost per job (about 3 ms of worker
CPU and some forty Redis commands) is paid once for many events instead of once per event and
destination. A unit whose calls must wait (Retry-After, backoff, a busy target) continues as an ordinary
scheduled ``run_calls`` job, and one that fails for good becomes a ``run_calls`` job in the failed
registry, with the upstream's answer, that operators requeue as any other.

Nothing is lost on a crash: a unit is on the waiting list or in exactly one drain job's in-flight list
until its calls are made (the move is one Lua step); a drain job that RQ runs again after its worker died
finishes its in-flight units first (the calls already made are skipped by their idempotency keys), and
the maintenance returns the in-flight unit of a drain job that will not run again to the waiting list.

Arming: a drain job deletes its destination's flag before it takes units, so a unit added later is
either taken by that job or arms a new one (an event job that leaves its unit waiting for a bulk request
raises the flag in the take's own step, ``take(..., arm=True)``); the workers' maintenance arms any
destination whose units wait with no flag (a worker that died between adding a unit and queueing its
drain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson
from redis import Redis
from redis.client import Pipeline

from bridge import defaults, keys, tracing
from bridge.connections import text
from bridge.upstreams import DESTINATIONS

# Finish the units in hand (ARGV[6..]), then take the next into the in-flight list of ARGV[4]: its own
# in-flight units first (left by an earlier run of the job whose worker died), else up to ARGV[1] of the
# oldest waiting, or none while fewer than ARGV[2] wait; with a queue KEYS[5], that floor holds only while
# the queue holds at least ARGV[3] jobs. Taking none while units wait, it raises the drain flag KEYS[4] for
# ARGV[5] seconds unless that is 0 or the flag is up. The reply ends with how many units still wait, then
# 1 if it raised the flag (a drain job is to be queued), else 0. One round trip.
_NEXT = """
for i = 6, #ARGV do redis.call('LREM', KEYS[2], 1, ARGV[i]) end
local held = redis.call('LRANGE', KEYS[2], 0, -1)
if #held > 0 then
  held[#held + 1] = redis.call('LLEN', KEYS[1])
  held[#held + 1] = 0
  return held
end
local need = tonumber(ARGV[2])
if KEYS[5] and redis.call('LLEN', KEYS[5]) < tonumber(ARGV[3]) then need = 1 end
local taken = {}
if redis.call('LLEN', KEYS[1]) >= need then
  for _ = 1, tonumber(ARGV[1]) do
    local unit = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
    if not unit then break end
    taken[#taken + 1] = unit
  end
end
if #taken > 0 then redis.call('SADD', KEYS[3], ARGV[4]) else redis.call('SREM', KEYS[3], ARGV[4]) end
local waiting = redis.call('LLEN', KEYS[1])
local raised = 0
if #taken == 0 and waiting > 0 and ARGV[5] ~= '0' and redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[5]) then
  raised = 1
end
taken[#taken + 1] = waiting
taken[#taken + 1] = raised
return taken
"""
# Give the in-flight units of a drain job that will not run again back to the head of their destination's
# waiting list, last first: they wait in the order they were taken, before the units that came after them.
_RETURN = """
local unit = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not unit then redis.call('SREM', KEYS[3], ARGV[1]) end
return unit
"""


def add(
    pipe: Pipeline,
    event_id: str,
    destination: str,
    actions: list[dict[str, Any]],
    traceparent: str | None = None,
) -> None:
    """Put an event's calls to ``destination`` on its waiting list (in the caller's transaction); with the
    ``traceparent`` of the trace the calls continue (``bridge/tracing.py``), when traces are recorded."""
    unit: dict[str, Any] = {"event_id": event_id, "destination": destination, "actions": actions}
    if traceparent:
        unit[tracing.TRACEPARENT] = traceparent
    pipe.rpush(keys.WAITING_KEY.format(destination=destination), orjson.dumps(unit))


def set_armed(conn: Redis, destinations: list[str], ttl_s: int = defaults.ARMED_TTL_S) -> list[str]:
    """Flag each destination as having a drain job queued (for ``ttl_s``: its scheduled time and
    ``ARMED_TTL_S`` more); return those that had none (to queue one for)."""
    with conn.pipeline(transaction=False) as pipe:
        for destination in destinations:
            pipe.set(keys.ARMED_KEY.format(destination=destination), 1, nx=True, ex=ttl_s)
        flags = pipe.execute()
    return [destination for destination, flag in zip(destinations, flags, strict=True) if flag]


def waiting(conn: Redis) -> dict[str, int]:
    """Return how many events' calls wait for each destination's next drain job."""
    with conn.pipeline(transaction=False) as pipe:
        for destination in DESTINATIONS:
            pipe.llen(keys.WAITING_KEY.format(destination=destination))
        counts = pipe.execute()
    return dict(zip(DESTINATIONS, (int(count) for count in counts), strict=True))


def holders(conn: Redis) -> list[tuple[str, str]]:
    """Return ``(destination, job id)`` of every drain job that holds a unit in flight."""
    found = []
    for member in conn.smembers(keys.IN_FLIGHT_JOBS_KEY):
        destination, _, job_id = text(member).partition("|")
        found.append((destination, job_id))
    return found


def return_units(conn: Redis, destination: str, job_id: str) -> int:
    """Give the in-flight units of a drain job that will not run again back to the waiting list."""
    returning = conn.register_script(_RETURN)
    script_keys = [
        keys.IN_FLIGHT_KEY.format(job_id=job_id),
        keys.WAITING_KEY.format(destination=destination),
        keys.IN_FLIGHT_JOBS_KEY,
    ]
    returned = 0
    while returning(keys=script_keys, args=[f"{destination}|{job_id}"]) is not None:
        returned += 1
    return returned


def disarm(conn: Redis, destination: str) -> None:
    """Say that the destination's queued drain job has started: the next unit added arms a new one."""
    conn.delete(keys.ARMED_KEY.format(destination=destination))


Writes = Callable[[Pipeline], object]
"""Writes that go with a take or a put-down, in its transaction (the count-down of the units finished)."""


class Taken(NamedTuple):
    """What a take took (units, oldest first), and how many units still wait."""

    units: list[bytes]
    waiting: int
    armed: bool = False
    """Whether this take raised the destination's drain flag (``arm``): a drain job is to be queued."""


def take(
    conn: Redis,
    destination: str,
    job_id: str,
    finished: Sequence[bytes] = (),
    count: int = 1,
    with_it: Writes | None = None,
    at_least: int = 1,
    while_queued: tuple[str, int] | None = None,
    arm: bool = False,
) -> Taken:
    """Drop the units ``finished`` from the job's in-flight list and take the next into it: the job's own
    in-flight units when it holds some (a re-run), else up to ``count`` of the oldest waiting, or none
    while fewer than ``at_least`` wait; with ``while_queued`` (an RQ queue's name, a number of jobs), that
    floor holds only while the queue holds at least that many jobs. With ``arm``, taking none while units
    wait raises the destination's drain flag (``set_armed``), unless it is up, and says so. ``with_it``
    adds writes to the same transaction (one round trip)."""
    script_keys = [
        keys.WAITING_KEY.format(destination=destination),
        keys.IN_FLIGHT_KEY.format(job_id=job_id),
        keys.IN_FLIGHT_JOBS_KEY,
        keys.ARMED_KEY.format(destination=destination),
    ]
    queued_at_least = 0
    if while_queued is not None:
        script_keys.append(keys.RQ_QUEUE_KEY.format(queue=while_queued[0]))
        queued_at_least = while_queued[1]
    member = f"{destination}|{job_id}"
    # A transaction only to join ``with_it``'s writes: the script alone is one atomic step.
    with conn.pipeline(transaction=with_it is not None) as pipe:
        if with_it is not None:
            with_it(pipe)
        arm_s = defaults.ARMED_TTL_S if arm else 0
        pipe.eval(
            _NEXT, len(script_keys), *script_keys, count, at_least, queued_at_least, member, arm_s, *finished
        )
        *units, waiting, armed = pipe.execute()[-1]
    return Taken(units, int(waiting), bool(armed))


def let_go(pipe: Pipeline, destination: str, job_id: str) -> None:
    """Say, in the caller's transaction, that job ``job_id`` holds no unit of ``destination`` any more (its
    units leave the in-flight list with the same transaction: a take's ``finished``)."""
    pipe.srem(keys.IN_FLIGHT_JOBS_KEY, f"{destination}|{job_id}")


def put_down(
    conn: Redis, destination: str, job_id: str, finished: Sequence[bytes], with_it: Writes | None = None
) -> int:
    """Drop the units ``finished`` from the in-flight list of a drain job that stops taking units (with
    ``with_it``'s writes, in one transaction); return how many units still wait for ``destination``."""
    with conn.pipeline(transaction=True) as pipe:
        if with_it is not None:
            with_it(pipe)
        for unit in finished:
            pipe.lrem(keys.IN_FLIGHT_KEY.format(job_id=job_id), 1, unit.decode())
        pipe.srem(keys.IN_FLIGHT_JOBS_KEY, f"{destination}|{job_id}")
        pipe.llen(keys.WAITING_KEY.format(destination=destination))
        return int(pipe.execute()[-1])
