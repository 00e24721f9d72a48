"""Worker pieces on real Redis and the real sandbox: the shipped JSM example, and the shared rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib import resources

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bridge import job_queues
from bridge.stores import ratelimit
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread
from tests.rules.events import issue
from workers import context
from workers.run import BridgeWorker, queue_names

EXAMPLE = str(resources.files("bridge.rules").joinpath("examples/jsm_maintenance.yaml"))
ACTION = "Create alert from monitoring"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


@pytest.fixture
def example_worker(
    sandbox: RunningSandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[redis.Redis]:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BRIDGE_RULES", EXAMPLE)
    context.reset()
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()
    context.reset()


def _drain(conn: redis.Redis) -> None:
    queues = [Queue(name, connection=conn, serializer=JSONSerializer) for name in queue_names()]
    BridgeWorker(queues, connection=conn, serializer=JSONSerializer).work(burst=True)


def _enabled(sandbox: RunningSandbox) -> bool:
    with SandboxControl(sandbox.url) as control:
        (action,) = [
            a for a in control.state()["jsm"]["integrations"]["sandbox-integration"] if a["name"] == ACTION
        ]
        return bool(action["enabled"])


def test_jsm_example_disables_the_action_during_maintenance_and_enables_it_after(
    sandbox: RunningSandbox, example_worker: redis.Redis
) -> None:
    with SandboxControl(sandbox.url) as control:
        control.seed_integration(
            "sandbox-integration",
            [{"name": ACTION, "type": "create", "domain": "alert", "direction": "incoming", "enabled": True,
              "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []}}],
        )  # fmt: skip
    events = Queue(job_queues.EVENTS_QUEUE, connection=example_worker, serializer=JSONSerializer)

    events.enqueue(job_queues.EVENT_JOB_FUNC, issue("OPS-7", tickets=None, issuetype="Maintenance",
                                                   status=("In Progress", "indeterminate")))  # fmt: skip
    _drain(example_worker)
    assert _enabled(sandbox) is False

    events.enqueue(job_queues.EVENT_JOB_FUNC, issue("OPS-7", tickets=None, issuetype="Maintenance",
                                                   status=("Done", "done")))  # fmt: skip
    _drain(example_worker)
    assert _enabled(sandbox) is True


def test_the_rate_limit_is_shared_through_redis(redis_client: redis.Redis) -> None:
    other_worker = redis.Redis(connection_pool=redis_client.connection_pool)
    # Two workers share 5 calls per second: the sixth call in the same second has to wait.
    while time.time() % 1 > 0.5:  # start early in a second, so the window does not roll over mid-test
        time.sleep(0.05)
    waits = [ratelimit.reserve(redis_client if n % 2 else other_worker, "zendesk", 5) for n in range(6)]
    assert waits[:5] == [0.0] * 5
    assert 0 < waits[5] <= 1.0
