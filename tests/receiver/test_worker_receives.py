"""The end of the slice: an accepted delivery is an RQ job that a worker runs."""

from __future__ import annotations

import httpx
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import job_queues, keys
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
