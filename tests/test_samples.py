"""The packaged sample deliveries name the ticket and issue they are asked for, everywhere."""

from __future__ import annotations

import orjson

from bridge import samples


def test_a_zendesk_sample_carries_its_own_ticket_url() -> None:
    payload = samples.zendesk_trigger("5002", "PROJ-2")

    assert payload["ticket"]["url"] == "example.zendesk.com/agent/tickets/5002"
    assert b"5001" not in orjson.dumps(payload)
    assert b"PROJ-1" not in orjson.dumps(payload)


def test_a_jira_sample_with_an_issue_id_is_that_issue() -> None:
    payload = samples.jira_issue("PROJ-2", "5002", issue_id="10002")

    assert payload["issue"]["id"] == "10002"
    assert payload["issue"]["self"].endswith("/10002")
    assert payload["issue"]["key"] == "PROJ-2"
