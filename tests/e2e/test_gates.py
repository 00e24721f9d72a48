"""Each destination's gate end to end, with two workers: a rate limit that paces a burst to the upstream's
quota, a 429 that holds every worker's requests while other destinations flow, and a circuit breaker that
stops calling a failing upstream and lets one probe through; judged on the sandbox's state and call log."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx

from bridge import defaults, samples
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, wait_until

ZENDESK_PER_SECOND = 10
BRIDGE_ENV = {"BRIDGE_RATE_LIMIT_ZENDESK": str(ZENDESK_PER_SECOND)}
"""Zendesk is rate-limited in this module's bridge (the other destinations are not)."""


def _two_workers(e2e: Bridge) -> None:
    while len([worker for worker in e2e.workers if worker.poll() is None]) < 2:
        e2e.start_worker()
    wait_until(lambda: e2e.redis.scard("rq:workers") >= 2, 60, "two workers to register")


def _deliver(e2e: Bridge, tickets: range, prefix: str) -> None:
    for ticket in tickets:
        assert e2e.zendesk(samples.zendesk_trigger(str(ticket), f"{prefix}-{ticket}")).status_code == 202


def _calls(e2e: Bridge, api: str, method: str, path_part: str) -> list[dict[str, Any]]:
    return [call for call in e2e.control.calls(api) if call["method"] == method and path_part in call["path"]]


def _zendesk_links(e2e: Bridge, tickets: range) -> dict[str, int]:
    wanted = {str(ticket) for ticket in tickets}
    counts: dict[str, int] = {}
    for link in e2e.control.state()["zendesk"]["links"]:
        if str(link["ticket_id"]) in wanted:
            counts[str(link["ticket_id"])] = counts.get(str(link["ticket_id"]), 0) + 1
    return counts


def test_a_failing_destination_opens_its_circuit_and_one_probe_closes_it(e2e: Bridge) -> None:
    # Default settings: the circuit stays open BREAKER_OPEN_S (15 s) before its probe. First in the module:
    # its window holds no answered request of another test to outweigh the failures.
    _two_workers(e2e)
    fault = e2e.control.add_fault(api="jira_software", status=503)
    first = range(73000, 73012)
    _deliver(e2e, first, "TRIP")

    def circuit() -> str:
        return str(_overview(e2e)["destinations"]["jira_software"]["circuit"])

    wait_until(lambda: circuit() == "open", 30, "the circuit of jira_software to open")
    opened_at = time.time()
    metrics = httpx.get(e2e.url + "/metrics", timeout=10).text
    assert 'bridge_circuit_state{destination="jira_software"} 1.0' in metrics
    # Events are still accepted and the other destinations still called while it is open.
    later = range(73012, 73016)
    _deliver(e2e, later, "TRIP")
    wait_until(lambda: len(_zendesk_links(e2e, range(73000, 73016))) == 16, 45, "the Zendesk links")
    time.sleep(5)
    sent = [
        call for call in e2e.control.calls("jira_software") if call["at"] > opened_at + defaults.GATE_CACHE_S
    ]
    assert sent == []  # open: nothing was sent to it

    e2e.control.remove_fault(fault)  # it is well again; its probe (after BREAKER_OPEN_S) closes the circuit
    wait_until(lambda: circuit() == "closed", defaults.BREAKER_OPEN_S + 30, "the circuit to close")
    quiet_from = opened_at + defaults.GATE_CACHE_S  # by then every worker has read the open circuit
    probe = min(call["at"] for call in e2e.control.calls("jira_software") if call["at"] > quiet_from)
    assert probe >= opened_at + defaults.BREAKER_OPEN_S - 1  # nothing went before the probe
    wait_until(lambda: len(_software_links(e2e, "TRIP-")) == 16, 45, "every ticket's Jira Software link")


