"""OpenTelemetry traces: one trace per delivery, from the webhook through its jobs to each upstream call.

::

    POST /webhooks/<source>   (server span, receiver)
    ├── verify <source>, normalize <source>
    └── enqueue                (producer span; its W3C ``traceparent`` goes in the RQ job's meta)
        └── process_event      (consumer span, worker: order, plan, the calls made at once)
            └── calls <destination>        (one event's calls to one destination)
                └── call <action kind>     (one planned call: idempotency key, outcome)
                    └── GET / POST / ...   (client span per HTTP request: method, host, URL, status)

Work for one event that runs later carries the event's ``traceparent`` along — in a waiting unit
(``bridge/stores/batches.py``), a retry's or a failed job's meta — and continues that trace, so the event
page's trace id finds all of it. A drain job, which makes many events' calls, has a span of its own,
linked to each event's trace (and each event's ``calls`` span links back to it); a replay's job is linked
to the trace of the event it replays.

Configured by OpenTelemetry's standard variables, read by ``bridge.settings`` (``OTEL_*``). Off unless
they name an exporter or an OTLP endpoint: then nothing of OpenTelemetry is imported and ``span`` hands
out one shared no-op (a function call per span). Only the bridge's tracer provider is used, never the
global one, and no header, query string or secret is recorded: attributes are names, ids, hosts, paths
and statuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Literal

from bridge import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import SpanContext, Tracer

    from bridge.settings import Settings

Kind = Literal["server", "client", "producer", "consumer", "internal"]
AttributeValue = str | bool | int | float

TRACEPARENT = "traceparent"
"""The W3C Trace Context header (https://www.w3.org/TR/trace-context/), and the key under which jobs' meta
and waiting units carry it."""

TRACER_NAME = "jira-zendesk-bridge"
"""The instrumentation scope of every span, and the service name unless ``OTEL_SERVICE_NAME`` says."""

_TRACEPARENT_FORM = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


class Span:
    """A span being recorded, or nothing when tracing is off (then every method returns at once)."""

    __slots__ = ("_span",)

    def __init__(self, span: OtelSpan | None = None) -> None:
        self._span = span

    def set(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Set attributes (names from the semantic conventions, or ``bridge.*``); None values are left out."""
        if self._span is None:
            return
        for name, value in attributes.items():
            if value is not None:
                self._span.set_attribute(name, value)

    def failed(self, description: str) -> None:
        """Mark the span failed without an exception (a refused delivery, a call that failed for good)."""
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self._span.set_status(Status(StatusCode.ERROR, description[:300]))

    def link(self, traceparent: str | None) -> None:
        """Link this span to the span ``traceparent`` names (a drain job to each event it makes calls of)."""
        if self._span is None or not traceparent:
            return
        context = _span_context(traceparent)
        if context is not None:
            self._span.add_link(context)

    @property
    def traceparent(self) -> str | None:
        """This span's W3C ``traceparent``, or None when tracing is off."""
        if self._span is None:
            return None
        context = self._span.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


OFF = Span()
"""The span handed out while tracing is off."""

_OFF = nullcontext(OFF)  # reusable: entering it returns OFF, leaving it does nothing


class _Tracing:
    """This process's tracer and its provider, while tracing is on."""

    tracer: Tracer | None = None
    provider: TracerProvider | None = None


_state = _Tracing()


def enabled() -> bool:
    """Tell whether this process records spans."""
    return _state.tracer is not None


def span(
    name: str,
    kind: Kind = "internal",
    attributes: Mapping[str, AttributeValue | None] | None = None,
    parent: str | None = None,
    links: Sequence[str | None] = (),
) -> AbstractContextManager[Span]:
    """Record a span around a block, as the current span: a child of the current one, or of the span
    ``parent`` (a ``traceparent``) names; linked to the spans ``links`` name. An exception leaving the block
    is recorded on it and marks it failed. While tracing is off, the block runs with ``OFF``."""
    tracer = _state.tracer
    if tracer is None:
        return _OFF
    return _recorded(tracer, name, kind, attributes, parent, links)


@contextmanager
def _recorded(
    tracer: Tracer,
    name: str,
    kind: Kind,
    attributes: Mapping[str, AttributeValue | None] | None,
    parent: str | None,
    links: Sequence[str | None],
) -> Iterator[Span]:
    from opentelemetry.trace import Link, SpanKind, set_span_in_context

    context = None
    if parent:
        remote = _span_context(parent)
        if remote is not None:
            from opentelemetry.trace import NonRecordingSpan

            context = set_span_in_context(NonRecordingSpan(remote))
    linked = [Link(found) for found in (_span_context(link) for link in links if link) if found is not None]
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=SpanKind[kind.upper()],
        attributes={key: value for key, value in (attributes or {}).items() if value is not None},
        links=linked,
    ) as recorded:
        yield Span(recorded)


