"""``bridge resync``: catch-up from the sources and one-subject resync, against the sandbox with a real Redis
and a running worker. Each repair is checked in the sandbox's state, and a second run in its call log
(no write call)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bridge import job_queues, keys, samples
from bridge.connections import text
from bridge.stores import runs
from tests.e2e.conftest import SALESFORCE_FIELD, ZENDESK_FIELD, Bridge, wait_until

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def bridge_command(e2e: Bridge, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", *args], env=e2e.env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def since(minutes: int = 10) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def settled(e2e: Bridge) -> bool:
    """Whether the workers are done: no job queued or running and no call waiting for a drain."""
    for name in job_queues.queue_names():
        if e2e.redis.llen(keys.RQ_QUEUE_KEY.format(queue=name)):
            return False
        if e2e.redis.zcard(f"rq:wip:{name}"):
            return False
    return not any(e2e.redis.llen(key) for key in e2e.redis.scan_iter("bridge:calls:*:waiting"))


def writes(e2e: Bridge) -> list[dict[str, Any]]:
    return [call for call in e2e.control.calls() if call["method"] in WRITES]


def remote_links(e2e: Bridge, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = e2e.control.state()["jira"]["remote_links"].get(key, [])
    return found


def zendesk_links(e2e: Bridge, ticket: str) -> list[dict[str, Any]]:
    return [link for link in e2e.control.state()["zendesk"]["links"] if str(link["ticket_id"]) == ticket]


def second_run_writes_nothing(e2e: Bridge, *args: str) -> str:
    wait_until(lambda: settled(e2e), 60, "the first run's work to be done")
    time.sleep(0.5)
    e2e.control.clear_calls()
    again = bridge_command(e2e, *args)
    time.sleep(1.0)
    wait_until(lambda: settled(e2e), 60, "the second run's work to be done")
    assert writes(e2e) == [], again.stdout
    return again.stdout


def test_a_dropped_zendesk_delivery_is_caught_up_once(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSZ-1")
    e2e.ticket("7001", keys="RSZ-1", subject="Dropped on the way")  # no webhook: a delivery Zendesk dropped

    first = bridge_command(e2e, "resync", "--since", since())

    assert "ticket 7001" in first.stdout
    (link,) = wait_until(lambda: remote_links(e2e, "RSZ-1"), what="the remote link")
    assert link["object"]["title"] == "Zendesk #7001"
    assert link["object"]["summary"] == "Dropped on the way"
    assert link["globalId"] == f"system={e2e.env['ZENDESK_BASE_URL']}&id=7001"
    wait_until(lambda: zendesk_links(e2e, "7001"), what="the Zendesk link")
    again = second_run_writes_nothing(e2e, "resync", "--since", since())
    assert "ticket 7001" not in again
    (done,) = [run for run in runs.recent(e2e.redis, 2) if run.kind == "resync"][:1]
    assert done.status == "done"
    assert done.counts["planned"] == 0


def test_a_dropped_jira_delivery_is_caught_up_once(e2e: Bridge) -> None:
    e2e.ticket("7002", subject="Named by the issue only")
    # The issue names the ticket and two Salesforce cases: no webhook.
    e2e.control.seed_issue(
        "RSJ-1", fields={ZENDESK_FIELD: "7002", SALESFORCE_FIELD: "500A000071, 500A000072"}
    )

    first = bridge_command(e2e, "resync", "--since", since(), "--json")

    rows = [orjson.loads(line) for line in first.stdout.splitlines()]
    assert any(row.get("subject") == "issue RSJ-1" for row in rows)
    assert rows[-1]["run"]["status"] == "done"
    (link,) = wait_until(lambda: remote_links(e2e, "RSJ-1"), what="the remote link")
    assert link["object"]["summary"] == "Named by the issue only"
    wait_until(lambda: zendesk_links(e2e, "7002"), what="the Zendesk link")
    associations = wait_until(
        lambda: e2e.control.state()["salesforce"]["associations"].get("RSJ-1"),
        what="the Salesforce associations",
    )
    assert sorted(association["soid"] for association in associations) == ["500A000071", "500A000072"]
    second_run_writes_nothing(e2e, "resync", "--since", since())


def test_a_status_changed_behind_the_bridges_back_is_caught_up(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSS-1")
    e2e.ticket("7003", keys="RSS-1", subject="Cannot check out with an EU card")
    event_id = e2e.zendesk(samples.zendesk_trigger("7003", "RSS-1")).json()["event_id"]
    e2e.wait_event(event_id)
    assert remote_links(e2e, "RSS-1")[0]["object"]["status"] == {"resolved": False}
    e2e.control.put_ticket("7003", status="solved")  # solved at Zendesk; the webhook never came

    bridge_command(e2e, "resync", "--since", since())

    wait_until(
        lambda: remote_links(e2e, "RSS-1")[0]["object"]["status"] == {"resolved": True},
        what="the strike-through",
    )
    second_run_writes_nothing(e2e, "resync", "--since", since())


def test_a_ticket_and_issue_delivered_and_unchanged_cost_no_write_call(e2e: Bridge) -> None:
    # The issue as Jira delivered it: the site's fields at the time of its last change.
    payload = e2e.issue("RSU-1")
    (issue,) = [found for found in e2e.control.state()["jira"]["issues"] if found["key"] == "RSU-1"]
    payload["issue"]["fields"] = issue["fields"]
    updated = datetime.strptime(issue["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z")
    payload["timestamp"] = int(updated.timestamp() * 1000)
    e2e.wait_event(e2e.jira(payload).json()["event_id"], ("done", "skipped"))
    e2e.ticket("7004", keys="RSU-1", subject="Cannot check out with an EU card", status="open")
    payload = samples.zendesk_trigger("7004", "RSU-1")
    payload["ticket"]["priority"] = ""
    e2e.wait_event(e2e.zendesk(payload).json()["event_id"])

    out = second_run_writes_nothing(e2e, "resync", "--since", since())

    assert "ticket 7004" not in out
    assert "issue RSU-1" not in out


def test_a_bridge_stopped_while_100_tickets_changed_catches_up_in_one_run(e2e: Bridge) -> None:
    for n in range(100):
        e2e.ticket(str(7100 + n), keys=f"RSH-{n + 1}", subject=f"Changed while down {n}")

    first = bridge_command(e2e, "resync", "--since", since())

    # (Issues the tickets' plans meet meanwhile may be read too, by the same run's search.)
    assert sum(line.startswith("ticket 7") for line in first.stdout.splitlines()) == 100
    wait_until(lambda: len(e2e.control.state()["jira"]["remote_links"]) >= 100, 90, what="100 remote links")
    wait_until(lambda: len(e2e.control.state()["zendesk"]["links"]) >= 100, 90, what="100 Zendesk links")
    upserts = [call for call in writes(e2e) if call["api"] == "jira" and call["method"] == "POST"]
    assert len(upserts) == 100, "each ticket's remote link written once"
    second_run_writes_nothing(e2e, "resync", "--since", since())


def test_a_dry_run_calls_nothing_and_enqueues_nothing(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSD-1")
    e2e.ticket("7005", keys="RSD-1")
    wait_until(lambda: settled(e2e), 60, "earlier work to be done")
    e2e.control.clear_calls()

    table = bridge_command(e2e, "resync", "--since", since(), "--dry-run")
    as_json = bridge_command(e2e, "resync", "--since", since(), "--dry-run", "--json")

    assert "SUBJECT" in table.stdout
    assert "ticket 7005" in table.stdout
    assert "jira.remote_link.upsert" in table.stdout
    assert "dry run" in table.stdout
    rows = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    (row,) = [row for row in rows if row.get("subject") == "ticket 7005"]
    assert row["action"] == "none"
    assert any(call.startswith("zendesk.jira_link.create") for call in row["calls"])
    assert rows[-1]["run"]["dry_run"] is True
    time.sleep(1.0)
    assert writes(e2e) == []
    assert remote_links(e2e, "RSD-1") == []
    assert e2e.redis.llen(keys.RQ_QUEUE_KEY.format(queue=job_queues.RESYNC_QUEUE)) == 0


def test_resync_one_ticket_and_one_issue(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSO-1", fields={ZENDESK_FIELD: "7007"})
    e2e.ticket("7006", keys="RSO-1", subject="One ticket")
    e2e.ticket("7007", subject="Named by RSO-1")

    one = bridge_command(e2e, "resync", "zendesk", "7006")

    assert "ticket 7006" in one.stdout
    wait_until(lambda: zendesk_links(e2e, "7006"), what="ticket 7006's link")
    bridge_command(e2e, "resync", "jira", "RSO-1")
    wait_until(lambda: zendesk_links(e2e, "7007"), what="ticket 7007's link, named by the issue")
    titles = {link["object"]["title"] for link in remote_links(e2e, "RSO-1")}
    assert titles == {"Zendesk #7006", "Zendesk #7007"}
    second_run_writes_nothing(e2e, "resync", "zendesk", "7006")


def test_a_late_catch_up_event_never_undoes_a_newer_live_delivery(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSL-1")
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    # Read by a catch-up at 10 s into the minute (open)...
    e2e.control.put_ticket(
        "7008",
        subject="Late",
        status="open",
        jira_keys="RSL-1",
        updated_at=(minute + timedelta(seconds=10)).isoformat(),
    )
    stale = bridge_command(e2e, "resync", "zendesk", "7008", "--dry-run", "--json")
    assert "ticket 7008" in stale.stdout
    # ...then solved at 40 s, delivered live with a trigger's minute-precision time, and applied.
    e2e.control.put_ticket("7008", status="solved", updated_at=(minute + timedelta(seconds=40)).isoformat())
    payload = samples.zendesk_trigger("7008", "RSL-1", status="Solved")
    payload["ticket"]["updated_at"] = minute.strftime("%Y-%m-%dT%H:%MZ")
    payload["ticket"]["subject"] = "Late"
    e2e.wait_event(e2e.zendesk(payload).json()["event_id"])
    assert remote_links(e2e, "RSL-1")[0]["object"]["status"] == {"resolved": True}

    # The catch-up's event of the open state comes after it, on the resync lane.
    event = _ticket_event_at(e2e, "7008", "open", minute + timedelta(seconds=10))
    with e2e.redis.pipeline() as pipe:
        job_queues.enqueue_resync_event(e2e.redis, pipe, event)
        pipe.execute()
    wait_until(lambda: e2e.event_status(event["id"]) in ("skipped", "done"), what="the late event")

    wait_until(lambda: settled(e2e), 60, "the late event's work")
    assert remote_links(e2e, "RSL-1")[0]["object"]["status"] == {"resolved": True}


def _ticket_event_at(e2e: Bridge, ticket_id: str, status: str, at: datetime) -> Any:
    from bridge.resync import catchup
    from bridge.resync.context import Context
    from bridge.rules.loader import load_rules
    from bridge.settings import Settings
    from bridge.upstreams import Clients
    from bridge.upstreams.zendesk.client import Ticket

    settings = Settings.from_env(e2e.env)
    run = runs.Run("resync-test", "resync")
    ctx = Context(e2e.redis, Clients(), settings, load_rules(None), run)
    ticket = Ticket(
        id=int(ticket_id),
        subject="Late",
        status=status,
        updated_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        custom_fields=[{"id": settings.zendesk_jira_field_id, "value": "RSL-1"}],
    )
    return catchup.ticket_event(ctx, ticket)


def test_a_run_is_recorded_with_its_counts(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSR-1")
    e2e.ticket("7009", keys="RSR-1")
    bridge_command(e2e, "resync", "--since", since())
    (run,) = runs.recent(e2e.redis, 1)
    assert run.kind == "resync"
    assert run.status == "done"
    assert run.finished_at is not None
    assert run.counts["read"] >= 1
    assert run.counts["planned"] >= 1
    assert run.counts["repaired"] == run.counts["planned"]
    assert text(e2e.redis.hget(keys.RUN_KEY.format(run_id=run.id), "via") or b"") == "cli"


def test_catch_ups_during_live_traffic_never_reorder_a_tickets_live_states(e2e: Bridge) -> None:
    e2e.control.seed_issue("RST-1")
    e2e.control.seed_issue("RST-2")
    e2e.ticket("7010", keys="RST-1", subject="Live 0")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    catch_ups = [
        subprocess.Popen(
            [sys.executable, "-m", "bridge", "resync", "--since", since()],
            env=e2e.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for n in range(1, 13):
        # Each live change: at Zendesk first (the source), then its delivery (seconds apart, in order).
        at = start + timedelta(seconds=10 * n)
        keys_now = "RST-1" if n % 2 else "RST-2"
        e2e.control.put_ticket("7010", subject=f"Live {n}", jira_keys=keys_now, updated_at=at.isoformat())
        payload = samples.zendesk_trigger("7010", keys_now)
        payload["ticket"].update(subject=f"Live {n}", updated_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        e2e.zendesk(payload)
        if n % 4 == 0 and catch_ups[-1].poll() is not None:
            catch_ups.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bridge", "resync", "--since", since()],
                    env=e2e.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    for process in catch_ups:
        process.wait(timeout=60)
    wait_until(lambda: settled(e2e), 60, "the live and caught-up work")

    # The newest state (12: RST-2, "Live 12") and nothing older.
    (link,) = remote_links(e2e, "RST-2")
    assert link["object"]["summary"] == "Live 12"
    assert remote_links(e2e, "RST-1") == []
    assert [found["issue_key"] for found in zendesk_links(e2e, "7010")] == ["RST-2"]
