"""The dashboard in real headless Chromium: find a failed job by ticket id, open its event, requeue it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from bridge import samples
from tests.e2e.conftest import OPS_PASSWORD, OPS_USER, Bridge, wait_until

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def test_operator_finds_why_a_ticket_has_no_link_and_fixes_it(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=403, body='{"error": "Manage links is off"}')
    event_id = e2e.zendesk(samples.zendesk_trigger("6501", "WEB-1")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(http_credentials={"username": OPS_USER, "password": OPS_PASSWORD})
        page = context.new_page()
        page.goto(e2e.url + "/dashboard")
        assert page.locator("text=zendesk").first.is_visible()
        assert "403" in page.content()  # the overview shows Zendesk's last error
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

        page.fill("input[name=q]", "6501")
        page.click("button:has-text('Search')")
        page.click(f"a:has-text('{event_id}')")
        assert "Manage links is off" in page.content()
        assert page.locator("td.bad", has_text="failed").first.is_visible()

        e2e.control.clear_faults()
        page.locator("button:has-text('Requeue')").first.click()
        assert "Requeued job" in page.locator(".notice").inner_text()
        wait_until(lambda: e2e.event_status(event_id) == "done", what="the requeued event to be done")
        page.reload()
        assert f"Event {event_id} · done" in page.locator("h1").inner_text()
        browser.close()

    links = [link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6501"]
    assert len(links) == 1
    assert (ARTIFACTS / "dashboard-overview.png").stat().st_size > 10_000