def traceparent() -> str | None:
    """Return the current span's W3C ``traceparent`` (to carry to a job), or None when there is none."""
    if _state.tracer is None:
        return None
    from opentelemetry.trace import get_current_span

    current = get_current_span()
    return Span(current).traceparent if current.get_span_context().is_valid else None


def trace_id(traceparent: str | None) -> str | None:
    """Return the trace id (32 hex digits) a ``traceparent`` names, or None when it is not one."""
    if not traceparent:
        return None
    found = _TRACEPARENT_FORM.match(traceparent.strip())
    if found is None or found.group(1) == "0" * 32:
        return None
    return found.group(1)


def _span_context(traceparent: str) -> SpanContext | None:
    """The remote span context a ``traceparent`` names (parsed by OpenTelemetry's W3C propagator)."""
    from opentelemetry.trace import get_current_span
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    extracted = TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})
    context = get_current_span(extracted).get_span_context()
    return context if context.is_valid else None


def configure(settings: Settings, process: str) -> bool:
    """Start recording spans in this process if ``settings`` turn tracing on; return whether they do.

    ``process`` (``web``, ``worker``) becomes the resource attribute ``bridge.process``. The exporters
    send from a background thread (the SDK's batch processor), and the provider flushes at exit.
    """
    if not settings.tracing_enabled:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, str] = {"service.name": TRACER_NAME, "service.version": __version__}
    attributes.update(settings.otel_resource_attributes)
    if settings.otel_service_name:
        attributes["service.name"] = settings.otel_service_name
    attributes["bridge.process"] = process
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler(settings))
    for exporter in exporters(settings):
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=settings.otel_bsp_max_queue_size,
                schedule_delay_millis=settings.otel_bsp_schedule_delay,
                max_export_batch_size=settings.otel_bsp_max_export_batch_size,
                export_timeout_millis=settings.otel_bsp_export_timeout,
            )
        )
    install(provider)
    return True


def install(provider: TracerProvider) -> None:
    """Record spans with ``provider`` from now on (``configure``; tests give one with an in-memory exporter)."""
    _state.provider = provider
    _state.tracer = provider.get_tracer(TRACER_NAME, __version__)


FLUSH_TIMEOUT_MS = 5_000
"""How long ``flush`` waits for the exporters before it gives up on the spans left."""


def flush() -> None:
    """Export the spans still batched, waiting at most ``FLUSH_TIMEOUT_MS`` (a worker process's end)."""
    if _state.provider is not None:
        _state.provider.force_flush(FLUSH_TIMEOUT_MS)


def shutdown() -> None:
    """Export what is left and stop recording (tests; a process's exit does the same by itself)."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


def sampler(settings: Settings) -> Sampler:
    """Return the sampler ``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` name."""
    from opentelemetry.sdk.trace import sampling

    ratio = settings.otel_traces_sampler_arg
    samplers: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }
    return samplers[settings.otel_traces_sampler]


def exporters(settings: Settings) -> list[SpanExporter]:
    """Return the exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``)."""
    names = settings.otel_traces_exporter or ("otlp",)
    found: list[SpanExporter] = []
    if "otlp" in names:
        found.append(otlp_exporter(settings))
    if "console" in names:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        found.append(ConsoleSpanExporter())
    return found


DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"
"""Where OTLP/HTTP goes when no endpoint is set (the specification's default, a local collector)."""

DEFAULT_OTLP_TIMEOUT_MS = 10_000
"""How long one export may take (the specification's default)."""


def otlp_endpoint(settings: Settings) -> str:
    """Return the URL spans are posted to: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as it is, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the default) with ``/v1/traces`` appended."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    base = settings.otel_exporter_otlp_endpoint or DEFAULT_OTLP_ENDPOINT
    return f"{base.rstrip('/')}/v1/traces"


def otlp_exporter(settings: Settings) -> SpanExporter:
    """Return the OTLP/HTTP (protobuf) exporter the ``OTEL_EXPORTER_OTLP_*`` variables describe."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from bridge.settings import key_values

    headers = settings.otel_exporter_otlp_traces_headers or settings.otel_exporter_otlp_headers
    timeout_ms = (
        settings.otel_exporter_otlp_traces_timeout
        or settings.otel_exporter_otlp_timeout
        or DEFAULT_OTLP_TIMEOUT_MS
    )
    compression = (
        settings.otel_exporter_otlp_traces_compression or settings.otel_exporter_otlp_compression or "none"
    )
    certificate = settings.otel_exporter_otlp_traces_certificate or settings.otel_exporter_otlp_certificate
    client_key = settings.otel_exporter_otlp_traces_client_key or settings.otel_exporter_otlp_client_key
    client_certificate = (
        settings.otel_exporter_otlp_traces_client_certificate
        or settings.otel_exporter_otlp_client_certificate
    )
    return OTLPSpanExporter(
        endpoint=otlp_endpoint(settings),
        certificate_file=certificate,
        client_key_file=client_key,
        client_certificate_file=client_certificate,
        headers=key_values(headers.reveal()) if headers is not None else None,
        timeout=timeout_ms / 1000,
        compression=Compression(compression),
    )
