"""The contract's default rules, end to end: signed webhooks in, the sandbox's state and call log out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bridge import samples
from tests.e2e.conftest import SALESFORCE_FIELD, Bridge, wait_until


def _minutes_ahead(minutes: int) -> str:
    """A ticket time later than the samples' (stamped now), within the receiver's clock tolerance."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _links(e2e: Bridge, issue: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = e2e.control.state()["jira"]["remote_links"].get(issue, [])
    return links


def _zendesk_links(e2e: Bridge, ticket: str) -> list[dict[str, Any]]:
    return [link for link in e2e.control.state()["zendesk"]["links"] if str(link["ticket_id"]) == ticket]


def _calls(e2e: Bridge, api: str, method: str, path_part: str) -> list[dict[str, Any]]:
    return [
        call
        for call in e2e.control.calls(api)
        if call["method"] == method
        and path_part in call["path"]
        and call["status"] is not None
        and call["status"] < 300
    ]


def test_rules_1_and_6_ticket_referencing_keys_links_each_issue(e2e: Bridge) -> None:
    answer = e2e.zendesk(samples.zendesk_trigger("6101", "E2E-1, E2E-2", status="Open"))
    assert answer.status_code == 202
    e2e.wait_event(answer.json()["event_id"])

    zendesk_base = e2e.env["ZENDESK_BASE_URL"]
    for issue in ("E2E-1", "E2E-2"):
        (link,) = _links(e2e, issue)
        assert link["globalId"] == f"system={zendesk_base}&id=6101"
        assert link["object"]["title"] == "Zendesk #6101"
        assert link["object"]["status"]["resolved"] is False
    assert sorted(link["issue_key"] for link in _zendesk_links(e2e, "6101")) == ["E2E-1", "E2E-2"]
    software = e2e.control.state()["jira_software"]["remote_links"]
    assert any("6101" in str(link) for link in software)
    # Every call carried its idempotency key.
    assert all(call["idempotency_key"] for call in e2e.control.calls("jira") if call["method"] == "POST")


def test_rule_1_solved_ticket_strikes_the_link_through(e2e: Bridge) -> None:
    answer = e2e.zendesk(samples.zendesk_trigger("6102", "E2E-3", status="Solved"))
    e2e.wait_event(answer.json()["event_id"])
    (link,) = _links(e2e, "E2E-3")
    assert link["object"]["status"]["resolved"] is True


