"""Failed jobs at any count: pages merged newest first across queues, "requeue all" in batches, audited."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.errors import NotFound
from bridge.ops import actor, service
from bridge.stores import audit
from tests.ops.conftest import AUTH


def _fail(conn: redis.Redis, destination: str, job_id: str, age_s: float, event_id: str | None = None) -> Job:
    """Put a calls job in ``destination``'s failed registry as the worker does, failed ``age_s`` ago."""
    queue = job_queues.destination_queue(conn, destination)
    job = Job.create(
        job_queues.CALLS_JOB_FUNC,
        args=(event_id or job_id, destination, [], 1),
        connection=conn,
        serializer=JSONSerializer,
        id=job_id,
        origin=queue.name,
        meta={"event_id": event_id, "destination": destination, "upstream_status": 403, "error": "refused"},
    )
    with conn.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.save(pipeline=pipe)
        FailedJobRegistry(queue=queue).add(job, ttl=int(defaults.JOB_FAILURE_TTL_S - age_s), pipeline=pipe)
        pipe.execute()
    return job


def test_a_page_is_the_newest_failures_of_every_queue(redis_client: redis.Redis) -> None:
    for n in range(12):  # interleaved over three destinations, job-0 the newest
        _fail(redis_client, ("jira", "zendesk", "salesforce")[n % 3], f"job-{n}", age_s=10 * n)
    # An entry past its expiry is not shown (RQ's cleanup would drop it), nor counted.
    _fail(redis_client, "jsm", "expired", 0)
    redis_client.zadd("rq:failed:bridge-calls-jsm", {"expired": time.time() - 5})

    first = service.failed_page(redis_client, page=1, per_page=5)
    second = service.failed_page(redis_client, page=2, per_page=5)
    zendesk = service.failed_page(redis_client, "zendesk", page=1, per_page=3)

    assert first["total"] == 12
    assert [job["job_id"] for job in first["jobs"] + second["jobs"]] == [f"job-{n}" for n in range(10)]
    assert [job["job_id"] for job in zendesk["jobs"]] == ["job-1", "job-4", "job-7"]
    assert zendesk["total"] == 4


def test_a_failed_job_says_what_it_is_about(redis_client: redis.Redis) -> None:
    event = {
        "id": "ev-1",
        "source": "zendesk",
        "type": "ticket.updated",
        "subject": {"kind": "ticket", "id": "5002"},
    }
    redis_client.hset(keys.EVENT_KEY.format(event_id="ev-1"), "event", orjson.dumps(event))
    _fail(redis_client, "zendesk", "calls-ev-1-zendesk", 1, event_id="ev-1")

    (job,) = service.failed_page(redis_client)["jobs"]

    assert job["subject"] == "ticket 5002"
    assert job["upstream_status"] == 403


def test_requeue_all_takes_every_failed_job_in_batches_and_records_it_once(redis_client: redis.Redis) -> None:
    for n in range(1050):
        _fail(redis_client, "zendesk" if n % 2 else "jira", f"job-{n}", age_s=n)
    # A registry entry whose job hash is gone is dropped, not retried forever.
    redis_client.zadd("rq:failed:bridge-calls-jira", {"gone": time.time() + 1000})

    with actor.acting(actor.Actor("ann", "api")):
        result = service.requeue_all_failed(redis_client, batch=100)

    assert result["requeued"] == 1050
    assert len(result["job_ids"]) == 100
    queued = Queue("bridge-calls-jira", connection=redis_client).count
    queued += Queue("bridge-calls-zendesk", connection=redis_client).count
    assert queued == 1050
    assert service.failed_page(redis_client)["total"] == 0
    requeued = Job.fetch("job-7", connection=redis_client, serializer=JSONSerializer)
    assert requeued.get_status() == JobStatus.QUEUED
    assert "upstream_status" not in requeued.meta  # its next outcome is what its row shows
    assert requeued.meta["requeued_by"] == "ann (api)"
    (entry,) = audit.recent(redis_client)
    assert (entry.actor, entry.via, entry.action, entry.target) == (
        "ann",
        "api",
        "requeue-all",
        "every destination",
    )
    assert entry.detail == "1050 job(s) requeued"


