"""The receiver's Starlette app: webhook routes, health, readiness and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from bridge.connections import async_client
from bridge.ops import metrics_redis
from bridge.receiver.enqueue import EventQueue
from bridge.receiver.health import healthz, readyz
from bridge.receiver.metrics import ReceiverMetrics
from bridge.receiver.webhooks import SOURCES, WebhookEndpoint
from bridge.settings import Settings


class _Connections:
    """The app's Redis client and queue, opened at start-up and closed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: Redis | None = None
        self._queue: EventQueue | None = None

    def open(self) -> None:
        self._redis = async_client(self.settings)
        self._queue = EventQueue(self._redis)

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.close()
            self._queue = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def redis(self) -> Redis:
        if self._redis is None:
            self.open()
        assert self._redis is not None
        return self._redis

    def queue(self) -> EventQueue:
        if self._queue is None:
            self.open()
        assert self._queue is not None
        return self._queue


def create_app(
    settings: Settings,
    *,
    accepts: Callable[[str, str], bool] | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    """Build the receiver for ``settings``; ``extra_routes`` mounts more (the dashboard)."""
    connections = _Connections(settings)
    metrics = ReceiverMetrics()
    routes: list[BaseRoute] = [
        Route(
            f"/webhooks/{name}",
            WebhookEndpoint(source, settings, connections.queue, metrics, accepts),
            methods=["POST"],
            name=f"webhook_{name}",
        )
        for name, source in SOURCES.items()
    ]
    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz(connections.redis), methods=["GET"]),
        Route("/metrics", metrics_redis.endpoint(metrics.registry, connections.redis), methods=["GET"]),
    ]
    routes += extra_routes or []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connections.open()
        try:
            yield
        finally:
            await connections.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    return app
