"""``POST /webhooks/{source}``: receive → verify → normalize → dedupe and enqueue → answer.

Every answer is the contract's (CONTRACT.md, "HTTP surface"): 202 accepted, 200 duplicate, 202 ignored,
401/400/413/415 refused for good (neither sender retries a 4xx), 503 + ``Retry-After`` while Redis or the
source's configuration is missing. An accepted delivery is on Redis before the answer is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from bridge import constants
from bridge.enqueue import EventQueue
from bridge.errors import DeliveryRejected
from bridge.event import Actor, Normalized, Source, build_event
from bridge.receiver.body import check_content_type, read_limited
from bridge.receiver.metrics import ReceiverMetrics
from bridge.settings import Settings
from bridge.sources import Delivery, jira, zendesk

log = logging.getLogger("bridge.receiver")

# Headers that authenticate a delivery are never stored or logged.
_SECRET_HEADER_PARTS = ("authorization", "cookie", "signature", "token", "secret", "api-key")


@dataclass(frozen=True)
class SourceHandler:
    """What the receiver needs of an inbound source module."""

    name: Source
    verify: Callable[[Delivery, Settings], None]
    delivery_key: Callable[[dict[str, Any], Delivery], str]
    normalize: Callable[[dict[str, Any], Settings], Normalized]
    is_own: Callable[[Actor, Settings], bool]


SOURCES: dict[str, SourceHandler] = {
    module.SOURCE: SourceHandler(
        module.SOURCE, module.verify, module.delivery_key, module.normalize, module.is_own
    )
    for module in (jira, zendesk)
}


def json_response(
    status: int, content: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """Answer with a JSON body (orjson: the receiver answers every delivery)."""
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


class WebhookEndpoint:
    """The handler of one source's webhook route."""

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
        self.metrics = metrics
        # Whether any rule could act on (source, type); a delivery no rule wants is answered ignored.
        self.accepts = accepts

    async def handle(self, request: Request) -> Response:
        """Answer one delivery."""
        started = time.perf_counter()
        delivery_id: str | None = None
        try:
            check_content_type(request)
            body = await read_limited(request, self.settings.max_body_bytes)
            delivery = Delivery(request.headers, request.query_params, body, datetime.now(UTC))
            self.source.verify(delivery, self.settings)
            payload = _parse(body)
            delivery_id = self.source.delivery_key(payload, delivery)
            found = self.source.normalize(payload, self.settings)
        except DeliveryRejected as rejected:
            return self._refuse(rejected, delivery_id, started)

        if self.source.is_own(found.actor, self.settings):
            return self._answer(202, {"ignored": "self"}, "ignored", delivery_id, None, started)
        if self.accepts is not None and not self.accepts(self.source.name, found.type):
            return self._answer(202, {"ignored": True}, "ignored", delivery_id, None, started)

        event = build_event(found, self.source.name, delivery_id, delivery.received_at)
        enqueue_started = time.perf_counter()
        try:
            outcome = await self.queue().put(
                event, delivery_id, _raw_delivery(request, body, event["received_at"])
            )
        except (RedisError, OSError) as exc:
            self.metrics.deliveries.labels(self.source.name, "unavailable").inc()
            log.warning(
                "delivery refused: Redis unavailable",
                extra=_fields(
                    self.source.name, delivery_id, None, "unavailable", started, reason=type(exc).__name__
                ),
            )
            return json_response(
                503,
                {"error": "queue unavailable, retry later"},
                {"Retry-After": str(constants.REDIS_UNAVAILABLE_RETRY_AFTER_S)},
            )
        self.metrics.enqueue_seconds.labels(self.source.name).observe(time.perf_counter() - enqueue_started)
        if outcome.duplicate:
            self.metrics.duplicates.labels(self.source.name).inc()
            return self._answer(
                200,
                {"event_id": outcome.event_id, "duplicate": True},
                "duplicate",
                delivery_id,
                outcome.event_id,
                started,
            )
        return self._answer(
            202,
            {"event_id": outcome.event_id, "duplicate": False},
            "accepted",
            delivery_id,
            outcome.event_id,
            started,
        )

    def _answer(
        self,
        status: int,
        content: Mapping[str, Any],
        outcome: str,
        delivery_id: str | None,
        event_id: str | None,
        started: float,
    ) -> Response:
        self.metrics.deliveries.labels(self.source.name, outcome).inc()
        log.info(
            "delivery %s", outcome, extra=_fields(self.source.name, delivery_id, event_id, outcome, started)
        )
        return json_response(status, content)

    def _refuse(self, rejected: DeliveryRejected, delivery_id: str | None, started: float) -> Response:
        self.metrics.deliveries.labels(self.source.name, "rejected").inc()
        self.metrics.rejections.labels(self.source.name, rejected.code).inc()
        log.info(
            "delivery rejected",
            extra=_fields(
                self.source.name,
                delivery_id,
                None,
                "rejected",
                started,
                reason=rejected.code,
                status=rejected.status,
            ),
        )
        headers = (
            {"Retry-After": str(constants.REDIS_UNAVAILABLE_RETRY_AFTER_S)}
            if rejected.status == 503
            else None
        )
        return json_response(rejected.status, {"error": rejected.reason}, headers)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DeliveryRejected(
            400, f"body is not valid JSON: {exc.msg} at character {exc.pos}", "bad_json"
        ) from None
    if not isinstance(payload, dict):
        raise DeliveryRejected(400, "body must be a JSON object", "unknown_shape")
    return payload


def _raw_delivery(request: Request, body: bytes, received_at: str) -> bytes:
    headers = {
        name: value
        for name, value in request.headers.items()
        if not any(p in name for p in _SECRET_HEADER_PARTS)
    }
    query = {name: value for name, value in request.query_params.items() if name != "token"}
    return orjson.dumps(
        {
            "received_at": received_at,
            "path": request.url.path,
            "query": query,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        }
    )


def _fields(
    source: str, delivery_id: str | None, event_id: str | None, outcome: str, started: float, **more: Any
) -> dict[str, Any]:
    return {
        "source": source,
        "delivery_id": delivery_id,
        "event_id": event_id,
        "outcome": outcome,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        **more,
    }
