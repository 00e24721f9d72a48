"""The shipped JSM example on real Redis and the real sandbox, run by the bridge's worker."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bridge import job_queues
from bridge.job_queues import queue_names
from bridge.upstreams.sandbox import RunningSandbox, SandboxControl
from tests.rules.events import issue
from tests.values import StartWorker
from workers.worker import BridgeWorker

EXAMPLE = str(resources.files("bridge.rules").joinpath("examples/jsm_maintenance.yaml"))
ACTION = "Create alert from monitoring"


@pytest.fixture
def example_worker(
    sandbox: RunningSandbox, redis_url: str, worker_process: StartWorker
) -> Iterator[redis.Redis]:
    worker_process(sandbox.config.settings_for(sandbox.url).replace(rules_path=EXAMPLE))
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


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