def test_a_burst_to_a_rate_limited_destination_goes_at_its_limit_with_no_429(e2e: Bridge) -> None:
    _two_workers(e2e)
    e2e.control.set_quota("zendesk", per_second=ZENDESK_PER_SECOND)  # one second's burst, as Jira allows
    tickets = range(71000, 71100)
    _deliver(e2e, tickets, "RATE")

    wait_until(lambda: len(_zendesk_links(e2e, tickets)) == len(tickets), 60, "the Zendesk links", every_s=1)
    assert set(_zendesk_links(e2e, tickets).values()) == {1}
    requests = e2e.control.calls("zendesk")
    assert [call for call in requests if call["status"] == 429] == []
    assert [quota["refused"] for quota in e2e.control.quotas()] == [0]
    # The burst took the time the limit allows (100 requests at 10 a second: 10 s), within 10 %.
    took = max(call["at"] for call in requests) - min(call["at"] for call in requests)
    allowed = (len(requests) - 1) / ZENDESK_PER_SECOND
    times = sorted(call["at"] for call in requests)
    gaps = [
        round(later - earlier, 3) for earlier, later in itertools.pairwise(times) if later - earlier > 0.08
    ]
    assert allowed * 0.9 <= took <= allowed * 1.1, f"{len(requests)} requests in {took:.1f} s; gaps {gaps}"
    # Jira was not held to Zendesk's pace: its remote links were all made before Zendesk's last link.
    jira_done = max(call["at"] for call in _calls(e2e, "jira", "POST", "/remotelink"))
    assert jira_done < max(call["at"] for call in requests)


def test_a_429_holds_every_workers_requests_to_it_while_others_flow(e2e: Bridge) -> None:
    _two_workers(e2e)
    e2e.control.add_fault(api="jira", method="POST", path="/remotelink", status=429, retry_after=3, times=1)
    tickets = range(72000, 72020)
    _deliver(e2e, tickets, "HOLD")

    def remote_links() -> int:
        links = e2e.control.state()["jira"]["remote_links"]
        return sum(len(links.get(f"HOLD-{ticket}", [])) for ticket in tickets)

    wait_until(lambda: remote_links() == len(tickets), 45, "every ticket's Jira remote link")
    assert remote_links() == len(tickets)  # one each: nothing made twice
    jira = e2e.control.calls("jira")
    (refused,) = [call for call in jira if call["status"] == 429]
    # No worker sent Jira anything while the 429's Retry-After ran (after the moment the gate is read again).
    held_from, held_to = refused["at"] + defaults.GATE_CACHE_S + 0.1, refused["at"] + 2.9
    assert [call for call in jira if held_from < call["at"] < held_to] == []
    # Zendesk went on meanwhile (paced, not held).
    zendesk = e2e.control.calls("zendesk")
    assert [call for call in zendesk if refused["at"] < call["at"] < held_to]
    wait_until(
        lambda: len(_zendesk_links(e2e, tickets)) == len(tickets), 30, "the Zendesk links", every_s=0.5
    )


def _software_links(e2e: Bridge, key_prefix: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = e2e.control.state()["jira_software"]["remote_links"]
    return [
        link
        for link in links
        if any(
            key.startswith(key_prefix)
            for association in link["link"]["associations"]
            for key in association["values"]
        )
    ]


def _overview(e2e: Bridge) -> dict[str, Any]:
    with httpx.Client(base_url=e2e.url, auth=(OPS_USER, OPS_PASSWORD), timeout=10) as ops:
        answer: dict[str, Any] = ops.get("/api/ops/overview").json()
    return answer


def test_calls_waiting_for_a_bulk_api_go_merged_when_it_opens(e2e: Bridge) -> None:
    # Jira Software answers 429 (Retry-After 3 s): its calls wait; then its drain merges them into few
    # bulk requests, each link once, each with its own newest state.
    _two_workers(e2e)
    e2e.control.add_fault(api="jira_software", status=429, retry_after=3, times=1)
    tickets = range(74000, 74040)
    _deliver(e2e, tickets, "BULK")

    wait_until(
        lambda: len(_software_links(e2e, "BULK-")) == len(tickets), 45, "the Jira Software links", every_s=0.5
    )
    submits = [
        call
        for call in e2e.control.calls("jira_software")
        if call["method"] == "POST" and call["status"] == 202
    ]
    assert len(submits) < len(tickets) / 2, f"{len(submits)} requests for {len(tickets)} links"
    keys = sorted(
        key for link in _software_links(e2e, "BULK-") for key in link["link"]["associations"][0]["values"]
    )
    assert keys == sorted(f"BULK-{ticket}" for ticket in tickets)
