"""Planned actions: the idempotency key's one definition, and the JSON round trip jobs rely on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import orjson

from bridge.rules.loader import load_rules
from bridge.rules.model import Linked, PlannedAction, override_of
from tests.rules.events import SETTINGS, ticket


def action(**params: object) -> PlannedAction:
    return PlannedAction(
        kind="zendesk.jira_link.create",
        destination="zendesk",
        target="zendesk:5001",
        params=dict(params),
        rule="r",
        event_id="e1",
        sequence=1,
        subject="zendesk:ticket:5001",
        object="zendesk.jira_link:5001:10001",
        version=7,
    )


def test_idempotency_key_is_sha256_of_kind_object_version_and_canonical_params() -> None:
    planned = action(ticket_id="5001", issue_key="PROJ-1", note="Zürich")
    canonical = json.dumps(planned.params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(
        f"zendesk.jira_link.create\nzendesk.jira_link:5001:10001\n7\n{canonical}".encode()
    ).hexdigest()

    assert planned.idempotency_key == expected


def test_idempotency_key_ignores_param_order_but_not_values() -> None:
    first = action(ticket_id="5001", issue_key="PROJ-1")
    reordered = action(issue_key="PROJ-1", ticket_id="5001")
    other = action(ticket_id="5001", issue_key="PROJ-2")

    assert first.idempotency_key == reordered.idempotency_key
    assert first.idempotency_key != other.idempotency_key


def test_idempotency_key_ignores_event_and_rule_but_not_the_plans_version() -> None:
    planned = action(ticket_id="5001", issue_key="PROJ-1")
    rerun = PlannedAction(**{**planned.to_dict(), "event_id": "e2", "rule": "other", "sequence": 2})
    later = PlannedAction(**{**planned.to_dict(), "event_id": "e3", "version": 8})

    # A re-run of the same plan makes each call once; a newer plan (open → solved → open) makes it again.
    assert planned.idempotency_key == rerun.idempotency_key
    assert planned.idempotency_key != later.idempotency_key


def test_planned_actions_round_trip_through_json() -> None:
    issues = (
        {"id": "10001", "key": "PROJ-1", "wanted": True},
        {"id": "10009", "key": "PROJ-9", "wanted": False},
    )
    planned = load_rules(None).plan(ticket("5001", "PROJ-1, PROJ-2"), SETTINGS, Linked(issues=issues))
    assert planned

    restored = [PlannedAction.from_dict(orjson.loads(orjson.dumps(a.to_dict()))) for a in planned]

    assert restored == planned
    assert [a.idempotency_key for a in restored] == [a.idempotency_key for a in planned]


def test_linked_defaults_to_nothing() -> None:
    assert Linked() == Linked((), ())


def test_a_call_made_again_has_a_new_key_that_records_the_override() -> None:
    planned = action(ticket_id="5001", issue_key="PROJ-1")
    override = override_of("operator", "api", "e1", "2026-11-30T08:00:00Z")
    again = replace(planned, override=override)
    canonical = json.dumps(planned.params, sort_keys=True, separators=(",", ":"))
    recorded = json.dumps(override, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(
        f"zendesk.jira_link.create\nzendesk.jira_link:5001:10001\n7\n{canonical}\nagain\n{recorded}".encode()
    ).hexdigest()

    assert again.idempotency_key == expected
    assert again.idempotency_key != planned.idempotency_key
    later = replace(planned, override={**override, "at": "2026-11-30T09:00:00Z"})
    assert later.idempotency_key != again.idempotency_key  # each override is made once
    assert PlannedAction.from_dict(orjson.loads(orjson.dumps(again.to_dict()))) == again
    assert PlannedAction.from_dict(planned.to_dict()).override is None
