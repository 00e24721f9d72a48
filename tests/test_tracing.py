"""Traces: off without OTEL_* variables (nothing of OpenTelemetry even imported), and when on, spans that
continue the trace a ``traceparent`` names, with the settings' exporter, sampler and resource."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bridge import tracing
from bridge.settings import Secret, Settings, key_values

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _named(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    (found,) = [span for span in spans.get_finished_spans() if span.name == name]
    return found


def test_off_hands_out_one_no_op_and_carries_no_trace() -> None:
    assert not tracing.enabled()
    with tracing.span("anything", "server", {"a": 1}, parent=TRACEPARENT, links=[TRACEPARENT]) as span:
        assert span is tracing.OFF
        span.set({"b": 2})
        span.link(TRACEPARENT)
        span.failed("nothing happens")
        assert span.traceparent is None
        assert tracing.traceparent() is None


def test_a_process_without_otel_variables_loads_no_tracing_sdk_and_no_exporter() -> None:
    # The web app and the worker's jobs are built and configured as `bridge web` and `bridge worker` do.
    # (redis-py imports OpenTelemetry's API and metrics SDK by itself when they are installed, for its own
    # metrics, which stay off unless configured: the trace SDK and the exporters are the bridge's.)
    script = (
        "import sys\n"
        "from bridge import tracing\n"
        "from bridge.receiver.factory import app_from_env\n"
        "from bridge.settings import Settings\n"
        "import workers.jobs, bridge.executor, bridge.upstreams.transport\n"
        "app_from_env()\n"
        "assert tracing.configure(Settings.from_env(), 'worker') is False\n"
        "tracers = ('opentelemetry.sdk.trace', 'opentelemetry.exporter', 'opentelemetry.propagators')\n"
        "print(sorted(name for name in sys.modules if name.startswith(tracers)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_span_continues_the_trace_its_traceparent_names_and_links_to_others(
    recorded_spans: InMemorySpanExporter,
) -> None:
    with tracing.span("delivery", "server") as delivery:
        carried = tracing.traceparent()
        assert carried == delivery.traceparent
    job_attributes = {"bridge.event_id": "e1", "none": None}
    with (
        tracing.span("unrelated"),
        tracing.span("job", "consumer", job_attributes, parent=carried) as job,
    ):
        job.link(TRACEPARENT)
        with tracing.span("call"):
            pass

    first, job_span, call = (_named(recorded_spans, name) for name in ("delivery", "job", "call"))
    assert job_span.context is not None
    assert first.context is not None
    assert call.context is not None
    assert job_span.context.trace_id == first.context.trace_id  # not the unrelated span's trace
    assert job_span.parent is not None
    assert job_span.parent.span_id == first.context.span_id
    assert call.parent is not None
    assert call.parent.span_id == job_span.context.span_id
    assert job_span.attributes == {"bridge.event_id": "e1"}
    assert [f"{link.context.trace_id:032x}" for link in job_span.links] == [tracing.trace_id(TRACEPARENT)]
    assert tracing.trace_id(carried) == f"{first.context.trace_id:032x}"


def test_an_exception_leaving_a_span_marks_it_failed(recorded_spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="refused"), tracing.span("verify jira"):
        raise ValueError("refused")
    with tracing.span("failed call") as call:
        call.failed("403 Manage links is off")

    verify = _named(recorded_spans, "verify jira")
    assert not verify.status.is_ok
    assert [event.name for event in verify.events] == ["exception"]
    assert _named(recorded_spans, "failed call").status.description == "403 Manage links is off"


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (TRACEPARENT, "0af7651916cd43dd8448eb211c80319c"),
        (" " + TRACEPARENT + " ", "0af7651916cd43dd8448eb211c80319c"),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", None),  # the invalid trace id
        ("0af7651916cd43dd8448eb211c80319c", None),
        ("", None),
        (None, None),
    ],
)
def test_trace_id_reads_only_a_well_formed_traceparent(value: str | None, found: str | None) -> None:
    assert tracing.trace_id(value) == found


@pytest.mark.parametrize(
    ("variables", "on"),
    [
        ({}, False),
        ({"otel_service_name": "bridge"}, False),  # a name alone exports nothing
        ({"otel_exporter_otlp_endpoint": "http://collector:4318"}, True),
        ({"otel_exporter_otlp_traces_endpoint": "http://collector:4318/v1/traces"}, True),
        ({"otel_traces_exporter": ("console",)}, True),
        ({"otel_traces_exporter": ("none",), "otel_exporter_otlp_endpoint": "http://collector:4318"}, False),
        ({"otel_sdk_disabled": True, "otel_exporter_otlp_endpoint": "http://collector:4318"}, False),
    ],
)
def test_tracing_is_on_only_when_an_exporter_or_endpoint_is_named(
    variables: dict[str, object], on: bool
) -> None:
    assert Settings.model_validate(variables).tracing_enabled is on


def test_the_otlp_endpoint_follows_the_specification() -> None:
    assert tracing.otlp_endpoint(Settings()) == "http://localhost:4318/v1/traces"
    general = Settings(otel_exporter_otlp_endpoint="https://collector.example:4318/otlp/")
    assert tracing.otlp_endpoint(general) == "https://collector.example:4318/otlp/v1/traces"
    signal = general.replace(otel_exporter_otlp_traces_endpoint="https://traces.example/ingest")
    assert tracing.otlp_endpoint(signal) == "https://traces.example/ingest"  # used as it is


def test_configure_builds_the_resource_and_sampler_the_variables_describe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "bridge-staging")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=ops%20desk")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k3y")
    settings = Settings.from_env()
    assert "k3y" not in repr(settings)
    try:
        assert tracing.configure(settings, "worker") is True
        provider = tracing._state.provider
        assert provider is not None
        attributes = provider.resource.attributes
        assert attributes["service.name"] == "bridge-staging"
        assert attributes["deployment.environment"] == "staging"
        assert attributes["team"] == "ops desk"
        assert attributes["bridge.process"] == "worker"
        assert "TraceIdRatioBased{0.25}" in provider.sampler.get_description()
        assert provider.sampler.get_description().startswith("ParentBased")
    finally:
        tracing.shutdown()
    assert not tracing.enabled()


def test_key_values_are_the_specifications_percent_encoded_pairs() -> None:
    assert key_values("a=1, b = two%2C%20three ,,c=") == {"a": "1", "b": "two, three", "c": ""}
    with pytest.raises(ValueError, match="item 2 is not key=value"):
        key_values("a=1,Authorization Bearer x")
    settings = Settings(otel_exporter_otlp_headers=Secret("Authorization=Bearer s3cr3t"))
    assert "s3cr3t" not in repr(settings)
