"""The traces of jobs that run apart from their delivery: a drain job making many events' calls, a retry.

Each event's calls continue its own trace (the event page's trace id finds them); a drain job has a span
of its own, linked with each event's. Real Redis, the real sandbox, spans recorded in memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rq import Queue
from rq.serializers import JSONSerializer

from bridge import job_queues, tracing
from bridge.rules.model import PlannedAction
from bridge.stores import batches
from bridge.upstreams.sandbox import RunningSandbox, SandboxControl
from tests.values import StartWorker
from workers import process
from workers.worker import BridgeWorker

JIRA_QUEUE = job_queues.DESTINATION_QUEUE.format(destination="jira")


@pytest.fixture
def conn(
    sandbox: RunningSandbox, redis_url: str, worker_process: StartWorker, recorded_spans: InMemorySpanExporter
) -> Iterator[redis.Redis]:
    worker_process(sandbox.config.settings_for(sandbox.url))
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _delivered(conn: redis.Redis, issue: str) -> tuple[str, str]:
    """Plan a remote link for ``issue`` as an event job does, inside a delivery's trace; return the event
    id and the trace id."""
    event_id = f"event-{issue}"
    action = PlannedAction(
        kind="jira.remote_link.upsert",
        destination="jira",
        target=f"jira:{issue}",
        params={"issue": issue, "global_id": f"system=zd&id={issue}", "url": "https://zd/1", "title": "T"},
        rule="test",
        event_id=event_id,
        sequence=1,
        subject=f"zendesk:ticket:{issue}",
    )
    with tracing.span(f"POST /webhooks/zendesk ({issue})", "server") as delivery, conn.pipeline() as pipe:
        batches.add(pipe, event_id, "jira", [action.to_dict()], tracing.traceparent())
        pipe.execute()
    trace_id = tracing.trace_id(delivery.traceparent)
    assert trace_id is not None
    return event_id, trace_id


def _work(conn: redis.Redis) -> None:
    queue = Queue(JIRA_QUEUE, connection=conn, serializer=JSONSerializer)
    BridgeWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True)


def _trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def _spans(recorded: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in recorded.get_finished_spans() if span.name == name]


def _attribute(span: ReadableSpan, name: str) -> Any:
    assert span.attributes is not None
    return span.attributes.get(name)


def test_a_drain_jobs_calls_continue_each_events_trace_and_link_to_the_job(
    conn: redis.Redis, recorded_spans: InMemorySpanExporter
) -> None:
    first_event, first_trace = _delivered(conn, "TR-1")
    second_event, second_trace = _delivered(conn, "TR-2")
    job_queues.arm(conn, ["jira"], process.current().settings)

    _work(conn)

    (drain,) = _spans(recorded_spans, "drain_calls")
    assert _trace(drain) not in (first_trace, second_trace)
    assert sorted(f"{link.context.trace_id:032x}" for link in drain.links) == sorted(
        [first_trace, second_trace]
    )
    units = {_attribute(span, "bridge.event_id"): span for span in _spans(recorded_spans, "calls jira")}
    assert {event: _trace(span) for event, span in units.items()} == {
        first_event: first_trace,
        second_event: second_trace,
    }
    assert drain.context is not None
    for unit in units.values():
        assert [link.context.span_id for link in unit.links] == [drain.context.span_id]
    # Under each unit: the planned call, and under it the HTTP request with the call's idempotency key.
    calls = _spans(recorded_spans, "call jira.remote_link.upsert")
    posts = _spans(recorded_spans, "POST")
    assert {_trace(call) for call in calls} == {_trace(post) for post in posts} == {first_trace, second_trace}
    for call in calls:
        (post,) = [
            post
            for post in posts
            if post.parent and call.context and post.parent.span_id == call.context.span_id
        ]
        assert _attribute(post, "bridge.idempotency_key") == _attribute(call, "bridge.idempotency_key")
        assert _attribute(post, "http.response.status_code") == 201
        assert _attribute(call, "bridge.outcome") == "done"


def test_a_retry_continues_the_trace_of_its_event(
    conn: redis.Redis, sandbox: RunningSandbox, recorded_spans: InMemorySpanExporter
) -> None:
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", method="POST", status=503, retry_after=1, times=1)
    event_id, trace = _delivered(conn, "TR-3")
    job_queues.arm(conn, ["jira"], process.current().settings)
    _work(conn)  # 503: the call waits for Retry-After in a scheduled run_calls job
    assert _spans(recorded_spans, "run_calls") == []

    deadline = time.monotonic() + 5  # due at the next whole second after Retry-After (RQ's resolution)
    while not job_queues.enqueue_due(conn):
        assert time.monotonic() < deadline, "the retry never came due"
        time.sleep(0.1)
    _work(conn)

    (retry,) = _spans(recorded_spans, "run_calls")
    assert _trace(retry) == trace
    assert _attribute(retry, "bridge.event_id") == event_id
    tries = _spans(recorded_spans, "POST")
    assert [(_trace(post), _attribute(post, "http.response.status_code")) for post in tries] == [
        (trace, 503),
        (trace, 201),
    ]
