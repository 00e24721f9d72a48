"""Replays on the running bridge: a plain one makes nothing that was made, and says so; "again" — the
operators' override for an upstream that lost an effect — makes the calls of the subject's newest state
once more, under keys recording who asked, and never an older state's. Judged on the sandbox's state."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from bridge import keys, samples
from bridge.connections import text
from bridge.upstreams import clients_from_settings
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.sandbox import SandboxConfig
from bridge.upstreams.zendesk.client import ZendeskClient
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, wait_until


def _ops(e2e: Bridge) -> httpx.Client:
    return httpx.Client(
        base_url=e2e.url,
        auth=(OPS_USER, OPS_PASSWORD),
        timeout=10,
        headers={"X-Requested-With": "ops-script"},
    )


def _remote_links(e2e: Bridge, issue: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = e2e.control.state()["jira"]["remote_links"].get(issue, [])
    return links


def _zendesk_links(e2e: Bridge, ticket: str) -> list[dict[str, Any]]:
    return [link for link in e2e.control.state()["zendesk"]["links"] if str(link["ticket_id"]) == ticket]


def _writes(e2e: Bridge) -> int:
    return len([call for call in e2e.control.calls() if call["method"] != "GET"])


def _lose_the_links(e2e: Bridge, ticket: str, issue: str) -> None:
    """Delete the ticket's links by hand, as an admin would in Jira and Zendesk (the bridge is not told)."""
    settings = SandboxConfig().settings_for(e2e.sandbox.url)
    with clients_from_settings(settings) as clients:
        jira, zendesk = clients.get("jira", JiraClient), clients.get("zendesk", ZendeskClient)
        assert jira is not None
        assert zendesk is not None
        issue_id = jira.get_issue(issue).id
        jira.delete_remote_link_by_global_id(issue_id, f"system={e2e.env['ZENDESK_BASE_URL']}&id={ticket}")
        for link in zendesk.iter_links(ticket_id=ticket):
            zendesk.delete_link(link.id)
    assert _remote_links(e2e, issue) == []
    assert _zendesk_links(e2e, ticket) == []


def _job_done(e2e: Bridge, ops: httpx.Client, job_id: str) -> None:
    def ended() -> bool:
        jobs = ops.get("/api/ops/search", params={"q": job_id}).json()["jobs"]
        return bool(jobs) and jobs[0]["status"] in ("finished", "failed")

    wait_until(ended, 30, f"replay job {job_id} to end")


