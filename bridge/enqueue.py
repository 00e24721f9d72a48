"""Dedupe and enqueue a normalized event in one atomic Redis step.

One Lua script checks the delivery id, and if it is new, writes the RQ job hash, pushes the job on its
queue, remembers the delivery id and keeps the raw delivery — all or nothing, in one round trip. A crash
can therefore neither lose an accepted event nor mark a delivery seen without its job, and two copies
arriving at the same moment are serialized by Redis: the second finds the first's event id.

The job hash is the one RQ writes itself (``rq.job.Job.to_dict``), with the JSON serializer's payload
left uncompressed, which ``Job.restore`` accepts, so workers and dashboards see an ordinary RQ job.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from bridge import constants
from bridge.event import Event

_DEDUPE_AND_ENQUEUE = """
local first = redis.call('GET', KEYS[1])
if first then
    return first
end
redis.call('HSET', KEYS[2],
    'created_at', ARGV[3], 'enqueued_at', ARGV[3], 'data', ARGV[4], 'origin', ARGV[5],
    'description', ARGV[6], 'status', 'queued', 'timeout', ARGV[7], 'result_ttl', ARGV[8],
    'failure_ttl', ARGV[9], 'started_at', '', 'ended_at', '', 'last_heartbeat', '', 'worker_name', '',
    'success_callback_name', '', 'failure_callback_name', '', 'stopped_callback_name', '', 'group_id', '')
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], KEYS[3])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[5], ARGV[10], 'EX', ARGV[11])
return false
"""

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
    keys: list[str]
    args: list[str | int | bytes]
    answer: asyncio.Future[str | None]


class EventQueue:
    """The receiver's side of the events queue: one script call per accepted delivery.

    Deliveries that arrive while a call to Redis is in flight are sent together in the next pipeline,
    one EVALSHA each: every delivery still gets its own atomic script, but the client's per-command cost
    is paid once per batch. A lone delivery goes out at once.
    """

    def __init__(self, redis: Redis, queue: str = constants.EVENTS_QUEUE) -> None:
        self._redis = redis
        self._queue = queue
        self._queue_key = RQ_QUEUE_KEY.format(queue=queue)
        self._sha_bytes = hashlib.sha1(_DEDUPE_AND_ENQUEUE.encode()).hexdigest().encode()  # noqa: S324
        self._pending: list[_Pending] = []
        self._flushing = False

    async def put(self, event: Event, delivery_key: str, raw_delivery: bytes) -> Enqueued:
        """Enqueue ``event`` unless ``delivery_key`` was seen; return the event id that stands for it."""
        event_id = event["id"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        job_data = orjson.dumps([constants.EVENT_JOB_FUNC, None, [event], {}])
        description = f"{event['type']} {event['subject']['kind']} {event['subject']['id']}"
        pending = _Pending(
            keys=[
                constants.DEDUPE_KEY.format(source=event["source"], delivery=delivery_key),
                RQ_JOB_KEY.format(job_id=event_id),
                self._queue_key,
                RQ_QUEUES_SET,
                constants.RAW_DELIVERY_KEY.format(event_id=event_id),
            ],
            args=[
                event_id,
                constants.DEDUPE_TTL_S,
                now,
                job_data,
                self._queue,
                description,
                constants.EVENT_JOB_TIMEOUT_S,
                constants.EVENT_JOB_RESULT_TTL_S,
                constants.EVENT_JOB_FAILURE_TTL_S,
                raw_delivery,
                constants.RAW_DELIVERY_TTL_S,
            ],
            answer=asyncio.get_running_loop().create_future(),
        )
        self._pending.append(pending)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        first = await pending.answer
        if first is None:
            return Enqueued(event_id, duplicate=False)
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
            results = await self._evalsha_all(batch)
        except NoScriptError:
            # Redis restarted or flushed its script cache: load the script again and resend.
            try:
                await self._redis.script_load(_DEDUPE_AND_ENQUEUE)
                results = await self._evalsha_all(batch)
            except Exception as exc:
                _fail(batch, exc)
                return
        except Exception as exc:
            _fail(batch, exc)
            return
        for pending, result in zip(batch, results, strict=True):
            if pending.answer.done():
                continue
            if isinstance(result, Exception):
                pending.answer.set_exception(result)
            else:
                pending.answer.set_result(result.decode() if isinstance(result, bytes) else result)

    async def _evalsha_all(self, batch: list[_Pending]) -> list[Any]:
        # One write of every EVALSHA, then one read per reply, on a connection of the client's own pool:
        # redis-py keeps TLS, AUTH, SELECT and the hiredis parser; its per-command pipeline bookkeeping,
        # which cost more than the rest of a delivery together, is skipped.
        packed = b"".join(_pack_evalsha(self._sha_bytes, pending.keys, pending.args) for pending in batch)
        pool = self._redis.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(packed, check_health=False)
            results: list[Any] = []
            for _ in batch:
                try:
                    results.append(await connection.read_response())
                except ResponseError as error:  # a reply that is an error; the next replies still follow
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
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _pack_evalsha(sha: bytes, keys: list[str], args: list[str | int | bytes]) -> bytes:
    """Encode one EVALSHA in RESP (what redis-py's pack_command does, for this one command)."""
    parts = [b"*%d\r\n$7\r\nEVALSHA\r\n" % (3 + len(keys) + len(args)), _bulk(sha), _bulk(b"%d" % len(keys))]
    parts += [_bulk(key.encode()) for key in keys]
    parts += [_bulk(arg if isinstance(arg, bytes) else str(arg).encode()) for arg in args]
    return b"".join(parts)


def _fail(batch: list[_Pending], exc: Exception) -> None:
    for pending in batch:
        if not pending.answer.done():
            pending.answer.set_exception(exc)
