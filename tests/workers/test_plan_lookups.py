"""A ticket's plan that asks Jira for an issue's id remembers it in the round trip of the issues' reads."""

from __future__ import annotations

import pytest
import redis

from bridge.errors import RetryLater
from bridge.stores import issue_ids
from bridge.upstreams.sandbox import RunningSandbox, SandboxControl
from tests.redis_requests import sent_to_redis
from tests.rules.events import ticket
from workers import process


def _issue_reads(sandbox: RunningSandbox, key: str) -> int:
    with SandboxControl(sandbox.url) as control:
        return sum(
            1 for call in control.calls("jira") if call["method"] == "GET" and call["path"].endswith(key)
        )


def test_a_new_keys_id_is_remembered_with_the_issues_reads(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    planner = process.current().planner(conn)
    planner.plan(ticket("7601", "EX-601"))  # scripts loaded, connections made: not this plan's own
    with sent_to_redis() as sent:
        plan = planner.plan(ticket("7602", "EX-602"))

    assert plan.outcome == "planned"
    remembered = issue_ids.ids(conn, ["EX-602"])["EX-602"]
    assert remembered is not None
    assert issue_ids.current_keys(conn, [remembered]) == {remembered: "EX-602"}
    assert [action.params.get("issue_id") for action in plan.actions if "issue_id" in action.params] == [
        remembered
    ]
    # WATCH the ticket, its first reads, WATCH the issue, the issue's reads with the id learned, the commit.
    assert len(sent) == 5
    # Remembered: the next plan naming the key does not ask Jira again.
    planner.plan(ticket("7603", "EX-602"))
    assert _issue_reads(sandbox, "EX-602") == 1


def test_ids_learned_before_a_lookup_fails_are_remembered(conn: redis.Redis, sandbox: RunningSandbox) -> None:
    planner = process.current().planner(conn)
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", path="EX-612", status=503)
    with pytest.raises(RetryLater):
        planner.plan(ticket("7611", "EX-611, EX-612"))
    assert issue_ids.ids(conn, ["EX-611"])["EX-611"] is not None
    assert issue_ids.ids(conn, ["EX-612"])["EX-612"] is None


def test_a_key_that_names_no_issue_is_remembered_as_such_with_the_issues_reads(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    planner = process.current().planner(conn)
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", path="EX-622", status=404, body='{"errorMessages": ["no issue"]}')
    planner.plan(ticket("7621", "EX-621, EX-622"))
    assert issue_ids.ids(conn, ["EX-622"])["EX-622"] == issue_ids.UNKNOWN
    planner.plan(ticket("7622", "EX-622"))
    assert _issue_reads(sandbox, "EX-622") == 1
    # A ticket naming only such a key has no issue to read: what was learned is sent on its own.
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", path="EX-623", status=404, body='{"errorMessages": ["no issue"]}')
    planner.plan(ticket("7623", "EX-623"))
    assert issue_ids.ids(conn, ["EX-623"])["EX-623"] == issue_ids.UNKNOWN
