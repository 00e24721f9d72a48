"""The dashboard in real headless Chromium, 1280 px wide: find a failed job by ticket id, read the upstream's
answer and every try, requeue it, and see it in the audit log; every page keeps its buttons on screen."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bridge import samples
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, wait_until

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WIDTH = 1280

# A realistic refusal: minified JSON without a space to break at, as Zendesk sends it.
LONG_ANSWER = json.dumps(
    {
        "error": "Forbidden",
        "description": "Manage links is off",
        "details": {
            f"field_{n}": [{"description": f"PermissionDenied:links.manage:{n:04d}"}] for n in range(25)
        },
    },
    separators=(",", ":"),
)


def _fits(page: Page, name: str) -> None:
    """The page is no wider than the window, and each Requeue and Delete button is on screen."""
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, f"{name} scrolls sideways"
    for button in page.locator("button:text-is('Requeue'), button:text-is('Delete')").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= WIDTH, f"a {button.inner_text()} button of {name} is off screen"


def test_operator_finds_why_a_ticket_has_no_link_and_fixes_it(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=403, body=LONG_ANSWER)
    event_id = e2e.zendesk(samples.zendesk_trigger("6501", "WEB-1")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            http_credentials={"username": OPS_USER, "password": OPS_PASSWORD},
            viewport={"width": WIDTH, "height": 900},
        )
        page = context.new_page()
        page.goto(e2e.url + "/dashboard")
        assert page.locator("text=zendesk").first.is_visible()
        assert "403" in page.content()  # the overview shows Zendesk's last error
        assert page.locator(f"a:has-text('{event_id}')").first.is_visible()  # and the recent events
        _fits(page, "overview")

        page.goto(e2e.url + "/dashboard/failed")
        row = page.locator("tr", has_text=event_id)
        assert "ticket 6501" in row.inner_text()
        assert "Manage links is off" in row.inner_text()
        _fits(page, "failed")
        page.goto(e2e.url + "/dashboard/queues/bridge-calls-zendesk?registry=failed")
        _fits(page, "queue")

        page.fill("input[name=q]", "6501")
        page.click("button:has-text('Search')")
        _fits(page, "search")
        page.click(f"a:has-text('{event_id}')")
        assert "Manage links is off" in page.content()
        assert page.locator("td.bad", has_text="failed").first.is_visible()
        attempts = page.locator("table.attempts")
        assert "403" in attempts.inner_text()
        assert "failed for good" in attempts.inner_text()
        _fits(page, "event")

        e2e.control.clear_faults()
        page.locator("button:has-text('Requeue')").first.click()
        assert "Requeued job" in page.locator(".notice").inner_text()
        wait_until(lambda: e2e.event_status(event_id) == "done", what="the requeued event to be done")
        page.reload()
        assert f"Event {event_id} · done" in page.locator("h1").inner_text()
        job_row = page.locator("tr", has_text=f"calls-{event_id}-zendesk")
        assert "finished" in job_row.inner_text()
        assert "403" not in job_row.inner_text()  # the old answer is gone from the job's row...
        tries = page.locator("table.attempts tbody tr", has_text="zendesk.jira_link.create").all_inner_texts()
        assert ["403" in tried for tried in tries] == [True, False]  # ...and stays with its try
        assert "done" in tries[1]

        page.click("a:has-text('What the current rules would plan')")
        assert "already made, nothing to do" in page.content()
        _fits(page, "plan")

        page.click("header a:has-text('Audit log')")
        newest = page.locator("tbody tr").first.inner_text()
        assert "requeue" in newest
        assert f"calls-{event_id}-zendesk" in newest
        assert OPS_USER in newest
        assert "dashboard" in newest
        _fits(page, "audit")

        # Making the calls again asks first: the page says what would be made, the box must be ticked.
        page.goto(e2e.url + f"/dashboard/events/{event_id}")
        page.click("a:has-text('Make the calls again…')")
        assert "zendesk.jira_link.create" in page.content()
        _fits(page, "again")
        page.click("button:has-text('Make the calls again')")  # not ticked: the browser sends nothing
        assert page.url.endswith(f"/dashboard/events/{event_id}/again")
        page.check("input[name=confirm]")
        page.click("button:has-text('Make the calls again')")
        assert "are made again as job" in page.locator(".notice").inner_text()

        def made_again() -> bool:
            page.reload()
            return "made-again" in page.content()

        wait_until(made_again, what="the event's page to show its calls made again")
        _fits(page, "event-made-again")
        browser.close()

    links = [link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6501"]
    assert len(links) == 1
    assert (ARTIFACTS / "dashboard-overview.png").stat().st_size > 10_000
