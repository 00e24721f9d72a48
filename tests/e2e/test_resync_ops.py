"""Operators and runs: the ops API's runs and one-subject resync, the dashboard's runs page and resync
buttons (behind the login and the CSRF token), ``/metrics``, and runs the workers schedule themselves."""

from __future__ import annotations

import httpx

from bridge import job_queues, samples
from bridge.stores import runs
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, wait_until
from tests.e2e.test_resync import bridge_command, remote_links, since, zendesk_links

BRIDGE_ENV = {
    "BRIDGE_RESYNC_EVERY_S": "3600",
    "BRIDGE_RECONCILE_EVERY_S": "3600",
    "BRIDGE_ZENDESK_EXPORT_PER_MINUTE": "30",
}
"""A scheduled catch-up and link audit as soon as the worker's keeper starts (then hourly); the export
asked at most every 2 s."""


def browser(e2e: Bridge) -> httpx.Client:
    return httpx.Client(base_url=e2e.url, auth=(OPS_USER, OPS_PASSWORD), timeout=10)


def test_the_workers_start_a_scheduled_catch_up(e2e: Bridge) -> None:
    scheduled = wait_until(
        lambda: (
            len(
                done := [
                    run for run in runs.recent(e2e.redis) if run.via == "schedule" and run.status == "done"
                ]
            )
            == 2
            and done
        ),
        30,
        "a scheduled catch-up and link audit",
    )
    assert sorted(run.kind for run in scheduled) == ["reconcile", "resync"]
    assert {run.by for run in scheduled} == {"bridge"}


def test_resync_one_ticket_through_the_ops_api_and_see_the_run(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSA-1")
    e2e.ticket("7201", keys="RSA-1", subject="Resynced from the API")
    with browser(e2e) as ops:
        refused = ops.post("/api/ops/resync", json={"source": "salesforce", "id": "1"})
        assert refused.status_code == 400
        assert ops.post("/api/ops/resync", json={"source": "zendesk", "id": "12a"}).status_code == 400
        cross_site = ops.post("/api/ops/resync", data={"source": "zendesk", "id": "7201"})
        assert cross_site.status_code in (400, 403, 415)

        asked = ops.post("/api/ops/resync", json={"source": "zendesk", "id": 7201})

        assert asked.status_code == 200, asked.text
        run_id = asked.json()["run_id"]
        wait_until(lambda: zendesk_links(e2e, "7201"), what="the ticket's link")
        (link,) = remote_links(e2e, "RSA-1")
        assert link["object"]["summary"] == "Resynced from the API"
        listed = wait_until(
            lambda: [
                run
                for run in ops.get("/api/ops/runs").json()["runs"]
                if run["id"] == run_id and run["finished_at"]
            ],
            what="the run listed",
        )
        assert listed[0]["subject"] == "zendesk:7201"
        assert (listed[0]["by"], listed[0]["via"], listed[0]["status"]) == (OPS_USER, "api", "done")
        assert listed[0]["planned"] == 1


def test_resync_from_the_dashboards_search_and_event_pages(e2e: Bridge) -> None:
    e2e.control.seed_issue("RSB-1")
    event_id = e2e.zendesk(samples.zendesk_trigger("7202", "RSB-1")).json()["event_id"]
    e2e.wait_event(event_id)
    e2e.control.put_ticket("7202", subject="Changed silently", status="pending", jira_keys="RSB-1")
    with browser(e2e) as ops:
        found = ops.get("/dashboard/search", params={"q": "7202"})
        assert "Resync 7202 from Zendesk" in found.text
        event_page = ops.get(f"/dashboard/events/{event_id}")
        assert "Resync ticket 7202 from Zendesk" in event_page.text
        csrf = found.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        forged = ops.post(
            "/dashboard/actions/resync", data={"csrf": "forged", "source": "zendesk", "id": "7202"}
        )
        assert forged.status_code == 403

        done = ops.post(
            "/dashboard/actions/resync",
            data={"csrf": csrf, "source": "zendesk", "id": "7202", "back": "/dashboard/search?q=7202"},
        )

        assert done.status_code == 303
        assert "Resync+of+zendesk%3A7202+queued" in done.headers["location"]
        wait_until(
            lambda: remote_links(e2e, "RSB-1")[0]["object"]["summary"] == "Changed silently",
            what="the new summary",
        )
        page = wait_until(
            lambda: (page := ops.get("/dashboard/runs")).text.count("zendesk:7202") and page,
            what="the run on the runs page",
        )
        assert "resync" in page.text
        assert OPS_USER in page.text


def test_metrics_show_the_newest_run(e2e: Bridge) -> None:
    bridge_command(e2e, "resync", "--since", since())
    metrics = httpx.get(e2e.url + "/metrics", timeout=10).text
    assert 'bridge_run_count{count="read",kind="resync"}' in metrics
    assert 'bridge_run_running{kind="resync"} 0.0' in metrics
    assert 'bridge_run_failed{kind="resync"} 0.0' in metrics
    assert 'bridge_queued_jobs{queue="bridge-resync"}' in metrics


def test_a_run_in_the_workers_goes_in_jobs_and_waits_for_the_exports_rate_limit(e2e: Bridge) -> None:
    for n in range(1100):  # two pages of the export, the second due 2 s after the first
        e2e.control.put_ticket(str(9000 + n), subject=f"Quiet {n}", status="open")
    run_id = runs.new_run_id("resync")

    job_queues.enqueue_run(e2e.redis, run_id, "resync", since(), via="test")

    done = wait_until(
        lambda: (run := runs.load(e2e.redis, run_id)) is not None and run.status == "done" and run,
        60,
        "the run",
    )
    assert done.counts["read"] >= 1100
    parts = [key for key in e2e.redis.scan_iter(f"rq:job:run-{run_id}-*")]
    assert len(parts) >= 2, "the run went on in a job scheduled for when the export may be asked again"
