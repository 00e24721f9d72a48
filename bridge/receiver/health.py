"""``/healthz`` (the process runs) and ``/readyz`` (Redis answers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge import defaults


async def healthz(request: Request) -> Response:
    """Answer 200 while the process serves requests."""
    return JSONResponse({"status": "ok"})


def readyz(redis: Callable[[], Redis]) -> Callable[[Request], object]:
    """Return the readiness endpoint: 200 when Redis answers a PING in time, else 503."""

    async def endpoint(request: Request) -> Response:
        try:
            async with asyncio.timeout(defaults.REDIS_SOCKET_TIMEOUT_S):
                await redis().ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return JSONResponse({"status": "unavailable", "redis": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready"})

    return endpoint
