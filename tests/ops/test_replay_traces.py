"""A replay's trace: its own, linked to the trace of the event it replays (whose trace id stays the
delivery's on the event's page)."""

from __future__ import annotations

import redis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge import job_queues, tracing
from bridge.ops import preview, service
from bridge.settings import Settings
from bridge.stores import history
from tests.values import StartWorker


def test_a_replay_is_a_trace_of_its_own_linked_to_the_replayed_events(
    redis_client: redis.Redis,
    settings: Settings,
    worker_process: StartWorker,
    recorded_spans: InMemorySpanExporter,
) -> None:
    worker_process(settings)
    event = preview.sample_event("zendesk", settings)
    with tracing.span("POST /webhooks/zendesk", "server") as delivery:
        history.save_event(redis_client, event, settings.record_retention_s)
    delivered = tracing.trace_id(delivery.traceparent)

    answer = service.replay(redis_client, event["id"])
    job = Job.fetch(answer["job_id"], connection=redis_client, serializer=JSONSerializer)
    assert job.meta[job_queues.REPLAY_OF_TRACE] == delivery.traceparent
    SimpleWorker([job_queues.EVENTS_QUEUE], connection=redis_client, serializer=JSONSerializer).work(
        burst=True
    )

    spans = {span.name: span for span in recorded_spans.get_finished_spans()}
    replay, taken = spans["replay"], spans["process_event"]
    assert replay.context is not None
    assert taken.context is not None
    assert f"{replay.context.trace_id:032x}" != delivered
    assert [f"{link.context.trace_id:032x}" for link in replay.links] == [delivered]
    assert taken.parent is not None
    assert taken.parent.span_id == replay.context.span_id
    assert [f"{link.context.trace_id:032x}" for link in taken.links] == [delivered]
    record = history.load_event(redis_client, event["id"])
    assert record is not None
    assert record.trace_id == delivered  # the event's trace stays its delivery's
