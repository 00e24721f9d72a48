"""Ids are checked where they enter (issue 11, point 5): an id that does not have its system's form refuses
the event when it is the subject, and is dropped with its reason when it is only a reference."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import samples
from bridge.errors import DeliveryRejected
from bridge.settings import Settings
from bridge.sources import jira, zendesk

SETTINGS = Settings(
    jira_zendesk_field="customfield_10050",
    jira_salesforce_field="customfield_10051",
    zendesk_jira_field_id="360000000001",
    zendesk_base_url="https://example.zendesk.com",
)


def _refused(source: Any, payload: dict[str, Any]) -> DeliveryRejected:
    with pytest.raises(DeliveryRejected) as refused:
        source.normalize(payload, SETTINGS)
    assert refused.value.status == 400
    return refused.value


@pytest.mark.parametrize("key", ["..", ".", "a b", "PROJ-1/../..", "proj-1", "PROJ-0", "-1", "", "PROJ-1\n"])
def test_jira_issue_key_of_another_form_refuses_the_event(key: str) -> None:
    payload = samples.jira_issue()
    payload["issue"]["key"] = key

    refused = _refused(jira, payload)

    assert refused.code in ("bad_id", "unknown_shape")
    if key:
        assert "issue.key must be a Jira issue key" in refused.reason


@pytest.mark.parametrize(
    "issue_id", ["../10001", "²", "٣٤٥", 1.5, True, [10001], {"id": 1}, "1" * 20, -5, 1e30]
)
def test_jira_issue_id_must_be_ascii_digits(issue_id: Any) -> None:
    payload = samples.jira_issue()
    payload["issue"]["id"] = issue_id

    assert _refused(jira, payload).code == "bad_id"


@pytest.mark.parametrize(
    "ticket_id", ["²", "٣٤٥", "12a", "0", 1.5, True, ["5001"], {"id": 5001}, "9" * 20, 1e25]
)
def test_zendesk_trigger_ticket_id_must_be_ascii_digits(ticket_id: Any) -> None:
    payload = samples.zendesk_trigger()
    payload["ticket"]["id"] = ticket_id

    refused = _refused(zendesk, payload)

    assert refused.code in ("bad_id", "unknown_shape")


def test_zendesk_subscription_subject_with_other_digits_is_refused() -> None:
    payload = {
        "type": "zen:event-type:ticket.status_changed",
        "id": "01HEVENT",
        "time": "2026-01-01T00:00:00Z",
        "subject": "zen:ticket:٣٤٥",
        "detail": {},
        "event": {"current": "OPEN"},
    }

    assert "without a ticket id" in _refused(zendesk, payload).reason


def test_numeric_ids_as_numbers_are_accepted() -> None:
    payload = samples.zendesk_trigger()
    payload["ticket"]["id"] = 5001

    assert zendesk.normalize(payload, SETTINGS).subject["id"] == "5001"


@pytest.mark.parametrize(
    ("value", "kept", "dropped"),
    [
        ("../../9422", [], ["../../9422"]),
        (
            "https://example.zendesk.com/agent/tickets/9422",
            [],
            ["https://example.zendesk.com/agent/tickets/9422"],
        ),
        ("a b", [], ["a", "b"]),
        ("5001, ../../9422 ²", ["5001"], ["../../9422", "²"]),
        (["5001", 5002, "٣٤٥"], ["5001", "5002"], ["٣٤٥"]),
        (1e30, [], ["1000000000000000019884624838656"]),
    ],
)
def test_jira_zendesk_field_values_that_are_no_ticket_id_are_dropped_with_a_reason(
    value: Any, kept: list[str], dropped: list[str]
) -> None:
    payload = samples.jira_issue()
    payload["issue"]["fields"]["customfield_10050"] = value

    found = jira.normalize(payload, SETTINGS)

    assert found.refs["zendesk_ticket_ids"] == kept
    notes = found.data["dropped_refs"]
    assert [note["value"] for note in notes] == dropped
    assert {note["field"] for note in notes} == {"zendesk_ticket_ids"}
    assert {note["reason"] for note in notes} == {"not a Zendesk ticket id (ASCII digits)"}


def test_salesforce_ids_of_another_form_are_dropped() -> None:
    payload = samples.jira_issue()
    payload["issue"]["fields"]["customfield_10051"] = "5003000000D8cuIAAR, ../x, 5003000000D8cuI"

    found = jira.normalize(payload, SETTINGS)

    assert found.refs["salesforce_ids"] == ["5003000000D8cuIAAR", "5003000000D8cuI"]
    assert [note["value"] for note in found.data["dropped_refs"]] == ["../x"]


def test_a_valid_event_has_no_dropped_refs() -> None:
    assert "dropped_refs" not in jira.normalize(samples.jira_issue(), SETTINGS).data
    assert "dropped_refs" not in zendesk.normalize(samples.zendesk_trigger(), SETTINGS).data


def test_references_are_bounded() -> None:
    payload = samples.jira_issue()
    payload["issue"]["fields"]["customfield_10050"] = " ".join(str(n) for n in range(1, 300))

    found = jira.normalize(payload, SETTINGS)

    assert len(found.refs["zendesk_ticket_ids"]) == 100
    assert len(found.data["dropped_refs"]) == 100
    assert found.data["dropped_refs"][0]["reason"] == "more than 100 references"


def test_zendesk_ticket_url_from_the_body_must_be_a_plain_http_url() -> None:
    payload = samples.zendesk_trigger()
    payload["ticket"]["url"] = "javascript:alert(1)//"

    found = zendesk.normalize(payload, SETTINGS)

    assert found.data["url"] == "https://example.zendesk.com/agent/tickets/5001"
