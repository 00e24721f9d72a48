"""Dedupe and enqueue a normalized event in one atomic Redis step.

One Lua script checks the delivery id, and if it is new, writes the RQ job hash, pushes the job on its
queue, remembers the delivery id and keeps the raw delivery — all or nothing. A crash can therefore
neither lose an accepted event nor mark a delivery seen without its job, and two copies arriving at the
same moment are serialized by Redis: the second finds the first's event id.

The job hash is the one RQ writes itself (``rq.job.Job.to_dict``), with the JSON serializer's payload
left uncompressed, which ``Job.restore`` accepts, so workers and dashboards see an ordinary RQ job.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from bridge import defaults, job_queues, keys
from bridge.event import Event

# KEYS: dedupe, job, raw delivery, queue, set of queues
# retries_left: a job abandoned by a worker that died (kill -9) is queued again by RQ's registry cleanup.
# ARGV: event id, now, job data, description, raw delivery, then the constants of _CONSTANT_ARGS
_DEDUPE_AND_ENQUEUE = """
local first = redis.call('GET', KEYS[1])
if first then
    return first
end
redis.call('HSET', KEYS[2],
    'created_at', ARGV[2], 'enqueued_at', ARGV[2], 'data', ARGV[3], 'description', ARGV[4],
    'origin', ARGV[7], 'status', 'queued', 'timeout', ARGV[8], 'result_ttl', ARGV[9], 'failure_ttl', ARGV[10],
    'started_at', '', 'ended_at', '', 'last_heartbeat', '', 'worker_name', '', 'group_id', '',
    'success_callback_name', '', 'failure_callback_name', '', 'stopped_callback_name', '',
    'retries_left', '3', 'retry_intervals', '[0]')
redis.call('RPUSH', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], KEYS[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[6])
redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[11])
return false
"""
_SCRIPT_SHA = hashlib.sha1(_DEDUPE_AND_ENQUEUE.encode()).hexdigest().encode()  # noqa: S324 (Redis's naming)

# RQ's own key layout (rq.job.Job.key_for, rq.queue.Queue.key, Queue.redis_queues_keys).
RQ_JOB_KEY = "rq:job:{job_id}"
RQ_QUEUE_KEY = "rq:queue:{queue}"
RQ_QUEUES_SET = "rq:queues"


@dataclass(frozen=True)
class Enqueued:
    """Outcome of ``EventQueue.put``: the event id that stands for the delivery, and whether it was new."""

    event_id: str
    duplicate: bool


@dataclass
class _Pending:
    command: bytes
    answer: asyncio.Future[str | None]


class EventQueue:
    """The receiver's side of the events queue: one script call per accepted delivery.

    Deliveries that arrive while a call to Redis is in flight are sent together in the next write, one
    EVALSHA each: every delivery keeps its own atomic script, and the cost of a round trip is shared.
    """

    def __init__(self, redis: Redis, queue: str = job_queues.EVENTS_QUEUE) -> None:
        self._redis = redis
        queue_key = RQ_QUEUE_KEY.format(queue=queue)
        # What every call sends alike is encoded once.
        self._head = b"*%d\r\n$7\r\nEVALSHA\r\n%b%b" % (3 + 5 + 11, _bulk(_SCRIPT_SHA), _bulk(b"5"))
        self._fixed_keys = _bulk(queue_key.encode()) + _bulk(RQ_QUEUES_SET.encode())
        self._fixed_args = b"".join(
            _bulk(str(value).encode())
            for value in (
                defaults.DEDUPE_TTL_S,
                queue,
                defaults.EVENT_JOB_TIMEOUT_S,
                defaults.EVENT_JOB_RESULT_TTL_S,
                defaults.JOB_FAILURE_TTL_S,
                defaults.RAW_DELIVERY_TTL_S,
            )
        )
        self._pending: list[_Pending] = []
        self._flushing = False

    async def put(self, event: Event, delivery_key: str, raw_delivery: bytes) -> Enqueued:
        """Enqueue ``event`` unless ``delivery_key`` was seen; return the event id that stands for it."""
        event_id = event["id"].encode()
        job_data = orjson.dumps([job_queues.EVENT_JOB_FUNC, None, [event], {}])
        description = f"{event['type']} {event['subject']['kind']} {event['subject']['id']}"
        dedupe_key = keys.DEDUPE_KEY.format(source=event["source"], delivery=delivery_key)
        command = b"".join(
            (
                self._head,
                _bulk(dedupe_key.encode()),
                _bulk(b"rq:job:" + event_id),
                _bulk(b"bridge:raw:" + event_id),
                self._fixed_keys,
                _bulk(event_id),
                # received_at ("…T02:00:00.123Z") is already in RQ's own format (rq.utils.utcparse).
                _bulk(event["received_at"].encode()),
                _bulk(job_data),
                _bulk(description.encode()),
                _bulk(raw_delivery),
                self._fixed_args,
            )
        )
        pending = _Pending(command, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        first = await pending.answer
        if first is None:
            return Enqueued(event["id"], duplicate=False)
        return Enqueued(first, duplicate=True)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[_Pending]) -> None:
        try:
            try:
                results = await self._call_all(batch)
            except NoScriptError:
                # Redis restarted or flushed its script cache: load the script again and resend.
                await self._redis.script_load(_DEDUPE_AND_ENQUEUE)
                results = await self._call_all(batch)
        except Exception as exc:
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
            return
        for pending, result in zip(batch, results, strict=True):
            if pending.answer.done():
                continue
            if isinstance(result, Exception):
                pending.answer.set_exception(result)
            else:
                pending.answer.set_result(result.decode() if isinstance(result, bytes) else result)

    async def _call_all(self, batch: list[_Pending]) -> list[Any]:
        # One write of every EVALSHA, then one read per reply, on a connection of the client's own pool:
        # redis-py keeps TLS, AUTH, SELECT and the hiredis parser; its per-command pipeline bookkeeping,
        # which cost more than the rest of a delivery together, is skipped.
        pool = self._redis.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(b"".join(p.command for p in batch), check_health=False)
            results: list[Any] = []
            for _ in batch:
                try:
                    results.append(await connection.read_response())
                except ResponseError as error:  # an error reply; the replies after it still follow
                    results.append(error)
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)
        if any(isinstance(result, NoScriptError) for result in results):
            raise NoScriptError("NOSCRIPT")
        return results


def _bulk(value: bytes) -> bytes:
    """Encode one RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)
