"""The shipped JSM example: a Maintenance issue In Progress disables an integration action, Done enables it."""

from __future__ import annotations

from importlib import resources

import pytest

from bridge.event import Event
from bridge.rules.loader import load_rules
from bridge.rules.model import Linked
from bridge.rules.ruleset import RuleSet
from tests.rules.events import SETTINGS, issue

EXAMPLE = str(resources.files("bridge.rules").joinpath("examples/jsm_maintenance.yaml"))


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(EXAMPLE)


def test_in_progress_disables_the_action(rules: RuleSet) -> None:
    event = issue("OPS-7", tickets=None, issuetype="Maintenance", status=("In Progress", "indeterminate"))

    planned = rules.plan(event, SETTINGS, Linked())

    assert [(a.kind, a.destination, a.target, a.params) for a in planned] == [
        (
            "jsm.integration_action.update",
            "jsm",
            "jsm:sandbox-integration",
            {
                "integration_id": "sandbox-integration",
                "action_name": "Create alert from monitoring",
                "changes": {"enabled": False},
            },
        )
    ]


def test_done_enables_it_again(rules: RuleSet) -> None:
    event = issue("OPS-7", tickets=None, issuetype="Maintenance", status=("Done", "done"))

    planned = rules.plan(event, SETTINGS, Linked())

    assert [(a.rule, a.params["changes"]) for a in planned] == [
        ("maintenance-done-enables-alerting", {"enabled": True})
    ]


@pytest.mark.parametrize(
    "event",
    [
        issue("OPS-7", tickets=None, issuetype="Maintenance"),  # another field changed while in progress
        issue("OPS-7", tickets=None, issuetype="Bug", status=("In Progress", "indeterminate")),
        issue("OPS-7", tickets=None, issuetype="Maintenance", status=("To Do", "new")),
        issue("OPS-7", tickets=None, issuetype="Maintenance", event="jira:issue_created"),
    ],
    ids=["other-field", "not-maintenance", "to-do", "created"],
)
def test_other_events_do_nothing(rules: RuleSet, event: Event) -> None:
    assert rules.plan(event, SETTINGS, Linked()) == []


def test_only_issue_updates_are_planned_for(rules: RuleSet) -> None:
    assert rules.accepts_type("jira", "issue.updated")
    # Ticket events are taken in whatever the rules (they carry a ticket's state), but none plans here.
    assert not any(rule.when.matches("zendesk", "ticket.updated") for rule in rules.rules)
