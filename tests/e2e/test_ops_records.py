"""What the ops API tells an operator: each try of a call, recent events, who did what, what the rules plan."""

from __future__ import annotations

from typing import Any

import httpx

from bridge import samples
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge


def _ops(e2e: Bridge) -> httpx.Client:
    # A script's calls carry X-Requested-With: state-changing calls need it (or a JSON body).
    headers = {"X-Requested-With": "ops-script"}
    return httpx.Client(base_url=e2e.url, auth=(OPS_USER, OPS_PASSWORD), timeout=10, headers=headers)


def _call(detail: dict[str, Any], kind: str) -> dict[str, Any]:
    (call,) = [call for call in detail["calls"] if call["kind"] == kind]
    found: dict[str, Any] = call
    return found


def test_two_503s_then_success_show_as_three_tries(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=503, body='{"error": "busy"}', times=2)
    event_id = e2e.zendesk(samples.zendesk_trigger("6801", "REC-8")).json()["event_id"]
    e2e.wait_event(event_id)

    with _ops(e2e) as ops:
        link = _call(ops.get(f"/api/ops/events/{event_id}").json(), "zendesk.jira_link.create")

    tries = link["tries"]
    assert [(t["attempt"], t["outcome"], t["upstream_status"]) for t in tries] == [
        (1, "retrying", 503),
        (2, "retrying", 503),
        (3, "done", None),
    ]
    assert [t["upstream_body"] for t in tries[:2]] == ['{"error": "busy"}'] * 2
    assert all(t["retry_in_s"] > 0 for t in tries[:2])
    assert tries[2]["retry_in_s"] is None
    assert tries[0]["at"] < tries[1]["at"] < tries[2]["at"]


def test_after_a_requeue_the_job_shows_its_new_outcome_and_the_audit_log_who_requeued(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=403, body='{"error": "Manage links is off"}')
    event_id = e2e.zendesk(samples.zendesk_trigger("6802", "REC-9")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))

    with _ops(e2e) as ops:
        (failed,) = [job for job in ops.get("/api/ops/failed").json() if job["event_id"] == event_id]
        assert failed["subject"] == "ticket 6802"
        assert failed["upstream_status"] == 403
        e2e.control.clear_faults()
        assert ops.post(f"/api/ops/failed/{failed['job_id']}/requeue").status_code == 200
        e2e.wait_event(event_id)
        detail = ops.get(f"/api/ops/events/{event_id}").json()
        entries = ops.get("/api/ops/audit", params={"limit": 5}).json()["entries"]

    (job,) = [job for job in detail["jobs"] if job["job_id"] == failed["job_id"]]
    assert job["status"] == "finished"
    assert (job["upstream_status"], job["upstream_body"], job["error"]) == (None, None, None)
    assert job["requeued_by"] == f"{OPS_USER} (api)"
    tries = _call(detail, "zendesk.jira_link.create")["tries"]
    assert [(t["outcome"], t["upstream_status"]) for t in tries] == [("failed", 403), ("done", None)]
    requeue = next(entry for entry in entries if entry["action"] == "requeue")
    assert (requeue["actor"], requeue["via"], requeue["target"], requeue["ok"]) == (
        OPS_USER,
        "api",
        failed["job_id"],
        True,
    )


def test_the_overview_lists_recent_events(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6803", "REC-10")).json()["event_id"]
    e2e.wait_event(event_id)

    with _ops(e2e) as ops:
        recent = ops.get("/api/ops/overview").json()["recent_events"]

    assert recent[0]["event_id"] == event_id
    assert (recent[0]["subject"], recent[0]["status"]) == ("ticket 6803", "done")


def test_pause_and_resume_are_audited_with_the_login_and_pages_go_back_in_time(e2e: Bridge) -> None:
    with _ops(e2e) as ops:
        ops.post("/api/ops/pause")
        ops.post("/api/ops/resume")
        newest = ops.get("/api/ops/audit", params={"limit": 1}).json()
        older = ops.get("/api/ops/audit", params={"limit": 1, "before": newest["older"]}).json()

    assert [(e["action"], e["actor"], e["via"]) for e in newest["entries"] + older["entries"]] == [
        ("resume", OPS_USER, "api"),
        ("pause", OPS_USER, "api"),
    ]


def test_the_plan_of_a_done_event_under_the_current_rules_is_all_made_already(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6804", "REC-11")).json()["event_id"]
    e2e.wait_event(event_id)
    calls_before = len(e2e.control.calls())

    with _ops(e2e) as ops:
        plan = ops.get(f"/api/ops/events/{event_id}/plan").json()
        paths = ops.get("/api/ops/openapi.json").json()["paths"]
        assert ops.get("/api/ops/events/no-such-event/plan").status_code == 404

    assert plan["subject"] == "ticket 6804"
    assert plan["linked"]["jira_issue_keys"] == ["REC-11"]
    assert {call["kind"] for call in plan["calls"]} >= {"jira.remote_link.upsert"}
    assert all(call["made_already"] and call["configured"] for call in plan["calls"])
    assert len(e2e.control.calls()) == calls_before  # nothing was called
    assert "/api/ops/audit" in paths
    assert "/api/ops/events/{event_id}/plan" in paths
