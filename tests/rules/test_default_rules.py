"""The built-in rules (docs/rules.md, "The built-in rules" 1-6), planned for events the real normalizers built."""

from __future__ import annotations

import pytest

from bridge.errors import RuleError
from bridge.rules.loader import load_rules
from bridge.rules.model import Linked, PlannedAction
from bridge.rules.ruleset import RuleSet
from tests.rules.events import CONNECT_SETTINGS, SETTINGS, ZENDESK_URL, calls, issue, subscription, ticket

GLOBAL_ID = f"system={ZENDESK_URL}&id=5001"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(None)


def test_accepts_only_what_some_rule_looks_at(rules: RuleSet) -> None:
    assert rules.accepts(ticket())
    assert rules.accepts(issue())
    assert rules.accepts(issue(event="jira:issue_deleted"))
    assert rules.accepts_type("zendesk", "ticket.deleted")
    assert not rules.accepts_type("jira", "comment.created")
    assert not rules.accepts_type("jira", "issuelink.created")
    assert not rules.accepts_type("zendesk", "issue.updated")


# Rule 1 ---------------------------------------------------------------------------------------------------


def test_rule1_ticket_links_each_referenced_key(rules: RuleSet) -> None:
    event = ticket("5001", "PROJ-1, proj-2", "Open")

    planned = rules.plan(event, SETTINGS, Linked())

    assert calls(planned) == [
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:PROJ-1"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:PROJ-2"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
    ]
    upsert, create = planned[0], planned[1]
    assert upsert.params == {
        "issue": "PROJ-1",
        "global_id": GLOBAL_ID,
        "url": f"{ZENDESK_URL}/agent/tickets/5001",
        "title": "Zendesk #5001",
        "summary": "Cannot check out with an EU card",
        "status_resolved": False,
        "relationship": "Zendesk tickets",
        "application_type": "com.zendesk",
        "application_name": "Zendesk",
    }
    assert create.params == {"ticket_id": "5001", "issue_key": "PROJ-1"}
    assert (upsert.destination, create.destination) == ("jira", "zendesk")
    assert {(a.event_id, a.sequence, a.subject) for a in planned} == {
        (event["id"], event["sequence"], "zendesk:ticket:5001")
    }


@pytest.mark.parametrize(("status", "resolved"), [("Solved", True), ("Closed", True), ("Pending", False)])
def test_rule1_resolved_for_solved_and_closed(rules: RuleSet, status: str, resolved: bool) -> None:
    planned = rules.plan(ticket(status=status), SETTINGS, Linked(("PROJ-1",)))

    assert planned[0].params["status_resolved"] is resolved


def test_rule1_without_zendesk_base_url_names_the_rule(rules: RuleSet) -> None:
    with pytest.raises(RuleError) as caught:
        rules.plan(ticket(), SETTINGS.replace(zendesk_base_url=None), Linked())

    message = str(caught.value)
    assert "rule 'zendesk-ticket-links-jira-issues', action #1 jira.remote_link.upsert" in message
    assert "global_id" in message
    assert "None" in message


# Rule 2 ---------------------------------------------------------------------------------------------------


def test_rule2_key_no_longer_referenced_is_unlinked(rules: RuleSet) -> None:
    linked = Linked(("PROJ-1", "PROJ-7"), referenced_jira_issue_keys=("PROJ-1", "PROJ-7"))
    planned = rules.plan(ticket(keys="PROJ-1"), SETTINGS, linked)

    unlinks = [a for a in planned if a.rule == "zendesk-ticket-unlinks-removed-keys"]
    assert [(a.kind, a.target, a.params) for a in unlinks] == [
        ("jira.remote_link.delete", "jira:PROJ-7", {"issue": "PROJ-7", "global_id": GLOBAL_ID}),
        ("zendesk.jira_link.delete", "zendesk:5001", {"ticket_id": "5001", "issue_key": "PROJ-7"}),
    ]


def test_rule2_leaves_links_the_ticket_never_held(rules: RuleSet) -> None:
    # PROJ-7 was linked from the Jira side (rule 4): the ticket never held it, so it did not drop it.
    linked = Linked(("PROJ-1", "PROJ-7"), referenced_jira_issue_keys=("PROJ-1",))
    planned = rules.plan(ticket(keys="PROJ-1"), SETTINGS, linked)

    assert [a for a in planned if a.rule == "zendesk-ticket-unlinks-removed-keys"] == []


