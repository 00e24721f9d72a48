"""Redis going away: the receiver answers 503 quickly with Retry-After, never a 500 or a hang."""

from __future__ import annotations

import time

import httpx

from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, send, signed_jira, signed_zendesk


def test_unreachable_redis_answers_503_with_retry_after_fast(serve_app: ServeApp, settings: Settings) -> None:
    server = serve_app(settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0"))

    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        started = time.monotonic()
        response = send(http, signed_jira())
        elapsed = time.monotonic() - started
        ready = http.get("/readyz")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json() == {"error": "queue unavailable, retry later"}
    assert elapsed < 2.0
    assert ready.status_code == 503


def test_redis_stopped_during_the_test_then_back(serve_app: ServeApp, settings: Settings) -> None:
    # A private server (redis-server or the embedded one) that this test may stop and start again.
    with EmbeddedRedis() as private:
        server = serve_app(settings.replace(redis_url=private.url))
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert send(http, signed_zendesk(invocation="before")).status_code == 202

            private.stop()
            started = time.monotonic()
            down = send(http, signed_zendesk(invocation="during"))
            elapsed = time.monotonic() - started
            not_ready = http.get("/readyz")

            private.start()
            again = send(http, signed_zendesk(invocation="during"))  # the sender's retry
            ready = http.get("/readyz")

    assert down.status_code == 503
    assert elapsed < 2.0
    assert not_ready.status_code == 503
    assert again.status_code == 202  # nothing half-written: the retry is a new event, not a duplicate
    assert ready.status_code == 200
