"""The end of the slice: an accepted delivery is an RQ job that a worker runs."""

from __future__ import annotations

import httpx
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.settings import Settings
from tests.receiver.conftest import send, signed_zendesk
from tests.values import StartWorker


def test_event_arrives_as_an_rq_job_and_a_worker_takes_it_in(
    http: httpx.Client, redis_client: redis.Redis, settings: Settings, worker_process: StartWorker
) -> None:
    # The default rules name the Zendesk site in links (the test settings have one); no upstream is called
    # here (calls queues stay put).
    worker_process(settings)
    event_id = send(http, signed_zendesk(invocation="worker-1")).json()["event_id"]

    job = Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == job_queues.EVENTS_QUEUE

    worker = SimpleWorker([job_queues.EVENTS_QUEUE], connection=redis_client, serializer=JSONSerializer)
    worker.work(burst=True)

    assert (
        Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer).get_status()
        == JobStatus.FINISHED
    )
    assert redis_client.lrange(keys.RECEIVED_LOG_KEY, 0, -1) == [event_id.encode()]


def test_the_job_hash_is_the_one_rq_writes_and_reads(http: httpx.Client, redis_client: redis.Redis) -> None:
    event_id = send(http, signed_zendesk(invocation="template-1")).json()["event_id"]

    job = Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer)
    assert job.func_name == job_queues.EVENT_JOB_FUNC
    (event,) = job.args
    assert event["id"] == event_id
    assert event["source"] == "zendesk"
    assert job.kwargs == {}
    assert job.retries_left == job_queues.ABANDONED_RETRY.max
    assert job.retry_intervals == job_queues.ABANDONED_RETRY.intervals
    assert job.timeout == defaults.EVENT_JOB_TIMEOUT_S
    assert job.result_ttl == defaults.EVENT_JOB_RESULT_TTL_S
    assert job.failure_ttl == defaults.JOB_FAILURE_TTL_S
    assert job.description == f"{event['type']} ticket {event['subject']['id']}"
    assert job.created_at is not None
    assert job.enqueued_at is not None
    # Field for field the hash RQ itself saves for such a job: saving it again changes only the encoding of
    # data (RQ compresses it) and of the times (RQ writes microseconds, the receiver milliseconds).
    written = redis_client.hgetall(keys.RQ_JOB_KEY.format(job_id=event_id))
    job.save()
    saved = redis_client.hgetall(keys.RQ_JOB_KEY.format(job_id=event_id))
    assert written.keys() == saved.keys()
    per_job = {b"data", b"created_at", b"enqueued_at"}
    assert {k: v for k, v in written.items() if k not in per_job} == {
        k: v for k, v in saved.items() if k not in per_job
    }
    again = Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer)
    assert (again.args, again.created_at, again.enqueued_at) == (job.args, job.created_at, job.enqueued_at)
