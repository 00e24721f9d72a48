"""What the worker tests share: a sandbox of the upstreams, and this process's worker state configured for
it on the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, serve_in_thread
from tests.values import StartWorker


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


@pytest.fixture
def conn(sandbox: RunningSandbox, redis_url: str, worker_process: StartWorker) -> Iterator[redis.Redis]:
    """A client of the test Redis, with the worker state (rules, clients) started for the sandbox."""
    worker_process(sandbox.config.settings_for(sandbox.url))
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
