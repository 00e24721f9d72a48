"""``bridge reconcile`` repairs links that disappeared upstream or were never made."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import quote

import httpx

from bridge import samples
from bridge.stores import audit
from bridge.upstreams.sandbox import SandboxConfig
from tests.e2e.conftest import Bridge, wait_until


def test_reconcile_recreates_a_missing_remote_link_and_a_missing_zendesk_link(e2e: Bridge) -> None:
    for ticket, key in (("6701", "REC-1"), ("6702", "REC-2")):
        e2e.wait_event(e2e.zendesk(samples.zendesk_trigger(ticket, key)).json()["event_id"])
    config = SandboxConfig()
    zendesk_base = e2e.env["ZENDESK_BASE_URL"]
    # Drift: someone removed the Jira remote link of 6701 and the Zendesk link of 6702.
    httpx.delete(
        f"{e2e.env['JIRA_BASE_URL']}/rest/api/2/issue/REC-1/remotelink",
        params={"globalId": f"system={zendesk_base}&id=6701"},
        auth=(config.jira_email, config.jira_api_token),
    ).raise_for_status()
    (gone,) = [link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6702"]
    httpx.delete(
        f"{zendesk_base}/api/services/jira/links/{quote(str(gone['id']))}",
        auth=(f"{config.zendesk_email}/token", config.zendesk_api_token),
    ).raise_for_status()

    done = subprocess.run(
        [sys.executable, "-m", "bridge", "reconcile"], env=e2e.env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "no log line (JSON or other) beside a command's answer"
    assert "missing: REC-1 ← Zendesk #6701" in done.stdout
    assert "missing: Zendesk #6702 → REC-2" in done.stdout
    wait_until(lambda: e2e.control.state()["jira"]["remote_links"].get("REC-1"), what="the remote link back")
    wait_until(
        lambda: [link for link in e2e.control.state()["zendesk"]["links"] if link["ticket_id"] == "6702"],
        what="the Zendesk link back",
    )
    again = subprocess.run(
        [sys.executable, "-m", "bridge", "reconcile"], env=e2e.env, capture_output=True, text=True, timeout=60
    )
    assert "0 job(s) enqueued" in again.stdout
    runs = [entry for entry in audit.recent(e2e.redis) if entry.action == "reconcile"]
    assert [(run.target, run.via, run.ok) for run in runs] == [("every link", "cli", True)] * 2
    assert "2 job(s) enqueued" in runs[1].detail
