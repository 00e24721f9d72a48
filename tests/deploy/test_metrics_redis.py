"""``/metrics`` over real HTTP with a real Redis: the workers' figures read at scrape time.

The figures are written the way the bridge and RQ write them (``history.record_call``, ``batches.add``,
RQ's own queues, failed registries and workers), then read back through the served ``/metrics``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker, Worker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, upstreams
from bridge.embedded_redis import free_port
from bridge.event import new_event_id
from bridge.ops import metrics_redis
from bridge.receiver.app import create_app
from bridge.serving import ServerThread
from bridge.settings import Settings
from bridge.stores import batches, history
from tests.receiver.conftest import send, signed_jira

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
Scrape = Callable[[], Samples]


def parse(text: str) -> Samples:
    """Return every sample of a Prometheus text exposition by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value (KeyError when it is not served)."""
    return samples[(name, frozenset(labels.items()))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def bridge(settings: Settings) -> Iterator[httpx.Client]:
    """An HTTP client on the receiver app served on loopback with the test settings."""
    with (
        ServerThread(create_app(settings)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def scrape(bridge: httpx.Client) -> Scrape:
    """GET /metrics and return its samples."""

    def get() -> Samples:
        response = bridge.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        return parse(response.text)

    return get


def _event_id_received(seconds_ago: float) -> str:
    """An event id as ``new_event_id`` makes it, for a delivery received ``seconds_ago``."""
    milliseconds = int((time.time() - seconds_ago) * 1000)
    return f"{milliseconds:012x}{uuid.uuid4().hex[:20]}"


def test_event_ids_carry_their_receive_time() -> None:
    assert abs(metrics_redis.received_at(new_event_id()) - time.time()) < 1  # type: ignore[operator]
    assert abs(metrics_redis.received_at(_event_id_received(300)) - (time.time() - 300)) < 1  # type: ignore[operator]
    assert metrics_redis.received_at(str(uuid.uuid4())) is None  # a replay's RQ job id
    assert metrics_redis.received_at("calls-0190aabbccdd") is None
    assert metrics_redis.received_at("0190aabb") is None


def test_calls_by_destination_and_outcome_from_the_workers_records(
    scrape: Scrape, redis_client: redis.Redis
) -> None:
    outcomes: list[tuple[str, history.CallOutcome]] = [
        ("jira", "done"),
        ("jira", "done"),
        ("jira", "failed"),
        ("jira", "retrying"),
        ("jira", "skipped-stale"),
        ("jira", "skipped-duplicate"),
        ("zendesk", "done"),
        ("zendesk", "failed"),
        ("zendesk", "failed"),
    ]
    for index, (destination, outcome) in enumerate(outcomes):
        call: history.CallRecord = {
            "idempotency_key": f"key-{index}",
            "destination": destination,
            "outcome": outcome,
            "ms": 12.5,
        }
        history.record_call(redis_client, new_event_id(), call, 3600)

    samples = scrape()

    assert value(samples, "bridge_redis_up") == 1
    jira = {
        outcome: value(samples, "bridge_upstream_calls_total", destination="jira", outcome=outcome)
        for outcome in ("done", "failed", "retrying", "skipped-stale", "skipped-duplicate")
    }
    assert jira == {"done": 2, "failed": 1, "retrying": 1, "skipped-stale": 1, "skipped-duplicate": 1}
    assert value(samples, "bridge_upstream_calls_total", destination="zendesk", outcome="failed") == 2
    assert value(samples, "bridge_upstream_calls_total", destination="zendesk", outcome="done") == 1
    # Every destination is served, with zeros before its first call.
    for destination in upstreams.DESTINATIONS:
        assert (
            "bridge_upstream_calls_total",
            frozenset({("destination", destination), ("outcome", "done")}),
        ) in (samples)
    assert value(samples, "bridge_upstream_calls_total", destination="jsm", outcome="done") == 0


def test_waiting_events_and_the_age_of_the_oldest_per_queue(
    scrape: Scrape, bridge: httpx.Client, redis_client: redis.Redis
) -> None:
    # Calls waiting for zendesk's drain job: three events, the oldest received 5 minutes ago.
    with redis_client.pipeline() as pipe:
        for seconds_ago in (300, 120, 5):
            batches.add(pipe, _event_id_received(seconds_ago), "zendesk", [{"kind": "comment"}])
        batches.add(pipe, _event_id_received(40), "jira", [{"kind": "link"}])
        pipe.execute()
    # The events queue: a delivery received now, through the real receiver.
    assert send(bridge, signed_jira(identifier="metrics-1")).status_code == 202

    samples = scrape()

    assert value(samples, "bridge_waiting_events", destination="zendesk") == 3
    assert value(samples, "bridge_waiting_events", destination="jira") == 1
    assert value(samples, "bridge_waiting_events", destination="salesforce") == 0
    assert 300 <= value(samples, "bridge_oldest_waiting_seconds", queue="bridge-calls-zendesk") < 310
    assert 40 <= value(samples, "bridge_oldest_waiting_seconds", queue="bridge-calls-jira") < 50
    assert value(samples, "bridge_oldest_waiting_seconds", queue="bridge-calls-jsm") == 0
    assert 0 <= value(samples, "bridge_oldest_waiting_seconds", queue="bridge-events") < 5
    assert value(samples, "bridge_queued_jobs", queue="bridge-events") == 1

    # An older event job put back at the front (a requeue), behind a replay whose id holds no time.
    events = Queue(job_queues.EVENTS_QUEUE, connection=redis_client, serializer=JSONSerializer)
    events.enqueue_call(job_queues.EVENT_JOB_FUNC, args=({},), job_id=_event_id_received(900), at_front=True)
    events.enqueue_call(job_queues.EVENT_JOB_FUNC, args=({},), at_front=True)

    samples = scrape()

    assert 900 <= value(samples, "bridge_oldest_waiting_seconds", queue="bridge-events") < 910
    assert value(samples, "bridge_queued_jobs", queue="bridge-events") == 3


def test_failed_jobs_per_queue_as_rq_counts_them(scrape: Scrape, redis_client: redis.Redis) -> None:
    # Jobs that really fail in an RQ worker land in their queue's failed registry.
    events = Queue(job_queues.EVENTS_QUEUE, connection=redis_client, serializer=JSONSerializer)
    jira_calls = Queue("bridge-calls-jira", connection=redis_client, serializer=JSONSerializer)
    for rq_queue, count in ((events, 2), (jira_calls, 1)):
        for _ in range(count):
            rq_queue.enqueue_call("builtins.int", args=("not a number",))
    SimpleWorker([events, jira_calls], connection=redis_client, serializer=JSONSerializer).work(burst=True)
    # An entry whose failure TTL has passed is no longer counted (RQ drops it at its next cleanup).
    redis_client.zadd("rq:failed:bridge-calls-zendesk", {"expired-job": time.time() - 10})
    jira_calls.enqueue_call("builtins.int", args=("7",))  # queued, not run

    samples = scrape()

    for queue, failed in (("bridge-events", 2), ("bridge-calls-jira", 1), ("bridge-calls-zendesk", 0)):
        assert value(samples, "bridge_failed_jobs", queue=queue) == failed
        registry = FailedJobRegistry(queue, connection=redis_client, serializer=JSONSerializer)
        assert registry.count == failed  # RQ reads the same figure
    assert value(samples, "bridge_queued_jobs", queue="bridge-calls-jira") == 1
    assert {labels for name, labels in samples if name == "bridge_failed_jobs"} == {
        frozenset({("queue", queue)}) for queue in metrics_redis.QUEUES
    }


def test_workers_alive_counts_registered_workers_with_a_live_heartbeat(
    scrape: Scrape, redis_client: redis.Redis
) -> None:
    assert value(scrape(), "bridge_workers") == 0
    queue = Queue(job_queues.EVENTS_QUEUE, connection=redis_client, serializer=JSONSerializer)
    alive = Worker([queue], connection=redis_client, serializer=JSONSerializer, name="alive")
    killed = Worker([queue], connection=redis_client, serializer=JSONSerializer, name="killed")
    alive.register_birth()  # type: ignore[no-untyped-call]
    killed.register_birth()  # type: ignore[no-untyped-call]
    assert value(scrape(), "bridge_workers") == 2
    # Killed outright: no death registered, its heartbeat key expires, it stays in RQ's set of workers.
    redis_client.pexpire(killed.key, 1)
    time.sleep(0.05)
    assert redis_client.sismember("rq:workers", killed.key)
    assert Worker.count(connection=redis_client) == 2  # what RQ's own count says
    assert value(scrape(), "bridge_workers") == 1
    alive.register_death()  # type: ignore[no-untyped-call]
    assert value(scrape(), "bridge_workers") == 0


def test_metrics_answer_without_redis_with_the_receivers_counters(settings: Settings) -> None:
    nobody = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with (
        ServerThread(create_app(nobody)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        started = time.monotonic()
        response = client.get("/metrics")
        took = time.monotonic() - started
        # A delivery meanwhile is answered 503 and counted.
        assert send(client, signed_jira(identifier="down-1")).status_code == 503
        after = parse(client.get("/metrics").text)

    assert response.status_code == 200
    assert took < defaults.REDIS_SOCKET_TIMEOUT_S + 1
    samples = parse(response.text)
    assert value(samples, "bridge_redis_up") == 0
    assert value(samples, "bridge_deliveries_total", source="jira", outcome="accepted") == 0
    assert not {"bridge_workers", "bridge_upstream_calls_total", "bridge_oldest_waiting_seconds"} & names(
        samples
    )
    assert value(after, "bridge_deliveries_total", source="jira", outcome="unavailable") == 1
    assert value(after, "bridge_redis_up") == 0


def test_metrics_come_back_after_redis_drops_the_connection(
    scrape: Scrape, redis_client: redis.Redis
) -> None:
    assert value(scrape(), "bridge_redis_up") == 1
    redis_client.client_kill_filter(_type="normal", skipme=True)
    scrape()  # may meet the dropped connection (redis_up 0): the client connects again for the next
    samples = scrape()
    assert value(samples, "bridge_redis_up") == 1
    assert "bridge_workers" in names(samples)
