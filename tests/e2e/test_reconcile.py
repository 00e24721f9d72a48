"""``bridge reconcile``: the link audit repairs, through the rules, links that drifted away upstream — deleted
by hand at either side, rewritten by hand, or made by hand where the rules want none — and a second run
writes nothing."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bridge import samples
from bridge.settings import Settings
from bridge.stores import audit, runs
from bridge.upstreams.jira_software import client as jira_software
from bridge.upstreams.salesforce.sandbox import SalesforceApi
from bridge.upstreams.sandbox import SandboxConfig
from tests.e2e.conftest import SALESFORCE_FIELD, Bridge, wait_until
from tests.e2e.test_resync import (
    bridge_command,
    remote_links,
    second_run_writes_nothing,
    settled,
    writes,
    zendesk_links,
)

CONFIG = SandboxConfig()


@pytest.fixture(autouse=True)
def forget_earlier_tests(e2e: Bridge) -> None:
    """The audit reads every ticket the bridge knows: forget the earlier tests' (the sandbox forgot them)."""
    for pattern in ("bridge:subject:*", "bridge:links:*", "bridge:named-by:*"):
        for key in e2e.redis.scan_iter(pattern):
            e2e.redis.delete(key)


def linked(e2e: Bridge, ticket: str, key: str) -> None:
    e2e.ticket(ticket, keys=key, subject="Cannot check out with an EU card")
    e2e.wait_event(e2e.zendesk(samples.zendesk_trigger(ticket, key)).json()["event_id"])


def jira_auth() -> tuple[str, str]:
    return (CONFIG.jira_email, CONFIG.jira_api_token)


def zendesk_auth() -> tuple[str, str]:
    return (f"{CONFIG.zendesk_email}/token", CONFIG.zendesk_api_token)


def bare(link: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in link.items() if name not in ("id", "self")}


def test_links_deleted_by_hand_at_jira_and_at_zendesk_come_back_once(e2e: Bridge) -> None:
    for ticket, key in (("6701", "REC-1"), ("6702", "REC-2")):
        linked(e2e, ticket, key)
    zendesk_base = e2e.env["ZENDESK_BASE_URL"]
    (before,) = remote_links(e2e, "REC-1")
    # Drift: someone removed the Jira remote link of 6701 and the Zendesk link of 6702.
    httpx.delete(
        f"{e2e.env['JIRA_BASE_URL']}/rest/api/2/issue/REC-1/remotelink",
        params={"globalId": f"system={zendesk_base}&id=6701"},
        auth=jira_auth(),
    ).raise_for_status()
    (gone,) = zendesk_links(e2e, "6702")
    httpx.delete(
        f"{zendesk_base}/api/services/jira/links/{quote(str(gone['id']))}", auth=zendesk_auth()
    ).raise_for_status()

    done = bridge_command(e2e, "reconcile")

    assert done.stderr == "", "no log line (JSON or other) beside a command's answer"
    assert "remote link missing on issue" in done.stdout
    assert "Zendesk link to REC-2 missing" in done.stdout
    (after,) = wait_until(lambda: remote_links(e2e, "REC-1"), what="the remote link back")
    assert bare(after) == bare(before), "written back exactly as the rules write it"
    wait_until(lambda: zendesk_links(e2e, "6702"), what="the Zendesk link back")
    second_run_writes_nothing(e2e, "reconcile")
    entries = [entry for entry in audit.recent(e2e.redis) if entry.action == "reconcile"]
    assert [(entry.target, entry.via, entry.ok) for entry in entries[:2]] == [("every link", "cli", True)] * 2
    assert "repaired 0" in entries[0].detail
    assert "repaired 2" in entries[1].detail


def test_a_remote_link_rewritten_by_hand_is_written_back_as_the_rules_write_it(e2e: Bridge) -> None:
    linked(e2e, "6703", "REC-3")
    (before,) = remote_links(e2e, "REC-3")
    tampered = {
        **bare(before),
        "object": {**before["object"], "title": "Renamed", "status": {"resolved": True}},
    }
    httpx.post(
        f"{e2e.env['JIRA_BASE_URL']}/rest/api/2/issue/REC-3/remotelink", json=tampered, auth=jira_auth()
    ).raise_for_status()

    done = bridge_command(e2e, "reconcile")

    assert "remote link on issue" in done.stdout
    assert "differs from the rules'" in done.stdout
    wait_until(
        lambda: bare(remote_links(e2e, "REC-3")[0]) == bare(before), what="the link as the rules write it"
    )
    second_run_writes_nothing(e2e, "reconcile")


