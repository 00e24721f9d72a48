"""Each destination's gate in Redis: a 429's pause, and the circuit breaker's states (closed, open,
half-open) judged over a sliding window of requests shared by every worker."""

from __future__ import annotations

import time

import pytest
import redis

from bridge import defaults
from bridge.stores import breaker


def _gate(conn: redis.Redis, destination: str = "zendesk") -> breaker.Gate:
    return breaker.read(conn, [destination])[destination]


def test_a_pause_holds_until_its_time_and_only_grows(redis_client: redis.Redis) -> None:
    now = time.time()
    breaker.pause(redis_client, "jira", now + 30)
    breaker.pause(redis_client, "jira", now + 5)  # a shorter Retry-After does not cut it short
    assert _gate(redis_client, "jira").paused_until == pytest.approx(now + 30)
    assert _gate(redis_client, "zendesk").paused_until == 0


def test_few_failures_never_open_the_circuit(redis_client: redis.Redis) -> None:
    now = time.time()
    for _ in range(defaults.BREAKER_MIN_REQUESTS - 1):
        assert not breaker.failed(redis_client, "zendesk", "503", now)
    assert _gate(redis_client).circuit == "closed"


def test_most_requests_failing_in_the_window_open_it(redis_client: redis.Redis) -> None:
    now = time.time()
    breaker.answered(redis_client, {"zendesk": 10}, now)
    # 10 answered, then failures: the circuit opens at the failure that makes half of the window fail.
    opened_at = None
    for n in range(1, 12):
        if breaker.failed(redis_client, "zendesk", f"503 from POST links ({n})", now):
            opened_at = n
            break
    assert opened_at == 10
    gate = _gate(redis_client)
    assert gate.circuit == "open"
    assert gate.open_until == pytest.approx(now + defaults.BREAKER_OPEN_S)
    assert "10 of 20 requests failed" in gate.reason
    assert gate.trips == 1
    # Another destination is not touched.
    assert _gate(redis_client, "jira").circuit == "closed"


def test_failures_older_than_the_window_do_not_count(redis_client: redis.Redis) -> None:
    long_ago = time.time() - defaults.BREAKER_WINDOW_S - defaults.BREAKER_BUCKET_S
    for _ in range(defaults.BREAKER_MIN_REQUESTS - 1):
        assert not breaker.failed(redis_client, "jsm", "503", long_ago)
    # Counted with those, this one would make enough failures to open it; alone in its window, it does not.
    assert not breaker.failed(redis_client, "jsm", "503")
    assert _gate(redis_client, "jsm").circuit == "closed"


def _open(conn: redis.Redis, destination: str, at: float) -> None:
    for _ in range(defaults.BREAKER_MIN_REQUESTS):
        breaker.failed(conn, destination, "no answer", at)


def test_half_open_lets_one_probe_go_and_an_answer_closes_it(redis_client: redis.Redis) -> None:
    _open(redis_client, "salesforce", time.time() - defaults.BREAKER_OPEN_S - 1)  # its open time is up
    assert _gate(redis_client, "salesforce").circuit == "half-open"
    assert breaker.try_probe(redis_client, "salesforce", "worker-1", 10)
    assert not breaker.try_probe(redis_client, "salesforce", "worker-2", 10)  # one probe at a time
    assert _gate(redis_client, "salesforce").probing
    breaker.probed(redis_client, "salesforce", answered_=True)
    gate = _gate(redis_client, "salesforce")
    assert (gate.circuit, gate.probing) == ("closed", False)
    # The window was cleared: the failures that opened it do not open it again at the next one.
    assert not breaker.failed(redis_client, "salesforce", "503")


def test_a_failed_probe_opens_it_again(redis_client: redis.Redis) -> None:
    _open(redis_client, "jira_software", time.time() - defaults.BREAKER_OPEN_S - 1)
    assert breaker.try_probe(redis_client, "jira_software", "worker-1", 10)
    breaker.probed(redis_client, "jira_software", answered_=False)
    gate = _gate(redis_client, "jira_software")
    assert gate.circuit == "open"
    assert gate.open_until == pytest.approx(time.time() + defaults.BREAKER_OPEN_S, abs=1)
    assert not gate.probing