def test_a_requeued_job_no_longer_shows_its_old_answer(redis_client: redis.Redis) -> None:
    _fail(redis_client, "zendesk", "job-x", 1)

    with actor.acting(actor.Actor("bob", "dashboard")):
        service.requeue_failed(redis_client, "job-x")
    job = Job.fetch("job-x", connection=redis_client, serializer=JSONSerializer)
    job.set_status(JobStatus.FINISHED)  # what the worker does when it runs it again

    (summary,) = service.search(redis_client, "job-x")["jobs"]
    assert (summary["status"], summary["upstream_status"], summary["error"]) == ("finished", None, None)
    assert summary["requeued_by"] == "bob (dashboard)"
    (entry,) = audit.recent(redis_client)
    assert (entry.actor, entry.action, entry.target, entry.ok) == ("bob", "requeue", "job-x", True)


def test_a_refused_action_is_recorded_as_failed(redis_client: redis.Redis) -> None:
    with actor.acting(actor.Actor("bob", "dashboard")), pytest.raises(NotFound):
        service.delete_job(redis_client, "no-such-job")

    (entry,) = audit.recent(redis_client)
    assert (entry.action, entry.ok, entry.detail) == ("delete", False, "no job 'no-such-job'")


def test_deep_pages_are_in_order_and_together_hold_every_job_once(redis_client: redis.Redis) -> None:
    destinations = ("jira", "zendesk", "salesforce")
    for n in range(1300):
        # RQ scores by whole seconds: jobs 600 to 659 failed in the same second, a tie across the queues.
        _fail(redis_client, destinations[n % 3], f"job-{n}", age_s=600 if 600 <= n < 660 else n)
    score: dict[str, float] = {}
    for destination in destinations:
        key = FailedJobRegistry.key_template.format(
            job_queues.DESTINATION_QUEUE.format(destination=destination)
        )
        entries: list[tuple[bytes, float]] = redis_client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        score.update((member.decode(), value) for member, value in entries)
    newest_first = sorted(score.values(), reverse=True)

    pages = [service.failed_page(redis_client, page=page, per_page=25) for page in range(1, 54)]

    shown = [job["job_id"] for page in pages for job in page["jobs"]]
    assert sorted(shown) == sorted(score)  # every job once, on the shallow and the deep pages alike
    assert [score[job_id] for job_id in shown] == newest_first  # newest first; a tie in any order
    assert pages[-1]["jobs"] == []


def test_the_api_pages_failed_jobs_as_the_dashboard_does(redis_client: redis.Redis, ops_url: str) -> None:
    for n in range(7):
        _fail(redis_client, ("jira", "zendesk")[n % 2], f"job-{n}", age_s=10 * n)

    def page(**params: str) -> httpx.Response:
        return httpx.get(ops_url + "/api/ops/failed", params=params, auth=AUTH, timeout=10)

    first = page(per_page="3")
    assert [job["job_id"] for job in first.json()] == ["job-0", "job-1", "job-2"]
    assert first.headers["X-Total-Count"] == "7"
    assert first.headers["Link"] == '</api/ops/failed?page=2&per_page=3>; rel="next"'
    last = page(per_page="3", page="3")
    assert [job["job_id"] for job in last.json()] == ["job-6"]
    assert "Link" not in last.headers
    zendesk = page(destination="zendesk", per_page="2", page="2")
    assert [job["job_id"] for job in zendesk.json()] == ["job-5"]
    assert zendesk.headers["X-Total-Count"] == "3"
    assert len(page().json()) == 7  # without parameters: the newest 200, as before
    for name, value in (("per_page", "0"), ("per_page", "201"), ("page", "x")):
        refused = page(**{name: value})
        assert refused.status_code == 400
        assert name in refused.json()["error"]
