"""A delivery's trace in the receiver: its spans, and the ``traceparent`` it leaves in the RQ job's meta,
which RQ reads back and the event job continues."""

from __future__ import annotations

import httpx
import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge import job_queues, keys, tracing
from bridge.settings import Settings
from bridge.stores import history
from tests.receiver.conftest import send, signed_jira, signed_zendesk
from tests.values import StartWorker

PROXY_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
"""The trace a tracing proxy in front of the bridge started."""


def _by_name(spans: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans.get_finished_spans()}


def _ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def test_a_delivery_is_one_trace_from_the_webhook_to_its_event_job(
    http: httpx.Client,
    redis_client: redis.Redis,
    settings: Settings,
    worker_process: StartWorker,
    recorded_spans: InMemorySpanExporter,
) -> None:
    worker_process(settings)
    delivery = signed_zendesk(invocation="traced-1")
    delivery.headers["traceparent"] = f"00-{PROXY_TRACE}-00f067aa0ba902b7-01"
    event_id = send(http, delivery).json()["event_id"]

    received = _by_name(recorded_spans)
    server = received["POST /webhooks/zendesk"]
    assert server.kind == SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 202
    assert server.attributes["bridge.event_id"] == event_id
    assert server.attributes["bridge.delivery_id"] == "invocation:traced-1"
    assert _ids(server)[0] == PROXY_TRACE
    for step in ("verify zendesk", "normalize zendesk", "enqueue"):
        parent = received[step].parent
        assert parent is not None
        assert f"{parent.span_id:016x}" == _ids(server)[1]
    enqueue_trace, enqueue_span = _ids(received["enqueue"])
    assert received["enqueue"].kind == SpanKind.PRODUCER

    # RQ reads the meta back; RQ's own save keeps it.
    job = Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer)
    assert job.meta == {tracing.TRACEPARENT: f"00-{enqueue_trace}-{enqueue_span}-01"}
    job.save()
    assert Job.fetch(event_id, connection=redis_client, serializer=JSONSerializer).meta == job.meta

    SimpleWorker([job_queues.EVENTS_QUEUE], connection=redis_client, serializer=JSONSerializer).work(
        burst=True
    )

    taken = _by_name(recorded_spans)["process_event"]
    assert taken.kind == SpanKind.CONSUMER
    assert taken.parent is not None
    assert f"{taken.parent.span_id:016x}" == enqueue_span
    assert _ids(taken)[0] == PROXY_TRACE
    record = history.load_event(redis_client, event_id)
    assert record is not None
    assert record.trace_id == PROXY_TRACE


def test_without_tracing_the_job_has_no_meta_and_the_event_no_trace(
    http: httpx.Client, redis_client: redis.Redis, settings: Settings, worker_process: StartWorker
) -> None:
    worker_process(settings)
    event_id = send(http, signed_jira(identifier="untraced-1")).json()["event_id"]

    assert not redis_client.hexists(keys.RQ_JOB_KEY.format(job_id=event_id), "meta")
    SimpleWorker([job_queues.EVENTS_QUEUE], connection=redis_client, serializer=JSONSerializer).work(
        burst=True
    )
    record = history.load_event(redis_client, event_id)
    assert record is not None
    assert record.trace_id is None


def test_a_refused_delivery_shows_where_it_was_refused(
    http: httpx.Client, recorded_spans: InMemorySpanExporter
) -> None:
    delivery = signed_zendesk(invocation="traced-2")
    delivery.headers["X-Zendesk-Webhook-Signature"] = "forged"

    assert send(http, delivery).status_code == 401

    received = _by_name(recorded_spans)
    assert received["POST /webhooks/zendesk"].attributes is not None
    assert received["POST /webhooks/zendesk"].attributes["http.response.status_code"] == 401
    assert not received["verify zendesk"].status.is_ok
    assert "normalize zendesk" not in received
    assert "enqueue" not in received
