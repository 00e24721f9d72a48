"""A catch-up killed half-way (SIGKILL) and started again goes on from its last page, under the same run,
and makes each effect once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter

import pytest

from bridge import defaults, keys
from bridge.stores import runs
from tests.e2e.conftest import Bridge, wait_until
from tests.e2e.test_resync import bridge_command, second_run_writes_nothing, since, writes

TICKETS = 250
"""Three pages of Jira's search (``RESYNC_PAGE`` = 100)."""


@pytest.mark.timeout(300)  # the killed run's lock lapses at its default, 60 s
def test_a_run_killed_half_way_resumes_and_makes_each_effect_once(e2e: Bridge) -> None:
    for n in range(TICKETS):
        e2e.control.seed_issue(f"RSK-{n + 1}")
        e2e.ticket(str(7500 + n), keys=f"RSK-{n + 1}", subject=f"Changed while down {n}")
    e2e.control.clear_calls()
    # Each page of Jira's search takes a second: the run is killed after its first page of issues.
    slow = e2e.control.add_fault(api="jira", path="search", delay_s=1.0)
    started_at = since()
    killed = subprocess.Popen(
        [sys.executable, "-m", "bridge", "resync", "--since", started_at],
        env=e2e.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run = wait_until(
        lambda: next((run for run in runs.recent(e2e.redis, 5) if run.cursors.get("jira")), None),
        30,
        "the first page of issues",
    )
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert runs.load(e2e.redis, run.id).status == "running"  # type: ignore[union-attr]
    e2e.control.remove_fault(slow)
    # At the default lapse: the killed run's lock goes on its own, RUN_LOCK_TTL_S after its last page.
    lock = keys.RUN_LOCK_KEY.format(kind="resync")
    wait_until(
        lambda: not e2e.redis.exists(lock), defaults.RUN_LOCK_TTL_S + 15, "the killed run's lock to lapse"
    )

    resumed = bridge_command(e2e, "resync", "--since", started_at)

    assert f"resync {run.id}: done" in resumed.stdout, resumed.stdout
    wait_until(lambda: len(e2e.control.state()["jira"]["remote_links"]) >= TICKETS, 120, "every remote link")
    wait_until(lambda: len(e2e.control.state()["zendesk"]["links"]) >= TICKETS, 120, "every Zendesk link")
    upserts = Counter(
        call["path"] for call in writes(e2e) if call["api"] == "jira" and call["path"].endswith("/remotelink")
    )
    assert len(upserts) == TICKETS
    assert set(upserts.values()) == {1}, "each remote link written once"
    creates = [call for call in writes(e2e) if call["api"] == "zendesk" and call["method"] == "POST"]
    assert len(creates) == TICKETS, "each Zendesk link made once"
    second_run_writes_nothing(e2e, "resync", "--since", started_at)
