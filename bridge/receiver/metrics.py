"""Prometheus metrics of the receiver, in a registry of the app's own (one per app, so tests stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

OUTCOMES = ("accepted", "duplicate", "ignored", "rejected", "unavailable")


class ReceiverMetrics:
    """Deliveries by source and outcome, duplicates, rejections by reason, enqueue latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "bridge_deliveries",
            "Webhook deliveries by source and outcome (accepted, duplicate, ignored, rejected, unavailable).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "bridge_duplicate_deliveries",
            "Deliveries dropped as duplicates.",
            ["source"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "bridge_rejected_deliveries",
            "Deliveries refused, by reason.",
            ["source", "reason"],
            registry=self.registry,
        )
        self.enqueue_seconds = Histogram(
            "bridge_enqueue_seconds",
            "Time of the dedupe-and-enqueue Redis step.",
            ["source"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

    def for_source(self, source: str) -> SourceMetrics:
        """Return the metrics of one source, with their label children looked up once."""
        return SourceMetrics(self, source)

    async def endpoint(self, request: Request) -> Response:
        """Serve the metrics in Prometheus' text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class SourceMetrics:
    """One source's counters, bound at start-up (a labels() lookup per delivery is measurable)."""

    def __init__(self, metrics: ReceiverMetrics, source: str) -> None:
        self._metrics = metrics
        self._source = source
        self._outcomes = {outcome: metrics.deliveries.labels(source, outcome) for outcome in OUTCOMES}
        self._duplicates = metrics.duplicates.labels(source)
        self._enqueue = metrics.enqueue_seconds.labels(source)

    def outcome(self, outcome: str) -> None:
        self._outcomes[outcome].inc()
        if outcome == "duplicate":
            self._duplicates.inc()

    def rejected(self, reason: str) -> None:
        self._metrics.rejections.labels(self._source, reason).inc()

    def enqueued(self, seconds: float) -> None:
        self._enqueue.observe(seconds)
