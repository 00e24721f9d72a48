"""The bridge's RQ worker on real Redis: fewer heartbeats without a shorter life, retries moved by the keeper."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.connection
import rq.rate_limit
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from bridge.embedded_redis import EmbeddedRedis
from bridge.job_queues import enqueue_due
from bridge.settings import Settings
from tests.values import StartWorker
from workers.worker import BridgeWorker


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


def test_due_retries_are_moved_by_whichever_worker_and_a_burst_takes_them(
    redis_client: redis.Redis, settings: Settings, worker_process: StartWorker
) -> None:
    worker_process(settings)
    queue = Queue("scheduler-test", connection=redis_client, serializer=JSONSerializer)
    due = queue.enqueue_at(datetime.now(UTC) - timedelta(seconds=1), "builtins.len", "abc")
    later = queue.enqueue_at(datetime.now(UTC) + timedelta(hours=1), "builtins.len", "abcd")

    # No scheduler holds a lock on them: any worker's keeper moves the due ones, and only those.
    assert enqueue_due(redis_client, ["scheduler-test"]) == 1
    assert due.get_status(refresh=True) == "queued"
    assert later.get_status(refresh=True) == "scheduled"

    worker = _worker(redis_client, "scheduler-test")
    worker.work(burst=True)
    assert due.get_status(refresh=True) == "finished"
    assert worker.scheduler is None  # RQ's scheduler (a forked child) never runs in the bridge's worker


def test_a_job_ends_as_rqs_own_worker_leaves_it_in_two_round_trips(
    redis_client: redis.Redis,
    settings: Settings,
    worker_process: StartWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bridge's worker writes a job's start in one transaction and its end in another, without RQ's
    # look for dependent jobs or its after-the-job heartbeat: what a job leaves in Redis must not change.
    worker_process(settings)
    sent: list[int] = []
    counting = threading.Event()
    send = redis.connection.Connection.send_packed_command

    def counted(self: redis.connection.Connection, command: Any, check_health: bool = True) -> None:
        if counting.is_set() and threading.current_thread() is threading.main_thread():  # not the keeper's
            sent[-1] += 1
        send(self, command, check_health)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    ended = {}
    states: list[object] = []
    for worker_class in (SimpleWorker, BridgeWorker):
        queue = Queue(f"parity-{worker_class.__name__}", connection=redis_client, serializer=JSONSerializer)
        job = queue.enqueue("builtins.len", "abcd", result_ttl=600)
        worker = worker_class([queue], connection=redis_client, serializer=JSONSerializer)
        execute_job = worker.execute_job

        def counted_job(job: Job, queue: Queue, execute: Any = execute_job, key: str = worker.key) -> None:
            sent.append(0)
            counting.set()
            try:
                execute(job, queue)
            finally:
                counting.clear()
            states.append(redis_client.hget(key, "state"))

        worker.execute_job = counted_job  # type: ignore[method-assign]
        worker.work(burst=True)
        job.refresh()  # type: ignore[no-untyped-call]
        ended[worker_class] = {
            "status": job.get_status(refresh=True),
            "result": job.return_value(),
            "worker": job.worker_name == worker.name,
            "finished": job.id in FinishedJobRegistry(queue=queue),
            "started": job.id in StartedJobRegistry(queue=queue),
            "executions": redis_client.keys(f"rq:execution:{job.id}*"),
            "job ttl": 0 < redis_client.ttl(job.key) <= 600,
        }
        if worker_class is BridgeWorker:
            stats = redis_client.hmget(worker.key, "successful_job_count", "total_working_time")
    assert ended[SimpleWorker] == ended[BridgeWorker]
    assert ended[BridgeWorker]["status"] == "finished"
    assert ended[BridgeWorker]["result"] == 4
    assert ended[BridgeWorker]["finished"]
    assert (int(stats[0] or 0), float(stats[1] or 0) > 0) == (1, True)  # the worker's own counts
    assert states == [b"idle", b"idle"]  # the worker says it is idle once the job is done
    rq_own, bridge = sent
    assert bridge == 2, sent  # RQ's own: two before the job, three after it, and its idle state
    assert rq_own >= bridge + 4, sent


def test_a_stop_that_lands_as_a_job_ends_is_a_warm_one(
    redis_client: redis.Redis,
    settings: Settings,
    worker_process: StartWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # RQ's stop handler reads the worker's state in memory: busy, it lets the job in hand finish and stops
    # before the next; idle, it raises at once. The end of a job writes "idle" to Redis for the dequeue
    # that follows: the state in memory must stay busy until then, or a SIGTERM landing there fails the
    # finished job and the stop is lost.
    worker_process(settings)
    queue = Queue("warm-stop", connection=redis_client, serializer=JSONSerializer)
    jobs = [queue.enqueue("builtins.len", "abcd", result_ttl=600) for _ in range(3)]
    release = rq.rate_limit.release_slot
    signalled: list[str] = []

    def release_then_stop(job: Job) -> list[str]:
        released = release(job)
        if not signalled:  # the first job's end is committed: the stop lands now
            signalled.append(job.id)
            os.kill(os.getpid(), signal.SIGTERM)
        return released

    monkeypatch.setattr("workers.worker.release_slot", release_then_stop)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        _worker(redis_client, "warm-stop").work(burst=True)
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert [job.get_status(refresh=True) for job in jobs] == ["finished", "queued", "queued"]
    assert FailedJobRegistry(queue=queue).count == 0


def test_a_worker_waits_redis_out_when_it_writes_its_state_before_a_dequeue() -> None:
    # RQ writes "idle" first thing in its dequeue, outside the dequeue's own retries: a worker that met
    # Redis away there exited (seen in the soak, after a job whose failure Redis was away to record).
    with EmbeddedRedis() as server:
        conn = redis.Redis.from_url(server.url)
        worker = _worker(conn, "state-test")
        worker.set_state(WorkerStatus.BUSY)  # a job in hand
        server.stop()
        back = threading.Timer(1.0, server.start)
        back.start()
        try:
            worker.set_state(WorkerStatus.IDLE)
        finally:
            back.join()
        assert conn.hget(worker.key, "state") == b"idle"
        conn.close()


def test_a_worker_stops_listening_on_its_channel_within_two_seconds(redis_client: redis.Redis) -> None:
    # RQ polls its pub/sub channel (stop-job and shutdown commands) with a 60 s wait, and redis-py 8.2's
    # PubSubWorkerThread.stop() joins the thread: a worker whose thread had gone back to its wait before the
    # stop flag was set (a race that load makes likely) took up to a minute to exit on SIGTERM.
    worker = _worker(redis_client, "pubsub-test")
    worker.subscribe()
    pubsub = worker.pubsub
    assert pubsub is not None
    # The thread is past the channel's confirmation and waiting again, as when the race is lost.
    _wait(lambda: bool(pubsub.subscribed))
    pubsub.unsubscribe()  # type: ignore[no-untyped-call]
    _wait(lambda: not pubsub.subscribed)
    time.sleep(0.2)

    asked = time.monotonic()
    worker.unsubscribe()  # type: ignore[no-untyped-call]
    assert time.monotonic() - asked < 2.0


def _wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)