def test_a_link_the_rules_do_not_want_goes(e2e: Bridge) -> None:
    linked(e2e, "6704", "REC-4")
    e2e.control.seed_issue("REC-5")
    issue = httpx.get(f"{e2e.env['JIRA_BASE_URL']}/rest/api/2/issue/REC-5", auth=jira_auth()).json()
    # An agent links 6704 with REC-5 by hand: the ticket's field names only REC-4.
    httpx.post(
        f"{e2e.env['ZENDESK_BASE_URL']}/api/services/jira/links",
        json={"link": {"ticket_id": "6704", "issue_id": issue["id"], "issue_key": "REC-5"}},
        auth=zendesk_auth(),
    ).raise_for_status()

    done = bridge_command(e2e, "reconcile")

    assert "Zendesk link to REC-5 unknown to the bridge" in done.stdout
    wait_until(
        lambda: [link["issue_key"] for link in zendesk_links(e2e, "6704")] == ["REC-4"],
        what="REC-5's link gone",
    )
    second_run_writes_nothing(e2e, "reconcile")


def test_a_dry_run_audit_calls_nothing(e2e: Bridge) -> None:
    linked(e2e, "6706", "REC-6")
    httpx.delete(
        f"{e2e.env['JIRA_BASE_URL']}/rest/api/2/issue/REC-6/remotelink",
        params={"globalId": f"system={e2e.env['ZENDESK_BASE_URL']}&id=6706"},
        auth=jira_auth(),
    ).raise_for_status()
    wait_until(lambda: settled(e2e), 60, "earlier work")
    e2e.control.clear_calls()

    done = bridge_command(e2e, "reconcile", "--dry-run", "--json")

    assert '"subject":"ticket 6706"' in done.stdout
    time.sleep(1.0)
    assert writes(e2e) == []
    assert remote_links(e2e, "REC-6") == []
    (run,) = runs.recent(e2e.redis, 1)
    assert run.dry_run
    assert run.counts["planned"] >= 1
    assert run.counts["repaired"] == 0


def test_a_salesforce_association_removed_by_hand_comes_back(e2e: Bridge) -> None:
    payload = e2e.issue("REC-7", **{SALESFORCE_FIELD: "500A000081, 500A000082"})
    e2e.wait_event(e2e.jira(payload).json()["event_id"])
    wait_until(lambda: len(associations(e2e, "REC-7")) == 2, what="the associations")
    connector = e2e.sandbox.sandbox.apis["salesforce"]
    assert isinstance(connector, SalesforceApi)
    connector.associations[payload["issue"]["id"]].pop(("Case", "500A000082"))  # removed by hand

    done = bridge_command(e2e, "reconcile")

    assert "Salesforce association missing: Case 500A000082" in done.stdout
    wait_until(lambda: len(associations(e2e, "REC-7")) == 2, what="the association back")
    second_run_writes_nothing(e2e, "reconcile")


def associations(e2e: Bridge, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = e2e.control.state()["salesforce"]["associations"].get(key, [])
    return found


def test_a_ticket_deleted_for_good_whose_delivery_was_lost_is_unlinked_once(e2e: Bridge) -> None:
    linked(e2e, "6709", "REC-9")
    assert remote_links(e2e, "REC-9")
    assert zendesk_links(e2e, "6709")
    # Deleted for good with no delivery: the export no longer lists it, and against the applied state its
    # links look right. Reading the known tickets from Zendesk (show_many) finds it gone.
    e2e.control.delete_ticket("6709", permanent=True)

    done = bridge_command(e2e, "reconcile")

    assert "ticket 6709" in done.stdout
    wait_until(lambda: not remote_links(e2e, "REC-9"), what="the remote link of the deleted ticket gone")
    wait_until(lambda: not zendesk_links(e2e, "6709"), what="the Zendesk link of the deleted ticket gone")
    second_run_writes_nothing(e2e, "reconcile")


def test_a_jira_software_link_deleted_by_hand_comes_back_as_the_rules_write_it(e2e: Bridge) -> None:
    linked(e2e, "6710", "REC-10")
    (before,) = software_links(e2e, "6710")
    software = jira_software.from_settings(Settings.from_env(e2e.env))
    assert software is not None
    software.delete_remote_link(before["id"])  # by hand, with the app's own credentials
    software.close()
    assert software_links(e2e, "6710") == []

    done = bridge_command(e2e, "reconcile")

    assert f"Jira Software link {before['id']} missing" in done.stdout
    (after,) = wait_until(lambda: software_links(e2e, "6710"), what="the Jira Software link back")
    ignore = ("updateSequenceNumber", "lastUpdated")
    assert {k: v for k, v in after.items() if k not in ignore} == {
        k: v for k, v in before.items() if k not in ignore
    }
    second_run_writes_nothing(e2e, "reconcile")


def software_links(e2e: Bridge, ticket: str) -> list[dict[str, Any]]:
    found = e2e.control.state()["jira_software"]["remote_links"]
    return [entry["link"] for entry in found if str(entry["link"]["id"]).endswith(f"-{ticket}")]
