"""Redis going away: the receiver answers 503 quickly with Retry-After, never a 500 or a hang."""

from __future__ import annotations

import time

import httpx
import redis

from bridge import samples
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


def test_a_connection_redis_closed_while_idle_costs_no_delivery_a_503(
    serve_app: ServeApp, settings: Settings
) -> None:
    # Redis drops idle clients (its `timeout` setting, Heroku's idle timeout) or all of them (CLIENT KILL,
    # a proxy's failover): the next delivery goes on a fresh connection, not a 503.
    with EmbeddedRedis() as private:
        server = serve_app(settings.replace(redis_url=private.url))
        admin = redis.Redis.from_url(private.url)
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert send(http, signed_zendesk(invocation="first")).status_code == 202
            for round_number in range(3):
                killed = admin.client_kill_filter(_type="normal", skipme=True)
                assert killed >= 1
                time.sleep(0.2)  # the close reaches the receiver's socket
                ticket = samples.zendesk_trigger(str(9100 + round_number), f"KIL-{round_number + 1}")
                answer = send(http, signed_zendesk(ticket, invocation=f"after-kill-{round_number}"))
                assert answer.status_code == 202, answer.text
        admin.close()