def test_rule2_cleared_field_unlinks_everything(rules: RuleSet) -> None:
    linked = Linked(("PROJ-1", "PROJ-2"), referenced_jira_issue_keys=("PROJ-1", "PROJ-2"))
    planned = rules.plan(ticket(keys=""), SETTINGS, linked)

    assert [(a.kind, a.target) for a in planned] == [
        ("jira.remote_link.delete", "jira:PROJ-1"),
        ("zendesk.jira_link.delete", "zendesk:5001"),
        ("jira.remote_link.delete", "jira:PROJ-2"),
        ("zendesk.jira_link.delete", "zendesk:5001"),
    ]


def test_rule2_event_without_the_field_unlinks_nothing(rules: RuleSet) -> None:
    event = subscription("ticket_priority_changed")
    assert event["data"]["jira_keys_known"] is False

    assert rules.plan(event, SETTINGS, Linked(("PROJ-1", "PROJ-2"))) == []


def test_rule2_custom_field_change_links_and_unlinks(rules: RuleSet) -> None:
    event = subscription("ticket_custom_field_changed")

    planned = rules.plan(
        event, SETTINGS, Linked(("PROJ-1", "PROJ-2"), referenced_jira_issue_keys=("PROJ-1", "PROJ-2"))
    )

    assert calls(planned) == [
        ("zendesk-ticket-links-jira-issues", "jira.remote_link.upsert", "jira:PROJ-1"),
        ("zendesk-ticket-links-jira-issues", "zendesk.jira_link.create", "zendesk:5001"),
        ("zendesk-ticket-unlinks-removed-keys", "jira.remote_link.delete", "jira:PROJ-2"),
        ("zendesk-ticket-unlinks-removed-keys", "zendesk.jira_link.delete", "zendesk:5001"),
    ]


def test_rule2_deleted_ticket_unlinks_every_linked_key(rules: RuleSet) -> None:
    event = subscription("ticket_soft_deleted")
    assert event["type"] == "ticket.deleted"

    planned = rules.plan(event, SETTINGS, Linked(("PROJ-1", "PROJ-2")))

    assert calls(planned) == [
        ("zendesk-ticket-deleted-unlinks", "jira.remote_link.delete", "jira:PROJ-1"),
        ("zendesk-ticket-deleted-unlinks", "zendesk.jira_link.delete", "zendesk:5001"),
        ("zendesk-ticket-deleted-unlinks", "jira.remote_link.delete", "jira:PROJ-2"),
        ("zendesk-ticket-deleted-unlinks", "zendesk.jira_link.delete", "zendesk:5001"),
    ]
    assert planned[0].params == {"issue": "PROJ-1", "global_id": GLOBAL_ID}


# Rule 3 ---------------------------------------------------------------------------------------------------


