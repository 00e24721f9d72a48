"""The gate in front of a destination's requests, on real Redis and real HTTP to the sandbox: its
rate limit, the pause a 429 sets for every worker, and the circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from bridge import defaults
from bridge.errors import DestinationHeld, RateLimited, UpstreamUnavailable
from bridge.guard import DestinationGuard
from bridge.keys import GATE_KEY
from bridge.upstreams import Clients, clients_from_settings
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


@pytest.fixture
def control(sandbox: RunningSandbox) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox.url) as control:
        control.reset()
        yield control


def _jira(sandbox: RunningSandbox, guard: DestinationGuard) -> JiraClient:
    """A worker's Jira client: its own connections, behind its own guard."""
    clients: Clients = clients_from_settings(sandbox.config.settings_for(sandbox.url))
    clients.guard_with(lambda name: guard)
    jira = clients.get("jira", JiraClient)
    assert jira is not None
    return jira


@pytest.fixture
def worker_a(sandbox: RunningSandbox, redis_client: redis.Redis) -> JiraClient:
    return _jira(sandbox, DestinationGuard(redis_client, "jira"))


@pytest.fixture
def worker_b(sandbox: RunningSandbox, redis_client: redis.Redis) -> JiraClient:
    return _jira(sandbox, DestinationGuard(redis_client, "jira"))


def _requests(control: SandboxControl) -> int:
    return len(control.calls("jira"))


def test_a_rate_limit_paces_requests_and_provokes_no_429(
    sandbox: RunningSandbox, control: SandboxControl, redis_client: redis.Redis
) -> None:
    control.set_quota("jira", per_second=20)
    paced = _jira(sandbox, DestinationGuard(redis_client, "jira", per_second=20))
    started = time.monotonic()
    for n in range(41):  # one second's burst of the quota would allow 20 at once; the pace never bursts
        paced.get_issue(f"PACE-{n + 1}")
    elapsed = time.monotonic() - started
    assert elapsed == pytest.approx(2.0, abs=0.3)  # 40 intervals of 50 ms
    assert [quota["refused"] for quota in control.quotas()] == [0]
    assert {call["status"] for call in control.calls("jira")} == {200}


def test_a_429_holds_every_workers_requests_until_its_retry_after(
    control: SandboxControl, worker_a: JiraClient, worker_b: JiraClient
) -> None:
    control.add_fault(api="jira", status=429, retry_after=2, times=1)
    with pytest.raises(RateLimited):
        worker_a.get_issue("PAUSE-1")
    paused_at = time.time()
    time.sleep(defaults.GATE_CACHE_S)  # the other worker reads the gate again within this
    for client in (worker_b, worker_a):
        with pytest.raises(DestinationHeld) as held:
            client.get_issue("PAUSE-2")
        assert held.value.until == pytest.approx(paused_at + 2, abs=0.5)
        assert "429" in held.value.reason
    assert _requests(control) == 1  # neither held request reached Jira
    time.sleep(max(0.0, held.value.until - time.time()) + defaults.GATE_CACHE_S)
    assert worker_b.get_issue("PAUSE-2").key == "PAUSE-2"


def test_an_upstream_failing_opens_the_circuit_and_a_probe_closes_it(
    control: SandboxControl, worker_a: JiraClient, worker_b: JiraClient, redis_client: redis.Redis
) -> None:
    fault = control.add_fault(api="jira", status=503)
    for n in range(defaults.BREAKER_MIN_REQUESTS):
        with pytest.raises(UpstreamUnavailable):
            worker_a.get_issue(f"DOWN-{n + 1}")
    time.sleep(defaults.GATE_CACHE_S)
    for client in (worker_a, worker_b):
        with pytest.raises(DestinationHeld, match="circuit open"):
            client.get_issue("DOWN-99")
    assert _requests(control) == defaults.BREAKER_MIN_REQUESTS  # open: nothing more was sent

    # Its open time up (as if BREAKER_OPEN_S had passed), one probe goes; Jira still fails: open again.
    redis_client.hset(GATE_KEY.format(destination="jira"), "open_until", time.time() - 1)
    time.sleep(defaults.GATE_CACHE_S)
    with pytest.raises(UpstreamUnavailable):
        worker_a.get_issue("PROBE-1")
    with pytest.raises(DestinationHeld, match="circuit open"):
        worker_b.get_issue("PROBE-2")
    assert _requests(control) == defaults.BREAKER_MIN_REQUESTS + 1

    # Jira is back; the next probe is answered and the circuit closes for every worker.
    control.remove_fault(fault)
    redis_client.hset(GATE_KEY.format(destination="jira"), "open_until", time.time() - 1)
    time.sleep(defaults.GATE_CACHE_S)
    assert worker_b.get_issue("PROBE-3").key == "PROBE-3"
    time.sleep(defaults.GATE_CACHE_S)
    assert worker_a.get_issue("PROBE-4").key == "PROBE-4"
