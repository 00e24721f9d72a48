"""The contract's guarantees, end to end, each asserted on the sandbox's final state and call log."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rq import Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import keys, samples
from bridge.job_queues import queue_names
from tests.e2e.conftest import Bridge, wait_until
from tests.values import ZENDESK_SECRET


def _issue_id(e2e: Bridge, key: str) -> str:
    """The sandbox's id of issue ``key`` (seeded now when it does not exist yet): calls name issues by id."""
    issue: dict[str, Any] = e2e.control.seed_issue(key)
    return str(issue["id"])


def _upserts(e2e: Bridge, issue: str, ok_only: bool = True) -> list[dict[str, Any]]:
    issue_id = _issue_id(e2e, issue)
    return [
        call
        for call in e2e.control.calls("jira")
        if call["method"] == "POST"
        and call["path"].endswith(f"/issue/{issue_id}/remotelink")
        and (not ok_only or (call["status"] is not None and call["status"] < 300))
    ]


def _links(e2e: Bridge, issue: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = e2e.control.state()["jira"]["remote_links"].get(issue, [])
    return links


def _fault_on_upserts(e2e: Bridge, issue: str, **fault: Any) -> None:
    e2e.control.add_fault(
        api="jira", method="POST", path=f"/issue/{_issue_id(e2e, issue)}/remotelink", **fault
    )


def test_the_same_delivery_twice_has_one_effect(e2e: Bridge) -> None:
    payload = samples.zendesk_trigger("6201", "G-1")
    first = e2e.zendesk(payload, invocation="inv-6201")
    second = e2e.zendesk(payload, invocation="inv-6201")

    assert second.status_code == 200
    assert second.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    e2e.wait_event(first.json()["event_id"])
    assert len(_upserts(e2e, "G-1")) == 1


def test_the_same_content_in_two_deliveries_has_one_effect(e2e: Bridge) -> None:
    payload = samples.zendesk_trigger("6202", "G-2")
    # Signed at two moments, so two deliveries (the same signed content would be one: test_replay.py).
    signed_before = datetime.now(UTC) - timedelta(seconds=2)
    first = e2e.post(samples.sign_zendesk(payload, ZENDESK_SECRET, "inv-6202-a", signed_before)).json()[
        "event_id"
    ]
    second = e2e.zendesk(payload, invocation="inv-6202-b").json()["event_id"]
    assert first != second

    e2e.wait_event(first)
    # The second tells the state the first applied: it plans nothing, and says so.
    e2e.wait_event(second, ("skipped",))
    assert "in this state already" in e2e.event_reason(second)
    assert len(_upserts(e2e, "G-2")) == 1
    assert len([link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6202"]) == 1


def test_429_with_retry_after_waits_then_succeeds_once(e2e: Bridge) -> None:
    _fault_on_upserts(e2e, "G-3", status=429, retry_after=2, times=1)
    event_id = e2e.zendesk(samples.zendesk_trigger("6203", "G-3")).json()["event_id"]

    e2e.wait_event(event_id, timeout_s=30)
    attempts = _upserts(e2e, "G-3", ok_only=False)
    assert [call["status"] for call in attempts] == [429, 201]
    assert attempts[1]["at"] - attempts[0]["at"] >= 1.9
    assert len(_links(e2e, "G-3")) == 1


def test_a_5xx_storm_that_ends_has_one_effect(e2e: Bridge) -> None:
    _fault_on_upserts(e2e, "G-4", status=503, times=2)
    _fault_on_upserts(e2e, "G-4", status=500, times=2)
    event_id = e2e.zendesk(samples.zendesk_trigger("6204", "G-4")).json()["event_id"]

    e2e.wait_event(event_id, timeout_s=30)
    statuses = [call["status"] for call in _upserts(e2e, "G-4", ok_only=False)]
    assert statuses[-1] == 201
    assert len([status for status in statuses if status in (500, 503)]) == 4
    assert len(_links(e2e, "G-4")) == 1


def test_a_permanent_400_fails_at_once_into_the_failed_registry(e2e: Bridge) -> None:
    _fault_on_upserts(e2e, "G-5", status=400, body='{"errorMessages":["bad link"]}')
    event_id = e2e.zendesk(samples.zendesk_trigger("6205", "G-5")).json()["event_id"]

    e2e.wait_event(event_id, ("failed",))
    assert len(_upserts(e2e, "G-5", ok_only=False)) == 1
    registry = FailedJobRegistry(
        queue=Queue("bridge-calls-jira", connection=e2e.redis, serializer=JSONSerializer)
    )
    job = wait_until(lambda: [j for j in registry.get_job_ids() if event_id in j], what="the failed job")
    failed = Queue("bridge-calls-jira", connection=e2e.redis, serializer=JSONSerializer).fetch_job(job[0])
    assert failed is not None
    assert failed.meta["upstream_status"] == 400
    assert "bad link" in failed.meta["upstream_body"]
    reason = e2e.redis.hget(keys.EVENT_KEY.format(event_id=event_id), "reason")
    assert reason is not None
    assert b"400" in reason


def test_an_older_event_after_a_newer_one_plans_nothing(e2e: Bridge) -> None:
    newer = samples.zendesk_trigger("6206", "G-6", status="Solved")
    newer["ticket"]["updated_at"] = "2026-11-25T10:00:00Z"
    older = samples.zendesk_trigger("6206", "G-6", status="Open")
    older["ticket"]["updated_at"] = "2026-11-25T09:00:00Z"

    e2e.wait_event(e2e.zendesk(newer).json()["event_id"])
    old_event = e2e.zendesk(older).json()["event_id"]
    e2e.wait_event(old_event, ("skipped",))

    assert "newer already" in e2e.event_reason(old_event)
    (link,) = _links(e2e, "G-6")
    assert link["object"]["status"]["resolved"] is True
    assert len(_upserts(e2e, "G-6")) == 1


def test_a_worker_killed_during_a_slow_call_is_taken_over_within_15_s(e2e: Bridge) -> None:
    # Default settings: the worker's lease (BRIDGE_WORKER_LEASE_S) is not shortened here.
    assert "BRIDGE_WORKER_LEASE_S" not in e2e.env
    for worker in e2e.workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)
    _fault_on_upserts(e2e, "G-7", delay_s=3, times=1)
    victim = e2e.start_worker()
    wait_until(lambda: e2e.redis.scard("rq:workers") >= 1, 60, "the worker to register")
    event_id = e2e.zendesk(samples.zendesk_trigger("6207", "G-7")).json()["event_id"]
    # The victim holds the issue's claim while its call waits in the sandbox.
    claim = keys.CLAIM_KEY.format(target=f"jira:{_issue_id(e2e, 'G-7')}")
    wait_until(lambda: e2e.redis.exists(claim), what="the slow call to start")
    time.sleep(0.5)
    # A worker is one process: nothing of it (RQ forks its scheduler by default) outlives a SIGKILL
    # holding the worker's Redis connection, which would swallow the next job from the queue.
    assert _children(victim.pid) == []
    # A worker killed while cleaning RQ's registries leaves RQ's per-queue cleaning lock for 15 minutes:
    # the bridge's cleanup does not wait for it.
    for name in queue_names():
        e2e.redis.set(f"rq:clean_registries:{name}", 1, ex=899)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.wait(timeout=10)

    e2e.start_worker()
    e2e.wait_event(event_id, timeout_s=30)
    taken_over = [call["at"] for call in _upserts(e2e, "G-7", ok_only=False) if call["at"] > killed_at]
    assert taken_over, "no call after the kill"
    assert taken_over[0] - killed_at <= 15.0, f"taken over after {taken_over[0] - killed_at:.1f} s"
    assert len(_links(e2e, "G-7")) == 1
    assert len([link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6207"]) == 1

    # The next event goes to the new worker, not to the dead one's connection.
    next_event = e2e.zendesk(samples.zendesk_trigger("6208", "G-8")).json()["event_id"]
    e2e.wait_event(next_event, timeout_s=20)
    assert len(_links(e2e, "G-8")) == 1


def _children(pid: int) -> list[int]:
    """Return the processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children
