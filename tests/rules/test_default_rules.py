"""The built-in rules (docs/rules.md, "The built-in rules" 1-6), planned for events the real normalizers built.

The rules see the subject's newest state and ``linked`` as the planner makes them (bridge/linked.py); here
``linked`` is given, so each rule is checked on its own. How ``linked`` is made (who names whom, deletions,
moves) is tested with the planner in tests/test_planner.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import RuleError
from bridge.rules.loader import load_rules
from bridge.rules.model import Linked
from bridge.rules.ruleset import RuleSet
from tests.rules.events import CONNECT_SETTINGS, SETTINGS, ZENDESK_URL, calls, issue, subscription, ticket

GLOBAL_ID = f"system={ZENDESK_URL}&id=5001"


def linked_issue(issue_id: str, key: str, wanted: bool = True, linked: bool = False) -> dict[str, Any]:
    """One issue of ``linked.issues``, as the planner describes it."""
    return {
        "id": issue_id,
        "key": key,
        "wanted": wanted,
        "by_ticket": wanted,
        "by_issue": False,
        "linked": linked,
    }


def linked(*issues: dict[str, Any]) -> Linked:
    """``linked`` of a ticket with these issues (the wanted ones' keys in ``jira_issue_keys``)."""
    return Linked(jira_issue_keys=tuple(i["key"] for i in issues if i["wanted"]), issues=issues)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(None)


def test_events_that_carry_a_subjects_state_are_always_taken_in(rules: RuleSet) -> None:
    assert rules.accepts(ticket())
    assert rules.accepts(issue())
    assert rules.accepts(issue(event="jira:issue_deleted"))
    assert rules.accepts_type("zendesk", "ticket.deleted")
    # Comments and issue links carry no state: only a rule that looks at them takes them in.
    assert not rules.accepts_type("jira", "comment.created")
    assert not rules.accepts_type("jira", "issuelink.created")
    assert not rules.accepts_type("zendesk", "issue.updated")


# Rules 1 and 4: link what is wanted -----------------------------------------------------------------------


def test_each_wanted_issue_gets_a_remote_link_and_a_zendesk_link_named_by_id(rules: RuleSet) -> None:
    event = ticket("5001", "PROJ-1, proj-2", "Open")

    planned = rules.plan(
        event, SETTINGS, linked(linked_issue("10001", "PROJ-1"), linked_issue("10002", "PROJ-2"))
    )

    assert calls(planned) == [
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:10001"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:10002"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
    ]
    upsert, create = planned[0], planned[1]
    assert upsert.params == {
        "issue": "10001",
        "global_id": GLOBAL_ID,
        "url": f"{ZENDESK_URL}/agent/tickets/5001",
        "title": "Zendesk #5001",
        "summary": "Cannot check out with an EU card",
        "status_resolved": False,
        "relationship": "Zendesk tickets",
        "application_type": "com.zendesk",
        "application_name": "Zendesk",
    }
    assert create.params == {"ticket_id": "5001", "issue_id": "10001", "issue_key": "PROJ-1"}
    # Each names the one record it writes: calls on one record take effect in plan order.
    assert (upsert.object, create.object) == (
        f"jira.remote_link:10001:{GLOBAL_ID}",
        "zendesk.jira_link:5001:10001",
    )
    assert {(a.event_id, a.sequence, a.subject) for a in planned} == {
        (event["id"], event["sequence"], "zendesk:ticket:5001")
    }


@pytest.mark.parametrize(("status", "resolved"), [("Solved", True), ("Closed", True), ("Pending", False)])
def test_the_remote_link_is_resolved_for_solved_and_closed(
    rules: RuleSet, status: str, resolved: bool
) -> None:
    planned = rules.plan(ticket(status=status), SETTINGS, linked(linked_issue("10001", "PROJ-1")))

    assert planned[0].params["status_resolved"] is resolved


def test_an_issue_that_names_the_ticket_is_linked_like_one_the_ticket_names(rules: RuleSet) -> None:
    named_by_issue = {**linked_issue("10004", "PROJ-4"), "by_ticket": False, "by_issue": True}

    planned = rules.plan(ticket("5001", ""), SETTINGS, linked(named_by_issue))

    assert calls(planned) == [
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:10004"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
    ]
    assert planned[0].params["summary"] == "Cannot check out with an EU card"


def test_without_zendesk_base_url_the_failing_rule_is_named(rules: RuleSet) -> None:
    with pytest.raises(RuleError) as caught:
        rules.plan(ticket(), SETTINGS.replace(zendesk_base_url=None), linked(linked_issue("10001", "PROJ-1")))

    message = str(caught.value)
    assert "rule 'zendesk-ticket-links-jira-issues', action #1 jira.remote_link.upsert" in message
    assert "global_id" in message


# Rules 2 and 5: unlink what is no longer wanted ------------------------------------------------------------


def test_an_issue_linked_before_and_not_wanted_now_is_unlinked(rules: RuleSet) -> None:
    planned = rules.plan(
        ticket("5001", "PROJ-1"),
        SETTINGS,
        linked(linked_issue("10001", "PROJ-1"), linked_issue("10007", "PROJ-7", wanted=False, linked=True)),
    )

    unlinks = [
        (a.kind, a.target, a.params) for a in planned if a.rule == "zendesk-ticket-unlinks-jira-issues"
    ]
    assert unlinks == [
        ("jira.remote_link.delete", "jira:10007", {"issue": "10007", "global_id": GLOBAL_ID}),
        ("zendesk.jira_link.delete", "zendesk:5001", {"ticket_id": "5001", "issue_id": "10007"}),
    ]


def test_a_deleted_ticket_unlinks_everything_it_was_linked_with(rules: RuleSet) -> None:
    event = subscription("ticket_soft_deleted")
    assert event["type"] == "ticket.deleted"
    gone = linked(
        linked_issue("10001", "PROJ-1", wanted=False, linked=True),
        linked_issue("10002", "PROJ-2", wanted=False, linked=True),
    )

    planned = rules.plan(event, SETTINGS, gone)

    assert [(a.kind, a.target) for a in planned] == [
        ("jira.remote_link.delete", "jira:10001"),
        ("zendesk.jira_link.delete", "zendesk:5001"),
        ("jira.remote_link.delete", "jira:10002"),
        ("zendesk.jira_link.delete", "zendesk:5001"),
    ]


def test_a_ticket_never_linked_plans_nothing(rules: RuleSet) -> None:
    assert rules.plan(ticket(keys=""), CONNECT_SETTINGS, Linked()) == []


# Rule 3 ---------------------------------------------------------------------------------------------------


def test_rule3_salesforce_ids_become_associations(rules: RuleSet) -> None:
    event = issue("PROJ-3", tickets=None, salesforce="5003000000D8cuI, 5003000000D8cuJ")

    planned = rules.plan(event, SETTINGS, Linked())

    assert calls(planned) == [
        ("jira-issue-salesforce-associations", "salesforce.associations.add", "salesforce:10001")
    ]
    assert planned[0].params == {
        "issue": "10001",
        "associations": [
            {"son": "Case", "soid": "5003000000D8cuI"},
            {"son": "Case", "soid": "5003000000D8cuJ"},
        ],
    }
    assert planned[0].subject == "jira:issue:10001"


def test_rule3_object_type_comes_from_settings(rules: RuleSet) -> None:
    event = issue("PROJ-3", tickets=None, salesforce=["0065000000Xyz12"])

    planned = rules.plan(event, SETTINGS.replace(salesforce_object_type="Opportunity"), Linked())

    assert planned[0].params["associations"] == [{"son": "Opportunity", "soid": "0065000000Xyz12"}]


def test_an_issue_event_plans_no_link_itself(rules: RuleSet) -> None:
    # An issue that names tickets, moves or is deleted has its tickets planned again (bridge/linked.py).
    assert rules.plan(issue("PROJ-3", tickets="5001, 5002"), SETTINGS, Linked()) == []
    assert rules.plan(issue("PROJ-3", event="jira:issue_deleted"), SETTINGS, Linked()) == []


# Rule 6 ---------------------------------------------------------------------------------------------------


def test_rule6_needs_connect(rules: RuleSet) -> None:
    planned = rules.plan(ticket(), SETTINGS, linked(linked_issue("10001", "PROJ-1")))

    assert not [a for a in planned if a.destination == "jira_software"]


@pytest.mark.parametrize(
    ("status", "appearance"),
    [
        ("New", "new"),
        ("Open", "inprogress"),
        ("Pending", "inprogress"),
        ("Hold", "default"),
        ("Solved", "success"),
    ],
)
def test_rule6_submits_the_linked_keys(rules: RuleSet, status: str, appearance: str) -> None:
    event = ticket("5001", "PROJ-1 PROJ-2", status)

    planned = rules.plan(
        event, CONNECT_SETTINGS, linked(linked_issue("10001", "PROJ-1"), linked_issue("10002", "PROJ-2"))
    )

    submits = [a for a in planned if a.kind == "jira_software.remote_link.submit"]
    assert len(submits) == 1
    assert submits[0].target == "jira_software:zendesk-ticket-5001"
    # No updateSequenceNumber: the call takes its plan's version, which grows with every plan.
    assert submits[0].params == {
        "id": "zendesk-ticket-5001",
        "issue_keys": ["PROJ-1", "PROJ-2"],
        "display_name": "Zendesk #5001",
        "url": f"{ZENDESK_URL}/agent/tickets/5001",
        "type": "other",
        "last_updated": event["occurred_at"],
        "description": "Cannot check out with an EU card",
        "status_appearance": appearance,
        "status_label": status,
    }


def test_rule6_a_ticket_linked_with_nothing_any_more_drops_the_link(rules: RuleSet) -> None:
    cleared = rules.plan(
        ticket(keys=""), CONNECT_SETTINGS, linked(linked_issue("10001", "PROJ-1", wanted=False, linked=True))
    )

    drops = [a for a in cleared if a.destination == "jira_software"]
    assert [(a.kind, a.params) for a in drops] == [
        ("jira_software.remote_link.delete", {"id": "zendesk-ticket-5001"})
    ]


# The plan as a whole --------------------------------------------------------------------------------------


def test_same_event_plans_the_same_keys(rules: RuleSet) -> None:
    event = ticket("5001", "PROJ-1")
    view = linked(linked_issue("10001", "PROJ-1"))

    first = [a.idempotency_key for a in rules.plan(event, CONNECT_SETTINGS, view)]
    second = [a.idempotency_key for a in rules.plan(event, CONNECT_SETTINGS, view)]

    assert first == second
    assert len(set(first)) == len(first)


def test_comment_events_plan_nothing(rules: RuleSet) -> None:
    event = issue()
    event["type"] = "comment.created"

    assert rules.plan(event, CONNECT_SETTINGS, Linked()) == []
