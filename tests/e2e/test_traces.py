"""Traces end to end: ``bridge web`` and ``bridge worker`` exporting OTLP/HTTP to a collector on loopback,
configured by the OTEL_* variables alone; and, with none set, a bridge that exports nothing and works."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from bridge import keys, samples
from tests.conftest import RedisServer
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, running_bridge, wait_until
from tests.e2e.otlp_collector import Collector, ReceivedSpan, serve_collector

SPEC_DEFAULT_PORT = 4318
"""Where an exporter sends when no endpoint is set: a bridge that wrongly traced would send here."""


def _spans_of_trace(collector: Collector, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in collector.spans() if span.trace_id == trace_id]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


@pytest.fixture
def collector() -> Iterator[Collector]:
    with serve_collector() as running:
        yield running


@pytest.fixture
def traced(
    collector: Collector, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bridge]:
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-key=c0llect0r-s3cret",
        "OTEL_SERVICE_NAME": "bridge-e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second, not the default 5 s
    }
    with running_bridge(redis_server, tmp_path_factory, otel) as running:
        yield running


def test_one_delivery_is_one_trace_from_the_webhook_to_each_upstream_call(
    traced: Bridge, collector: Collector
) -> None:
    event_id = traced.zendesk(samples.zendesk_trigger("7101", "TRC-1")).json()["event_id"]
    traced.wait_event(event_id)

    def delivery_span() -> ReceivedSpan | None:
        return next(
            (
                span
                for span in collector.spans()
                if span.name == "POST /webhooks/zendesk"
                and span.attributes.get("bridge.event_id") == event_id
            ),
            None,
        )

    received = wait_until(delivery_span, 20, "the receiver's span at the collector")
    assert received.resource["service.name"] == "bridge-e2e"
    assert received.resource["bridge.process"] == "web"
    assert received.attributes["http.response.status_code"] == 202

    def whole_trace() -> list[ReceivedSpan] | None:
        spans = _spans_of_trace(collector, received.trace_id)
        posts = [
            span for span in spans if span.name == "POST" and span.attributes.get("bridge.idempotency_key")
        ]
        # The remote link and the Zendesk link, and the job's own span: it ends after all of its calls,
        # so once it is exported every span of the job is (the Jira Software link's POST is a third).
        done = any(span.name == "process_event" for span in spans)
        return spans if len(posts) >= 2 and done else None

    spans = wait_until(whole_trace, 20, "the worker's spans of the delivery's trace")
    by_id = {span.span_id: span for span in spans}
    names = {span.name for span in spans}
    assert {
        "verify zendesk",
        "normalize zendesk",
        "enqueue",
        "process_event",
        "calls jira",
        "calls zendesk",
    } <= names
    (job,) = [span for span in spans if span.name == "process_event"]
    assert job.resource["bridge.process"] == "worker"
    assert by_id[job.parent_span_id].name == "enqueue"
    assert job.attributes["bridge.event_id"] == event_id

    calls = {span.attributes["bridge.call.kind"]: span for span in spans if span.name.startswith("call ")}
    assert {"jira.remote_link.upsert", "zendesk.jira_link.create"} <= calls.keys()
    for call in calls.values():
        assert call.attributes["bridge.outcome"] == "done"
        assert by_id[call.parent_span_id].name.startswith("calls ")
    upsert = calls["jira.remote_link.upsert"]
    (post,) = [span for span in spans if span.name == "POST" and span.parent_span_id == upsert.span_id]
    assert post.attributes["bridge.idempotency_key"] == upsert.attributes["bridge.idempotency_key"]
    assert post.attributes["http.response.status_code"] == 201
    assert post.attributes["server.address"] == "127.0.0.1"
    assert post.attributes["url.full"].endswith("/jira/rest/api/2/issue/10000/remotelink")

    # Nothing secret went to the collector; its own header went with every export.
    exported = repr([(span.attributes, span.resource) for span in collector.spans()])
    for secret in (traced.env["JIRA_API_TOKEN"], traced.env["ZENDESK_WEBHOOK_SECRET"], OPS_PASSWORD):
        assert secret not in exported
    assert "authorization" not in exported.lower()
    assert all(request["x-collector-key"] == "c0llect0r-s3cret" for request in collector.requests)

    # The operators find the trace from the event.
    auth = (OPS_USER, OPS_PASSWORD)
    answer = httpx.get(f"{traced.url}/api/ops/events/{event_id}", auth=auth, timeout=10).json()
    assert answer["trace_id"] == received.trace_id
    page = httpx.get(f"{traced.url}/dashboard/events/{event_id}", auth=auth, timeout=10)
    assert f'trace <code class="trace-id">{received.trace_id}</code>' in page.text


def test_without_otel_variables_nothing_is_exported_and_the_bridge_works(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with ExitStack() as stack:
        # Where an exporter would send by default, when nobody else listens there.
        spec_default = (
            stack.enter_context(serve_collector(SPEC_DEFAULT_PORT)) if _port_free(SPEC_DEFAULT_PORT) else None
        )
        bridge = stack.enter_context(running_bridge(redis_server, tmp_path_factory))
        assert not any(name.startswith("OTEL_") for name in bridge.env)

        event_id = bridge.zendesk(samples.zendesk_trigger("7102", "TRC-2")).json()["event_id"]
        bridge.wait_event(event_id)

        links = bridge.control.state()["jira"]["remote_links"].get("TRC-2", [])
        assert len(links) == 1
        assert not bridge.redis.hexists(keys.EVENT_KEY.format(event_id=event_id), "traceparent")
        answer = httpx.get(
            f"{bridge.url}/api/ops/events/{event_id}", auth=(OPS_USER, OPS_PASSWORD), timeout=10
        ).json()
        assert answer["trace_id"] is None
        page = httpx.get(
            f"{bridge.url}/dashboard/events/{event_id}", auth=(OPS_USER, OPS_PASSWORD), timeout=10
        )
        assert "trace-id" not in page.text
    if spec_default is not None:
        assert spec_default.spans() == []  # the processes have exited: anything batched was sent by now


def test_pooled_worker_processes_send_their_spans_before_they_end(
    collector: Collector, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Spans are batched for a minute here: only the flush at a worker's end can deliver them in time. A
    # pool's worker processes end with os._exit, which runs none of the SDK's exit handlers.
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    with running_bridge(redis_server, tmp_path_factory, otel) as bridge:
        (listening,) = bridge.workers
        listening.terminate()  # the pooled workers below take the delivery
        listening.wait(timeout=30)
        event_id = bridge.zendesk(samples.zendesk_trigger("7103", "TRC-3")).json()["event_id"]

        pooled = subprocess.run(
            [sys.executable, "-m", "bridge", "worker", "--burst", "--concurrency", "2"],
            env=bridge.env,
            capture_output=True,
            timeout=120,
        )
        assert pooled.returncode == 0, pooled.stderr.decode()[-2000:]
        bridge.wait_event(event_id, timeout_s=5)

        taken = [
            span
            for span in collector.spans()
            if span.name == "process_event" and span.attributes.get("bridge.event_id") == event_id
        ]
        assert len(taken) == 1
        trace = taken[0].trace_id
        assert {"call jira.remote_link.upsert", "POST"} <= {
            span.name for span in _spans_of_trace(collector, trace)
        }
