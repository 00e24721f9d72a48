"""``POST /webhooks/{source}``: receive → verify → normalize → dedupe and enqueue → answer.

Every answer is the documented one (README.md, "Register the webhooks"): 202 accepted, 200 duplicate,
202 ignored, 401/400/408/413/415 refused for good (neither sender retries a 4xx), 503 + ``Retry-After``
while Redis or the
source's configuration is missing. An accepted delivery is on Redis before the answer is sent.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from bridge import defaults, tracing
from bridge.errors import DeliveryRejected
from bridge.event import Actor, Normalized, Source, build_event
from bridge.job_queues import EVENTS_QUEUE
from bridge.receiver.body import check_content_type, headers_of, parse_json, query_of, read_limited
from bridge.receiver.delivery_log import LOGGER_NAME, DeliveryLog
from bridge.receiver.enqueue import EventQueue
from bridge.receiver.metrics import ReceiverMetrics
from bridge.settings import Settings
from bridge.sources import Delivery, jira, zendesk

# Headers that authenticate a delivery are never stored or logged.
_SECRET_HEADER_PARTS = ("authorization", "cookie", "signature", "token", "secret", "api-key")
_RETRY_AFTER = str(defaults.REDIS_UNAVAILABLE_RETRY_AFTER_S).encode()


@dataclass(frozen=True)
class SourceHandler:
    """What the receiver needs of an inbound source module."""

    name: Source
    verify: Callable[[Delivery, Settings], None]
    delivery_key: Callable[[dict[str, Any], Delivery], str]
    normalize: Callable[[dict[str, Any], Settings], Normalized]
    is_own: Callable[[Actor, Settings], bool]
    admit: Callable[[Normalized, Delivery, Settings], None]
    content_key: Callable[[Delivery], str]


SOURCES: dict[str, SourceHandler] = {
    module.SOURCE: SourceHandler(
        module.SOURCE,
        module.verify,
        module.delivery_key,
        module.normalize,
        module.is_own,
        module.admit,
        module.content_key,
    )
    for module in (jira, zendesk)
}

_LOGGER = logging.getLogger(LOGGER_NAME)


class WebhookEndpoint:
    """The ASGI app of one source's webhook route."""

    def __init__(
        self,
        source: SourceHandler,
        settings: Settings,
        queue: Callable[[], EventQueue],
        metrics: ReceiverMetrics,
        accepts: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self.queue = queue
        # Whether any rule could act on (source, type); a delivery no rule wants is answered ignored.
        self.accepts = accepts
        self.counted = metrics.for_source(source.name)
        self.log = DeliveryLog()
        # Built once: a delivery's spans cost nothing to describe while tracing is off.
        route = f"/webhooks/{source.name}"
        self.span_name = f"POST {route}"
        self.span_attributes = {
            "http.request.method": "POST",
            "http.route": route,
            "bridge.source": source.name,
        }
        self.verify_span, self.normalize_span = f"verify {source.name}", f"normalize {source.name}"
        # The signed-content key outlives every body the replay window still admits.
        self.content_ttl_s = max(defaults.DEDUPE_TTL_S, settings.jira_max_age_s + defaults.MAX_CLOCK_AHEAD_S)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with tracing.span(self.span_name, "server", self.span_attributes, _traceparent(scope)) as span:
            status, content, outcome, extra = await self.handle(scope, receive)
            span.set(
                {
                    "http.response.status_code": status,
                    "bridge.outcome": outcome,
                    "bridge.delivery_id": extra.get("delivery_id"),
                    "bridge.event_id": extra.get("event_id"),
                    "bridge.reason": extra.get("reason"),
                }
            )
            if status >= 500:
                span.failed(str(content.get("error", outcome)))
        body = orjson.dumps(content)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 503:
            headers.append((b"retry-after", _RETRY_AFTER))
        elif status in (408, 413):
            # Tell the sender to stop uploading: the connection closes after this answer.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.counted.outcome(outcome)
        extra["outcome"] = outcome
        self.log.write(logging.WARNING if status >= 500 else logging.INFO, f"delivery {outcome}", extra)

    async def handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, Mapping[str, Any], str, dict[str, Any]]:
        """Take one delivery in; return the status, the answer, the outcome and the log fields."""
        started = time.perf_counter()
        fields: dict[str, Any] = {"source": self.source.name, "delivery_id": None, "event_id": None}
        try:
            headers = headers_of(scope)
            check_content_type(headers)
            body = await read_limited(headers, receive, self.settings.max_body_bytes)
            delivery = Delivery(headers, query_of(scope), body, datetime.now(UTC))
            with tracing.span(self.verify_span):
                self.source.verify(delivery, self.settings)
            with tracing.span(self.normalize_span):
                payload = parse_json(body)
                fields["delivery_id"] = delivery_id = self.source.delivery_key(payload, delivery)
                found = self.source.normalize(payload, self.settings)
                self.source.admit(found, delivery, self.settings)
        except DeliveryRejected as rejected:
            self.counted.rejected(rejected.code)
            return (
                rejected.status,
                {"error": rejected.reason},
                "rejected",
                _done(fields, started, rejected.code),
            )
        except Exception as exc:
            # A body the checks above missed: the same body would fail the same way again, so it is a
            # permanent refusal (400), never a 500 that a sender retries; logged whole to be fixed.
            _LOGGER.exception("delivery could not be read", extra={"source": self.source.name})
            self.counted.rejected("unreadable")
            reason = f"the body could not be read ({type(exc).__name__})"
            return 400, {"error": reason}, "rejected", _done(fields, started, "unreadable")

        if self.source.is_own(found.actor, self.settings):
            return 202, {"ignored": "self"}, "ignored", _done(fields, started, "self")
        if self.accepts is not None and not self.accepts(self.source.name, found.type):
            return 202, {"ignored": True}, "ignored", _done(fields, started, "no rule")

        event = build_event(found, self.source.name, delivery_id, delivery.received_at)
        enqueue_started = time.perf_counter()
        try:
            with tracing.span("enqueue", "producer", _ENQUEUE_ATTRIBUTES) as enqueue:
                enqueue.set({"bridge.event_id": event["id"], "messaging.message.id": event["id"]})
                outcome = await self.queue().put(
                    event,
                    delivery_id,
                    _raw_delivery(scope, headers, body, event),
                    self.source.content_key(delivery),
                    self.content_ttl_s,
                    # The event job continues this delivery's trace (workers/jobs.py).
                    traceparent=enqueue.traceparent,
                )
        except (RedisError, OSError) as exc:
            unavailable = {"error": "queue unavailable, retry later"}
            return 503, unavailable, "unavailable", _done(fields, started, type(exc).__name__)
        self.counted.enqueued(time.perf_counter() - enqueue_started)
        fields["event_id"] = outcome.event_id
        answer: dict[str, Any] = {"event_id": outcome.event_id, "duplicate": outcome.duplicate}
        if outcome.duplicate:
            return 200, answer, "duplicate", _done(fields, started)
        return 202, answer, "accepted", _done(fields, started)