def _seconds_ago(seconds: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rule_2_key_no_longer_referenced_and_deleted_ticket_remove_links(e2e: Bridge) -> None:
    # Stamped as Zendesk stamps them, before they are delivered: the deletion is read from Zendesk, and a
    # read is ordered by when it is made (so, unlike the other tests here, no time ahead of the clock).
    first = samples.zendesk_trigger("6103", "E2E-4 E2E-5")
    first["ticket"]["updated_at"] = _seconds_ago(20)
    e2e.wait_event(e2e.zendesk(first).json()["event_id"])
    later = samples.zendesk_trigger("6103", "E2E-4")
    later["ticket"]["updated_at"] = _seconds_ago(10)
    e2e.wait_event(e2e.zendesk(later).json()["event_id"])

    assert _links(e2e, "E2E-5") == []
    assert [link["issue_key"] for link in _zendesk_links(e2e, "6103")] == ["E2E-4"]
    assert len(_links(e2e, "E2E-4")) == 1

    deleted = {
        "type": "zen:event-type:ticket.deleted",
        "account_id": 1,
        "id": "e2e-deleted-6103",
        "time": _seconds_ago(1),
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:6103",
        "detail": {
            "id": "6103",
            "subject": "Printer on fire",
            "status": "DELETED",
            "updated_at": _seconds_ago(1),
        },
        "event": {},
    }
    answer = e2e.zendesk(deleted)
    assert answer.status_code == 202, answer.text
    # A soft deletion is read from Zendesk first (its restore may have been delivered before it): the
    # sandbox's Zendesk has no ticket 6103, as Zendesk has none once deleted; the read's plan unlinks.
    e2e.wait_event(answer.json()["event_id"], ("skipped",))
    assert "settled by the source's state" in e2e.event_reason(answer.json()["event_id"])
    wait_until(lambda: _links(e2e, "E2E-4") == [], 30, "the remote link of the deleted ticket gone")
    assert _zendesk_links(e2e, "6103") == []


def test_rule_3_salesforce_ids_become_associations(e2e: Bridge) -> None:
    payload = e2e.issue("E2E-6", **{SALESFORCE_FIELD: "500A000001, 500A000002"})
    e2e.wait_event(e2e.jira(payload).json()["event_id"])

    associations = e2e.control.state()["salesforce"]["associations"]["E2E-6"]
    assert sorted(a["soid"] for a in associations) == ["500A000001", "500A000002"]
    assert {a["son"] for a in associations} == {"Case"}


def test_rules_4_and_5_issue_naming_tickets_links_them_then_deleted_issue_unlinks(e2e: Bridge) -> None:
    e2e.ticket("6104", status="open", subject="Refund button")
    e2e.ticket("6105", status="solved", subject="Login loop")
    named = e2e.issue("E2E-7", "6104, 6105")
    e2e.wait_event(e2e.jira(named).json()["event_id"])

    # The issue's plan re-plans both tickets (read from Zendesk: the bridge never saw them), whose plans
    # link them, with what only the ticket knows: subject and status.
    wait_until(lambda: len(_zendesk_links(e2e, "6104")) + len(_zendesk_links(e2e, "6105")) == 2, 30, "links")
    wait_until(lambda: len(_links(e2e, "E2E-7")) == 2, 30, "remote links")
    summaries = {link["object"]["title"]: link["object"] for link in _links(e2e, "E2E-7")}
    assert summaries["Zendesk #6104"]["summary"] == "Refund button"
    assert summaries["Zendesk #6105"]["status"] == {"resolved": True}

    deleted = e2e.issue("E2E-7", "6104, 6105", event="jira:issue_deleted")
    deleted["timestamp"] += 1000
    e2e.control.delete_issue("E2E-7")
    e2e.wait_event(e2e.jira(deleted).json()["event_id"])
    wait_until(lambda: e2e.control.state()["zendesk"]["links"] == [], 30, "the Zendesk links to go")


def test_either_side_naming_the_other_keeps_the_link(e2e: Bridge) -> None:
    # The issue names ticket 6106; the ticket's own field names another issue: both are linked.
    e2e.ticket("6106", keys="E2E-10")
    e2e.wait_event(e2e.jira(e2e.issue("E2E-9", "6106")).json()["event_id"])
    ticket = samples.zendesk_trigger("6106", "E2E-10")
    ticket["ticket"]["updated_at"] = _minutes_ahead(1)
    e2e.wait_event(e2e.zendesk(ticket).json()["event_id"])
    wait_until(
        lambda: sorted(link["issue_key"] for link in _zendesk_links(e2e, "6106")) == ["E2E-10", "E2E-9"]
    )

    # The ticket drops its key: E2E-10 is unlinked, E2E-9 stays (the issue still names the ticket).
    dropped = samples.zendesk_trigger("6106", "")
    dropped["ticket"]["updated_at"] = _minutes_ahead(2)
    e2e.wait_event(e2e.zendesk(dropped).json()["event_id"])
    assert [link["issue_key"] for link in _zendesk_links(e2e, "6106")] == ["E2E-9"]
    assert _links(e2e, "E2E-10") == []

    # The issue drops the ticket too: nothing names either side any more, the last link goes.
    unnamed = e2e.issue("E2E-9", "")
    unnamed["timestamp"] += 1000
    e2e.wait_event(e2e.jira(unnamed).json()["event_id"])
    wait_until(lambda: _zendesk_links(e2e, "6106") == [], 30, "the last link to go")
    assert _links(e2e, "E2E-9") == []


def test_event_no_rule_acts_on_is_done_without_calls(e2e: Bridge) -> None:
    answer = e2e.jira(e2e.issue("E2E-8", ""))
    status = e2e.wait_event(answer.json()["event_id"], ("skipped",))
    assert status == "skipped"
    assert e2e.control.calls() == []
