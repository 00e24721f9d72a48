"""The bridge's RQ worker on real Redis: fewer heartbeats without a shorter life, scheduler in a thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bridge.settings import Settings
from tests.values import StartWorker
from workers.worker import BridgeWorker, ThreadScheduler


def _worker(redis_client: redis.Redis, name: str) -> BridgeWorker:
    queue = Queue(name, connection=redis_client, serializer=JSONSerializer)
    return BridgeWorker([queue], connection=redis_client, serializer=JSONSerializer)


def test_skipped_heartbeats_never_shorten_the_workers_life(redis_client: redis.Redis) -> None:
    worker = _worker(redis_client, "heartbeat-test")
    worker.register_birth()  # type: ignore[no-untyped-call]
    default = worker.worker_ttl + 60

    worker.heartbeat()
    assert redis_client.ttl(worker.key) >= default - 1
    # RQ asks for a shorter life right after (e.g. while a job runs): the longer one stands, no write.
    redis_client.expire(worker.key, default + 100)  # marks whether the next beat writes
    worker.heartbeat(30)
    assert redis_client.ttl(worker.key) >= default + 99
    # A longer life than the last beat gave is always written.
    worker.heartbeat(default + 1000)
    assert redis_client.ttl(worker.key) >= default + 999
    worker.register_death()  # type: ignore[no-untyped-call]


def test_enqueue_at_retries_are_moved_by_a_scheduler_thread(
    redis_client: redis.Redis, settings: Settings, worker_process: StartWorker
) -> None:
    worker_process(settings)  # what the bridge's worker runs with (its grace, its maintenance)
    queue = Queue("scheduler-test", connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue_at(datetime.now(UTC) - timedelta(seconds=1), "builtins.len", "abc")
    worker = _worker(redis_client, "scheduler-test")

    worker.work(burst=True, with_scheduler=True)

    assert isinstance(worker.scheduler, ThreadScheduler)
    assert job.get_status(refresh=True) == "finished"
    # In a long-running worker the scheduler is a thread of the worker process, never a child process.
    scheduler = ThreadScheduler([queue], connection=redis_client, serializer=JSONSerializer)
    scheduler.acquire_locks()  # type: ignore[no-untyped-call]
    thread = scheduler.start()
    assert isinstance(thread, threading.Thread)
    assert thread.is_alive()
    scheduler.stop_thread()
    assert not thread.is_alive()
