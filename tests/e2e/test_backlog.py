"""Workers behind a backlog of events, at default settings: while ``BULK_BEHIND_EVENTS`` events are queued,
calls to an API that takes them in bulk (Jira Software) wait until ``BULK_UNITS_MAX`` of them wait and go
in one request, while every other call goes out as each event is planned; judged on the sandbox's state
and call log."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bridge import defaults, samples
from tests.e2e.conftest import Bridge, wait_until


def _stop_workers(e2e: Bridge) -> None:
    for worker in e2e.workers:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(30)
    wait_until(lambda: e2e.redis.scard("rq:workers") == 0, 30, "the workers to leave")


def _software_keys(e2e: Bridge, prefix: str) -> list[str]:
    links: list[dict[str, Any]] = e2e.control.state()["jira_software"]["remote_links"]
    return [
        key
        for link in links
        for association in link["link"]["associations"]
        for key in association["values"]
        if key.startswith(prefix)
    ]


def test_a_backlog_s_calls_to_a_bulk_api_go_merged_and_every_link_is_made_once(e2e: Bridge) -> None:
    _stop_workers(e2e)
    tickets = range(76000, 76120)
    for ticket in tickets:
        assert e2e.zendesk(samples.zendesk_trigger(str(ticket), f"LATE-{ticket}")).status_code == 202
    e2e.start_worker()

    wanted = sorted(f"LATE-{ticket}" for ticket in tickets)
    wait_until(lambda: sorted(_software_keys(e2e, "LATE-")) == wanted, 90, "every Jira Software link")
    submits = [
        call
        for call in e2e.control.calls("jira_software")
        if call["method"] == "POST" and call["status"] == 202
    ]
    # While 10 or more events are queued, two event jobs find 50 units waiting each; the first to find
    # fewer queued takes the rest (~11) in one request, and the last ~9 events go one request each.
    # 3 + BULK_BEHIND_EVENTS at its default of 10 (one request per ticket without the merging: 120).
    assert defaults.BULK_BEHIND_EVENTS == 10
    assert len(submits) <= 13, f"{len(submits)} bulk requests for {len(tickets)} links"

    # The other destinations were not held back, and each link exists once.
    wait_until(lambda: len(e2e.control.state()["zendesk"]["links"]) >= len(tickets), 60, "every Zendesk link")
    zendesk = Counter(str(link["ticket_id"]) for link in e2e.control.state()["zendesk"]["links"])
    assert zendesk == Counter({str(ticket): 1 for ticket in tickets})
    remote = [
        call
        for call in e2e.control.calls("jira")
        if call["method"] == "POST" and call["path"].endswith("/remotelink")
    ]
    assert len(remote) == len(tickets)


def test_without_a_backlog_an_event_s_bulk_call_goes_out_at_once(e2e: Bridge) -> None:
    response = e2e.zendesk(samples.zendesk_trigger("76500", "SOON-1"))
    assert response.status_code == 202
    e2e.wait_event(response.json()["event_id"])
    assert _software_keys(e2e, "SOON-") == ["SOON-1"]
