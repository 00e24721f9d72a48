"""Redis connections from settings: the async client for the receiver, the sync one for workers and CLI.

Both fail fast: short connect and command timeouts and no silent retries, so that a Redis outage becomes
a quick 503 (receiver) or a clear error (worker, CLI) instead of a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from bridge import defaults
from bridge.settings import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments shared by both clients."""
    options: dict[str, Any] = {
        "socket_connect_timeout": defaults.REDIS_CONNECT_TIMEOUT_S,
        "socket_timeout": defaults.REDIS_SOCKET_TIMEOUT_S,
        # redis-py retries failed commands by default; the caller decides what a failure means.
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
    }
    if settings.effective_redis_url.startswith("rediss://") and not settings.redis_ssl_verify:
        # Heroku Redis presents self-signed certificates (REDIS_SSL_VERIFY=false).
        options["ssl_cert_reqs"] = "none"
        options["ssl_check_hostname"] = False
    return options


def async_client(settings: Settings) -> redis.asyncio.Redis:
    """Return an asyncio Redis client (hiredis parser when installed) for the receiver."""
    options = connection_options(settings)
    # The asyncio client wants its own Retry class (redis-py 8.2 warns when given the blocking one).
    options["retry"] = redis.asyncio.retry.Retry(NoBackoff(), 0)
    return redis.asyncio.Redis.from_url(settings.effective_redis_url, **options)


def sync_client(settings: Settings, *, socket_timeout: float | None = None) -> redis.Redis:
    """Return a blocking Redis client for workers and commands.

    RQ workers block on BLPOP for up to their dequeue timeout, so they pass ``socket_timeout=None``.
    """
    options = connection_options(settings)
    options["socket_timeout"] = socket_timeout
    return redis.Redis.from_url(settings.effective_redis_url, **options)


def text(value: bytes | str) -> str:
    """Return a Redis reply as text (clients here do not decode replies: RQ needs bytes)."""
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def batched(conn: redis.Redis | Pipeline) -> Iterator[Pipeline]:
    """Writes in one round trip: into ``conn`` itself when it is a pipeline (the caller's transaction sends
    them), else into a pipeline of ``conn`` sent on leaving the block."""
    if isinstance(conn, Pipeline):
        yield conn
        return
    with conn.pipeline(transaction=False) as pipe:
        yield pipe
        pipe.execute()
