"""A bridge worker takes a waiting job and its hash in one round trip, in its queues' order."""

from __future__ import annotations

import pytest
import redis
import redis.connection
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge.settings import Settings
from tests.redis_requests import sent_to_redis
from tests.values import StartWorker
from workers.dequeue import BridgeQueue
from workers.worker import BridgeWorker


def _queues(conn: redis.Redis) -> list[Queue]:
    return [BridgeQueue(name, connection=conn, serializer=JSONSerializer) for name in ("first", "second")]


def _dequeue(conn: redis.Redis, queues: list[Queue], timeout: int | None = None) -> tuple[Job, Queue] | None:
    return BridgeQueue.dequeue_any(queues, timeout, connection=conn, serializer=JSONSerializer)


def test_the_first_queue_holding_a_job_gives_it_with_its_hash_in_one_round_trip(
    redis_client: redis.Redis,
) -> None:
    first, second = _queues(redis_client)
    later = second.enqueue("builtins.len", "abc", job_id="later")
    sooner = first.enqueue("builtins.len", "abcd", job_id="sooner", meta={"attempt": 2})
    _dequeue(redis_client, [first, second])  # the script loaded: not the dequeue's own round trip
    first.enqueue_job(sooner)

    with sent_to_redis() as sent:
        taken = _dequeue(redis_client, [first, second])
    assert len(sent) == 1
    assert taken is not None
    job, queue = taken
    assert (job.id, queue.name) == ("sooner", "first")
    assert (job.func_name, job.args, job.meta) == ("builtins.len", ["abcd"], {"attempt": 2})
    assert job.perform() == 4
    # It left its queue, as RQ's own pop takes it; the other queue's job is next.
    assert first.count == 0
    taken = _dequeue(redis_client, [first, second])
    assert taken is not None
    assert (taken[0].id, taken[1].name, taken[0].args) == (later.id, "second", ["abc"])
    assert _dequeue(redis_client, [first, second]) is None


def test_a_job_whose_hash_is_gone_or_holds_no_job_is_skipped_and_an_empty_wait_times_out_as_rqs(
    redis_client: redis.Redis,
) -> None:
    first, second = _queues(redis_client)
    gone = first.enqueue("builtins.len", "ab", job_id="gone")
    redis_client.delete(gone.key)
    # A hash with no job in it (what a late heartbeat's write leaves): RQ's Job.fetch says there is no such
    # job, and its dequeue goes on to the next.
    redis_client.hset(Job.key_for("husk"), "last_heartbeat", "2026-12-07T00:00:00.000000Z")
    redis_client.rpush(first.key, "husk")
    kept = second.enqueue("builtins.len", "abc", job_id="kept")
    taken = _dequeue(redis_client, [first, second])
    assert taken is not None
    assert taken[0].id == kept.id
    assert redis_client.llen(first.key) == redis_client.llen(second.key) == 0
    with pytest.raises(DequeueTimeout):
        _dequeue(redis_client, [first, second], timeout=1)


def test_a_hash_that_cannot_be_read_raises_with_its_job_and_queue(redis_client: redis.Redis) -> None:
    first, second = _queues(redis_client)
    redis_client.hset(Job.key_for("broken"), mapping={"data": "[]", "created_at": "not a time"})
    redis_client.rpush(first.key, "broken")
    with pytest.raises(ValueError, match="not a time") as raised:
        _dequeue(redis_client, [first, second])
    assert getattr(raised.value, "job_id", None) == "broken"
    assert getattr(raised.value, "queue", None) is first


def test_a_bridge_worker_takes_its_jobs_with_it(
    redis_client: redis.Redis,
    settings: Settings,
    worker_process: StartWorker,
) -> None:
    worker_process(settings)
    first, second = _queues(redis_client)
    job = second.enqueue("builtins.len", "abcde")
    plain = [
        Queue(queue.name, connection=redis_client, serializer=JSONSerializer) for queue in (first, second)
    ]
    worker = BridgeWorker(plain, connection=redis_client, serializer=JSONSerializer)
    with sent_to_redis() as sent:
        taken = worker.dequeue_job_and_maintain_ttl(None)
    assert taken is not None
    assert (taken[0].id, taken[1].name) == (job.id, "second")
    # The worker's dequeue is the script's (RQ's own pops, then reads the job's hash).
    assert any(b"EVALSHA" in request for request in sent)
    assert not any(b"LPOP" in request or b"HGETALL" in request for request in sent)