_ENQUEUE_ATTRIBUTES = {"messaging.system": "rq", "messaging.destination.name": EVENTS_QUEUE}


def _traceparent(scope: Scope) -> str | None:
    """The ``traceparent`` header of a request (a tracing proxy in front), whose trace the delivery joins."""
    if not tracing.enabled():
        return None
    for name, value in scope["headers"]:
        if name == b"traceparent":
            return str(value.decode("latin-1"))
    return None


def _raw_delivery(scope: Scope, headers: dict[str, str], body: bytes, event: Mapping[str, Any]) -> bytes:
    """The delivery as received, for the dashboard: a JSON line of its request data, then the body as is.

    Headers and query parameters that authenticate it are left out.
    """
    safe_headers = {name: value for name, value in headers.items() if not _is_secret_header(name)}
    request = {
        "received_at": event["received_at"],
        "path": scope["path"],
        "query": {name: value for name, value in query_of(scope).items() if name != "token"},
        "headers": safe_headers,
    }
    return orjson.dumps(request) + b"\n" + body


@functools.lru_cache(maxsize=512)
def _is_secret_header(name: str) -> bool:
    # Senders send the same few header names again and again: decide once per name.
    return any(part in name for part in _SECRET_HEADER_PARTS)


def _done(fields: dict[str, Any], started: float, reason: str | None = None) -> dict[str, Any]:
    fields["ms"] = round((time.perf_counter() - started) * 1000, 2)
    if reason is not None:
        fields["reason"] = reason
    return fields
