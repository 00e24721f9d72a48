"""The ops CLI against the running bridge: tables for people, JSON for scripts, the same functions."""

from __future__ import annotations

import json
import subprocess
import sys

from bridge import samples
from tests.e2e.conftest import Bridge


def _bridge(e2e: Bridge, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=e2e.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_failed_search_requeue_replay_and_queues_from_a_terminal(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=422, body='{"error": "RecordInvalid"}')
    event_id = e2e.zendesk(samples.zendesk_trigger("6401", "CLI-1")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))

    failed = json.loads(_bridge(e2e, "failed", "--destination", "zendesk", "--json").stdout)
    (job,) = [job for job in failed if job["event_id"] == event_id]
    assert job["upstream_status"] == 422
    table = _bridge(e2e, "failed", "--destination", "zendesk").stdout
    assert job["job_id"] in table
    assert "UPSTREAM_STATUS" in table

    found = _bridge(e2e, "events", "search", "6401").stdout
    assert event_id in found

    e2e.control.clear_faults()
    assert "1 job(s) requeued" in _bridge(e2e, "failed", "--requeue", "--destination", "zendesk").stdout
    e2e.wait_event(event_id)

    replayed = json.loads(_bridge(e2e, "replay", event_id, "--json").stdout)
    assert replayed["replayed"] == event_id
    queues = _bridge(e2e, "queues").stdout
    assert "bridge-calls-zendesk" in queues
    assert "DESTINATION" in queues