def test_rule3_salesforce_ids_become_associations(rules: RuleSet) -> None:
    event = issue("PROJ-3", tickets=None, salesforce="5003000000D8cuI, 5003000000D8cuJ")

    planned = rules.plan(event, SETTINGS, Linked())

    assert calls(planned) == [
        ("jira-issue-salesforce-associations", "salesforce.associations.add", "salesforce:PROJ-3")
    ]
    assert planned[0].params == {
        "issue": "PROJ-3",
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


def test_rule3_quiet_without_ids(rules: RuleSet) -> None:
    assert rules.plan(issue("PROJ-3", tickets=None), SETTINGS, Linked()) == []


# Rule 4 ---------------------------------------------------------------------------------------------------


def test_rule4_issue_links_tickets_not_linked_yet(rules: RuleSet) -> None:
    event = issue("PROJ-4", tickets="5001, 5002")

    planned = rules.plan(event, SETTINGS, Linked(zendesk_ticket_ids=("5002",)))

    assert calls(planned) == [
        ("jira-issue-links-zendesk-tickets", "zendesk.jira_link.create", "zendesk:5001"),
        ("jira-issue-links-zendesk-tickets", "jira.remote_link.upsert", "jira:PROJ-4"),
    ]
    assert planned[0].params == {"ticket_id": "5001", "issue_key": "PROJ-4"}
    assert planned[1].params == {
        "issue": "PROJ-4",
        "global_id": GLOBAL_ID,
        "url": f"{ZENDESK_URL}/agent/tickets/5001",
        "title": "Zendesk #5001",
        "relationship": "Zendesk tickets",
        "application_type": "com.zendesk",
        "application_name": "Zendesk",
    }


def test_rule4_same_global_id_as_rule1(rules: RuleSet) -> None:
    from_jira = rules.plan(issue("PROJ-1", tickets="5001"), SETTINGS, Linked())
    from_zendesk = rules.plan(ticket("5001", "PROJ-1"), SETTINGS, Linked())

    def global_ids(planned: list[PlannedAction]) -> set[str]:
        return {a.params["global_id"] for a in planned if a.kind == "jira.remote_link.upsert"}

    assert global_ids(from_jira) == global_ids(from_zendesk) == {GLOBAL_ID}


# Rule 5 ---------------------------------------------------------------------------------------------------


def test_rule5_deleted_issue_unlinks_its_tickets(rules: RuleSet) -> None:
    event = issue("PROJ-5", tickets="5001", event="jira:issue_deleted")

    planned = rules.plan(event, SETTINGS, Linked(zendesk_ticket_ids=("5001", "5009")))

    assert calls(planned) == [
        ("jira-issue-deleted-unlinks", "zendesk.jira_link.delete", "zendesk:5001"),
        ("jira-issue-deleted-unlinks", "zendesk.jira_link.delete", "zendesk:5009"),
    ]
    assert planned[1].params == {"ticket_id": "5009", "issue_key": "PROJ-5"}


def test_rule5_nothing_linked_nothing_planned(rules: RuleSet) -> None:
    assert rules.plan(issue("PROJ-5", event="jira:issue_deleted"), SETTINGS, Linked()) == []


# Rule 6 ---------------------------------------------------------------------------------------------------


def test_rule6_needs_connect(rules: RuleSet) -> None:
    planned = rules.plan(ticket(), SETTINGS, Linked())

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
def test_rule6_submits_jira_software_link(rules: RuleSet, status: str, appearance: str) -> None:
    event = ticket("5001", "PROJ-1 PROJ-2", status)

    planned = rules.plan(event, CONNECT_SETTINGS, Linked())

    submits = [a for a in planned if a.kind == "jira_software.remote_link.submit"]
    assert len(submits) == 1
    assert submits[0].target == "jira_software:zendesk-ticket-5001"
    assert submits[0].params == {
        "id": "zendesk-ticket-5001",
        "issue_keys": ["PROJ-1", "PROJ-2"],
        "display_name": "Zendesk #5001",
        "url": f"{ZENDESK_URL}/agent/tickets/5001",
        "type": "other",
        "update_sequence_number": event["sequence"],
        "last_updated": event["occurred_at"],
        "description": "Cannot check out with an EU card",
        "status_appearance": appearance,
        "status_label": status,
    }


def test_rule6_event_without_the_field_uses_linked_keys(rules: RuleSet) -> None:
    event = subscription("ticket_priority_changed", CONNECT_SETTINGS)

    planned = rules.plan(event, CONNECT_SETTINGS, Linked(("PROJ-1",)))

    assert calls(planned) == [
        (
            "zendesk-ticket-jira-software-link",
            "jira_software.remote_link.submit",
            "jira_software:zendesk-ticket-5001",
        )
    ]
    assert planned[0].params["issue_keys"] == ["PROJ-1"]
    assert planned[0].params["update_sequence_number"] == event["sequence"] == 1732500000000


def test_rule6_unlinked_or_deleted_ticket_drops_the_link(rules: RuleSet) -> None:
    cleared = rules.plan(ticket(keys=""), CONNECT_SETTINGS, Linked(("PROJ-1",)))
    deleted = rules.plan(
        subscription("ticket_soft_deleted", CONNECT_SETTINGS), CONNECT_SETTINGS, Linked(("PROJ-1",))
    )

    for planned in (cleared, deleted):
        drops = [a for a in planned if a.destination == "jira_software"]
        assert [(a.kind, a.params) for a in drops] == [
            ("jira_software.remote_link.delete", {"id": "zendesk-ticket-5001"})
        ]


def test_rule6_never_linked_ticket_plans_nothing(rules: RuleSet) -> None:
    assert rules.plan(ticket(keys=""), CONNECT_SETTINGS, Linked()) == []


# The plan as a whole --------------------------------------------------------------------------------------


def test_same_event_plans_the_same_keys(rules: RuleSet) -> None:
    event = ticket("5001", "PROJ-1")

    first = [a.idempotency_key for a in rules.plan(event, CONNECT_SETTINGS, Linked())]
    second = [a.idempotency_key for a in rules.plan(event, CONNECT_SETTINGS, Linked())]

    assert first == second
    assert len(set(first)) == len(first)


def test_comment_events_plan_nothing(rules: RuleSet) -> None:
    event = issue()
    event["type"] = "comment.created"

    assert rules.plan(event, CONNECT_SETTINGS, Linked()) == []
