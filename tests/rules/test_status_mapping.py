"""Rule 6's status mapping: every ticket status, empty and unknown ones included, gets a defined label.

Reproduced: a trigger body with ``"status": ""`` made the Jira Software submit carry ``label: null``,
which Jira refuses for good (issue 11, point 6).
"""

from __future__ import annotations

import pytest

from bridge import samples
from bridge.rules.loader import load_rules
from bridge.rules.model import Linked
from bridge.rules.ruleset import RuleSet
from tests.rules.events import CONNECT_SETTINGS, ticket, zendesk_event

LINKED = Linked(
    jira_issue_keys=("PROJ-1",),
    issues=(
        {
            "id": "10001",
            "key": "PROJ-1",
            "wanted": True,
            "by_ticket": True,
            "by_issue": False,
            "linked": False,
        },
    ),
)
"""The ticket is linked with PROJ-1 (the planner says so): rule 6 submits its link."""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(None)


def _status(rules: RuleSet, status: str) -> tuple[str, str]:
    planned = rules.plan(ticket("5001", "PROJ-1", status), CONNECT_SETTINGS, LINKED)
    (submit,) = [a for a in planned if a.kind == "jira_software.remote_link.submit"]
    return submit.params["status_appearance"], submit.params["status_label"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("", ("default", "Unknown")),
        ("   ", ("default", "Unknown")),
        ("Awaiting parts", ("default", "Awaiting Parts")),
        ("OPEN", ("inprogress", "Open")),
        ("closed", ("success", "Closed")),
        ("x" * 400, ("default", "X" + "x" * 254)),
    ],
)
def test_every_status_gets_an_appearance_and_a_label(
    rules: RuleSet, status: str, expected: tuple[str, str]
) -> None:
    assert _status(rules, status) == expected


def test_a_status_that_is_not_text_is_no_status(rules: RuleSet) -> None:
    payload = samples.zendesk_trigger("5001", "PROJ-1")
    payload["ticket"]["status"] = {"name": "Open"}
    event = zendesk_event(payload)

    assert event["data"]["status"] == ""
    planned = rules.plan(event, CONNECT_SETTINGS, LINKED)
    (submit,) = [a for a in planned if a.kind == "jira_software.remote_link.submit"]
    assert (submit.params["status_appearance"], submit.params["status_label"]) == ("default", "Unknown")
