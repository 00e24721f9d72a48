"""The ops API over HTTP, on real jobs made by webhooks while the sandbox fails on purpose."""

from __future__ import annotations

from typing import Any

import httpx

from bridge import samples
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge

AUTH = (OPS_USER, OPS_PASSWORD)


def _ops(e2e: Bridge) -> httpx.Client:
    # A script's calls carry X-Requested-With: state-changing calls need it (or a JSON body).
    return httpx.Client(base_url=e2e.url, auth=AUTH, timeout=10, headers={"X-Requested-With": "ops-script"})


def _zendesk_links(e2e: Bridge, ticket: str) -> list[dict[str, Any]]:
    return [link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == ticket]


def test_login_is_required_and_checked(e2e: Bridge) -> None:
    assert httpx.get(e2e.url + "/api/ops/queues").status_code == 401
    assert httpx.get(e2e.url + "/api/ops/queues", auth=(OPS_USER, "wrong")).status_code == 401
    answer = httpx.get(e2e.url + "/dashboard", auth=(OPS_USER, "wrong"))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_find_a_failed_call_by_ticket_fix_it_and_requeue(e2e: Bridge) -> None:
    # Zendesk refuses link creation (its "Manage links" toggle is off): a permanent 403.
    e2e.control.add_fault(api="zendesk", method="POST", status=403, body='{"error": "Manage links is off"}')
    event_id = e2e.zendesk(samples.zendesk_trigger("6301", "OPS-1")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))

    with _ops(e2e) as ops:
        found = ops.get("/api/ops/search", params={"q": "6301"}).json()
        assert [event["event_id"] for event in found["events"]] == [event_id]
        failed = ops.get("/api/ops/failed", params={"destination": "zendesk"}).json()
        (job,) = [job for job in failed if job["event_id"] == event_id]
        assert job["upstream_status"] == 403
        assert "Manage links is off" in job["upstream_body"]
        assert ops.get("/api/ops/failed", params={"destination": "salesforce"}).json() == []

        detail = ops.get(f"/api/ops/events/{event_id}").json()
        assert detail["status"] == "failed"
        outcomes = {call["kind"]: call["outcome"] for call in detail["calls"]}
        assert outcomes["zendesk.jira_link.create"] == "failed"
        assert outcomes["jira.remote_link.upsert"] == "done"
        assert detail["raw"]["meta"]  # the delivery as received, without its signature
        assert "X-Zendesk-Webhook-Signature" not in str(detail["raw"]["meta"])

        e2e.control.clear_faults()
        requeued = ops.post(f"/api/ops/failed/{job['job_id']}/requeue")
        assert requeued.status_code == 200, requeued.text
        e2e.wait_event(event_id)
        assert len(_zendesk_links(e2e, "6301")) == 1
        queues = {queue["name"]: queue for queue in ops.get("/api/ops/queues").json()}
        assert queues["bridge-calls-zendesk"]["failed"] == 0


def test_replay_takes_the_event_in_again_without_a_second_effect(e2e: Bridge) -> None:
    event_id = e2e.zendesk(samples.zendesk_trigger("6302", "OPS-2")).json()["event_id"]
    e2e.wait_event(event_id)
    calls_before = len([call for call in e2e.control.calls() if call["method"] != "GET"])

    with _ops(e2e) as ops:
        replayed = ops.post(f"/api/ops/events/{event_id}/replay").json()
        assert replayed["replayed"] == event_id
        # The ticket is in the state the event tells already: nothing to do, and the event says so.
        e2e.wait_event(event_id, ("skipped",), timeout_s=20)
    assert "in this state already" in e2e.event_reason(event_id)
    assert len([call for call in e2e.control.calls() if call["method"] != "GET"]) == calls_before
    assert len(_zendesk_links(e2e, "6302")) == 1


def test_delete_a_job_and_unknown_ones_answer_404(e2e: Bridge) -> None:
    e2e.control.add_fault(api="salesforce", status=400, body='{"message": "no binding"}')
    payload = samples.jira_issue("OPS-3", "")
    payload["issue"]["fields"]["customfield_10060"] = "500OPS3"
    event_id = e2e.jira(payload).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))

    with _ops(e2e) as ops:
        (job,) = ops.get("/api/ops/failed", params={"destination": "salesforce"}).json()
        assert ops.delete(f"/api/ops/jobs/{job['job_id']}").json() == {"deleted": job["job_id"]}
        assert ops.get("/api/ops/failed", params={"destination": "salesforce"}).json() == []
        assert ops.delete(f"/api/ops/jobs/{job['job_id']}").status_code == 404
        assert ops.get("/api/ops/events/no-such-event").status_code == 404


def test_openapi_describes_the_contracts_routes_and_cross_site_posts_are_refused(e2e: Bridge) -> None:
    with _ops(e2e) as ops:
        paths = ops.get("/api/ops/openapi.json").json()["paths"]
        for path in (
            "/api/ops/queues",
            "/api/ops/failed",
            "/api/ops/failed/{job_id}/requeue",
            "/api/ops/jobs/{job_id}",
            "/api/ops/events/{event_id}",
            "/api/ops/events/{event_id}/replay",
            "/api/ops/search",
        ):
            assert path in paths
        refused = ops.post("/api/ops/pause", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        page = ops.get("/dashboard")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert OPS_PASSWORD not in page.text
        forged = ops.post("/dashboard/actions/pause", data={"csrf": "forged", "back": "/dashboard"})
        assert "CSRF" in forged.text
        assert ops.get("/api/ops/overview").json()["paused"] is False
