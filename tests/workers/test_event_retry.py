"""An event job that must wait (its source's gate holds, say) runs again later: the event is recorded once.

Real Redis, the real sandbox, the bridge's worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.connections import text
from bridge.stores import breaker, history
from bridge.upstreams.sandbox import SandboxConfig, serve_in_thread
from tests.rules.events import ticket
from tests.values import StartWorker
from workers.worker import BridgeWorker


@pytest.fixture
def conn(redis_url: str, worker_process: StartWorker) -> Iterator[redis.Redis]:
    with serve_in_thread(SandboxConfig()) as sandbox:
        # The gates are read where the jobs run: this test's Redis.
        worker_process(sandbox.config.settings_for(sandbox.url).replace(redis_url=redis_url))
        client = redis.Redis.from_url(redis_url)
        yield client
        client.close()


def _work(conn: redis.Redis) -> None:
    queue = Queue(job_queues.EVENTS_QUEUE, connection=conn, serializer=JSONSerializer)
    BridgeWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True)


def test_an_event_job_rescheduled_without_using_an_attempt_records_its_event_once(conn: redis.Redis) -> None:
    # Jira's gate holds its requests (a 429's pause), so the key the ticket names cannot be looked up: the
    # job runs again when the gate opens, on the same attempt. Its second run must not record the event
    # again (a second entry in the received log, a second count in the minute's figures).
    event = ticket("7501", "RTY-1")
    breaker.pause(conn, "jira", time.time() + 1)
    job_queues.events_queue(conn).enqueue_call(
        job_queues.EVENT_JOB_FUNC,
        args=(event,),
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        meta={"event_id": event["id"]},
        retry=job_queues.ABANDONED_RETRY,
    )
    _work(conn)
    first = history.load_event(conn, event["id"])
    assert first is not None
    assert first.calls == []  # it waits: nothing was planned yet
    deadline = time.monotonic() + 10
    while not job_queues.enqueue_due(conn):
        assert time.monotonic() < deadline, "the job never came due again"
        time.sleep(0.1)
    _work(conn)

    record = history.load_event(conn, event["id"])
    assert record is not None
    assert record.status in ("planned", "done")
    received = [text(entry) for entry in conn.lrange(keys.RECEIVED_LOG_KEY, 0, -1)]
    assert received.count(event["id"]) == 1
    minute_events = sum(
        int(conn.hget(key, "events") or 0) for key in conn.scan_iter(keys.MINUTE_KEY.format(minute="*"))
    )
    assert minute_events == 1