def _minutes_ahead(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_lost_link_is_made_again_only_when_asked_and_exactly_once(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6401", "AGAIN-1")).json()["event_id"]
    e2e.wait_event(event_id)
    assert len(_remote_links(e2e, "AGAIN-1")) == 1
    _lose_the_links(e2e, "6401", "AGAIN-1")
    writes = _writes(e2e)

    with _ops(e2e) as ops:
        # A plain replay: its state is applied already, so nothing is made, and the answer says why.
        plain = ops.post(f"/api/ops/events/{event_id}/replay").json()
        assert plain["again"] is False
        assert "already made, nothing to do" in plain["note"]
        _job_done(e2e, ops, plain["job_id"])
        assert e2e.event_status(event_id) == "skipped"
        assert "in this state already" in e2e.event_reason(event_id)
        assert _writes(e2e) == writes
        assert _remote_links(e2e, "AGAIN-1") == []
        page = ops.get(f"/dashboard/events/{event_id}").text
        assert "there is nothing to do" in page
        assert f'href="/dashboard/events/{event_id}/again"' in page

        # Again: the links come back, one of each.
        again = ops.post(f"/api/ops/events/{event_id}/replay", params={"again": "true"}).json()
        assert again["again"] is True
        _job_done(e2e, ops, again["job_id"])
        (made,) = ops.get(f"/api/ops/events/{event_id}").json()["made_again"]
        assert (made["by"], made["via"], made["event_id"]) == (OPS_USER, "api", event_id)
        e2e.wait_event(made["again_event_id"])
        assert len(_remote_links(e2e, "AGAIN-1")) == 1
        assert len(_zendesk_links(e2e, "6401")) == 1

        detail = ops.get(f"/api/ops/events/{made['again_event_id']}").json()
        calls = {call["kind"]: call for call in detail["calls"]}
        upsert = calls["jira.remote_link.upsert"]
        assert upsert["outcome"] == "done"
        assert upsert["override"] == {k: made[k] for k in ("by", "via", "event_id", "at")}
        # The idempotency record of the call made again says who made it again.
        done = e2e.redis.get(keys.IDEMPOTENCY_KEY.format(key=upsert["idempotency_key"]))
        assert done is not None
        assert orjson.loads(done)["override"]["by"] == OPS_USER
        original = ops.get(f"/api/ops/events/{event_id}").json()["calls"]
        assert upsert["idempotency_key"] not in {call["idempotency_key"] for call in original}

        # Asked and done, in the audit log: the request, and the outcome the worker recorded.
        entries = [
            entry
            for entry in ops.get("/api/ops/audit").json()["entries"]
            if (entry["action"], entry["target"], entry["actor"], entry["via"])
            == ("replay-again", event_id, OPS_USER, "api")
        ]
        assert [entry["ok"] for entry in entries] == [True, True]
        (request,) = [entry for entry in entries if entry["detail"] == f"queued as job {again['job_id']}"]
        (outcome,) = [entry for entry in entries if entry is not request]
        assert outcome["detail"].startswith(f"event {made['again_event_id']} (done): ")
        assert "jira.remote_link.upsert" in outcome["detail"]

        # Asked twice: still one link each (a call made again looks before it creates).
        twice = ops.post(f"/api/ops/events/{event_id}/replay", params={"again": "1"}).json()
        _job_done(e2e, ops, twice["job_id"])
        assert len(ops.get(f"/api/ops/events/{event_id}").json()["made_again"]) == 2
        assert len(_remote_links(e2e, "AGAIN-1")) == 1
        assert len(_zendesk_links(e2e, "6401")) == 1
        assert ops.post(f"/api/ops/events/{event_id}/replay", params={"again": "maybe"}).status_code == 400


def test_again_makes_the_newest_states_calls_never_an_older_ones(e2e: Bridge) -> None:
    older = e2e.zendesk(samples.zendesk_trigger("6402", "AGAIN-2")).json()["event_id"]
    e2e.wait_event(older)
    moved = samples.zendesk_trigger("6402", "AGAIN-3")
    moved["ticket"]["updated_at"] = _minutes_ahead(1)
    e2e.wait_event(e2e.zendesk(moved).json()["event_id"])
    assert _remote_links(e2e, "AGAIN-2") == []
    assert len(_remote_links(e2e, "AGAIN-3")) == 1

    with _ops(e2e) as ops:
        again = ops.post(f"/api/ops/events/{older}/replay", params={"again": "true"}).json()
        _job_done(e2e, ops, again["job_id"])
        (made,) = ops.get(f"/api/ops/events/{older}").json()["made_again"]
        e2e.wait_event(made["again_event_id"])
        targets = {
            call["target"] for call in ops.get(f"/api/ops/events/{made['again_event_id']}").json()["calls"]
        }

    assert _remote_links(e2e, "AGAIN-2") == []  # the older state's link never comes back
    assert len(_remote_links(e2e, "AGAIN-3")) == 1
    assert [link["issue_key"] for link in _zendesk_links(e2e, "6402")] == ["AGAIN-3"]
    assert all("AGAIN-2" not in target for target in targets)


def test_the_cli_says_what_a_replay_made_and_makes_the_calls_again_with_again(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6403", "AGAIN-4")).json()["event_id"]
    e2e.wait_event(event_id)
    _lose_the_links(e2e, "6403", "AGAIN-4")

    plain = _bridge(e2e, "replay", event_id, "--wait", "30")
    assert "already made, nothing to do" in plain
    assert "in this state already" in plain
    assert _remote_links(e2e, "AGAIN-4") == []

    again = _bridge(e2e, "replay", event_id, "--again", "--wait", "30")
    assert f"Event {event_id} made again as job" in again
    assert "jira.remote_link.upsert" in again
    wait_until(lambda: len(_remote_links(e2e, "AGAIN-4")) == 1, 30, "the remote link to come back")
    me = pwd.getpwuid(os.getuid()).pw_name
    answer = json.loads(_bridge(e2e, "audit", "--json"))["entries"][0]
    assert (answer["action"], answer["actor"], answer["via"], answer["ok"]) == (
        "replay-again",
        me,
        "cli",
        True,
    )


def test_the_dashboard_asks_before_it_makes_calls_again(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6404", "AGAIN-5")).json()["event_id"]
    e2e.wait_event(event_id)
    _lose_the_links(e2e, "6404", "AGAIN-5")

    with httpx.Client(base_url=e2e.url, auth=(OPS_USER, OPS_PASSWORD), timeout=10) as browser:
        confirm = browser.get(f"/dashboard/events/{event_id}/again")
        assert "jira.remote_link.upsert" in confirm.text
        assert 'name="confirm" value="again" required' in confirm.text
        csrf = confirm.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": csrf, "event_id": event_id, "back": f"/dashboard/events/{event_id}"}

        unconfirmed = browser.post("/dashboard/actions/replay-again", data=form)
        assert unconfirmed.status_code == 400
        assert "Not confirmed" in unconfirmed.text
        done = browser.post("/dashboard/actions/replay-again", data={**form, "confirm": "again"})
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"/dashboard/events/{event_id}?done=")

    wait_until(lambda: len(_remote_links(e2e, "AGAIN-5")) == 1, 30, "the remote link to come back")
    assert len(_zendesk_links(e2e, "6404")) == 1

    def recorded() -> list[tuple[str, str, str]]:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = e2e.redis.xrevrange(keys.AUDIT_KEY, "+", "-", 10)  # type: ignore[assignment]
        return [
            (text(fields[b"via"]), text(fields[b"actor"]), text(fields[b"detail"]))
            for _, fields in entries
            if fields[b"action"] == b"replay-again" and fields[b"target"] == event_id.encode()
        ]

    both = wait_until(lambda: len(recorded()) == 2 and recorded(), 30, "the request and its outcome")
    assert {(via, actor) for via, actor, _ in both} == {("dashboard", OPS_USER)}


def _bridge(e2e: Bridge, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=e2e.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
