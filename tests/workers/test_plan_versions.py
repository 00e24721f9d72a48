"""Plan versions on real Redis: a plan that commits has a greater version than every plan it conflicts
with that committed before it, whichever of its WATCHes met the other's change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge import keys, linked
from bridge.planner import Plan
from bridge.upstreams.sandbox import SandboxConfig, serve_in_thread
from tests.rules.events import issue, ticket
from tests.values import StartWorker
from workers import process


@pytest.fixture
def conn(redis_url: str, worker_process: StartWorker) -> Iterator[redis.Redis]:
    with serve_in_thread(SandboxConfig()) as sandbox:
        worker_process(sandbox.config.settings_for(sandbox.url))
        client = redis.Redis.from_url(redis_url)
        yield client
        client.close()


def _versions(plan: Plan) -> set[int]:
    return {action.version for action in plan.actions}


def test_a_ticket_plan_that_reads_an_issue_changed_after_its_first_reads_gets_a_newer_version(
    conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ticket's plan takes a version with its first reads, then WATCHes the issues it is linked with.
    # An issue plan that commits in between, before that WATCH, is read by the ticket's plan, which then
    # commits: its calls must carry a greater version than the issue plan's, or a record both write would
    # keep the older state.
    planner = process.current().planner(conn)
    planner.plan(issue("VER-1", tickets=None))
    issue_plans: list[Plan] = []
    versions_given: list[int] = []
    resolve = linked.resolve

    def issue_changes_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not issue_plans:
            done = issue("VER-1", tickets=None, status=("Done", "done"))
            issue_plans.append(process.current().planner(conn).plan(done))
            versions_given.append(int(conn.get(keys.PLAN_VERSION_KEY) or 0))  # the issue plan's, or later
        return resolve(*args, **kwargs)

    monkeypatch.setattr(linked, "resolve", issue_changes_meanwhile)
    plan = planner.plan(ticket("7401", "VER-1"))

    assert issue_plans[0].outcome != "unchanged"  # the issue's state changed under the ticket's plan
    assert plan.outcome == "planned"
    (ticket_version,) = _versions(plan)
    assert ticket_version > versions_given[0]
