"""10,000 tickets and 10,000 links: a catch-up and a link audit page through them with bounded memory.

The sandbox and the bridge's Redis are filled directly (10,000 tickets changed since the run's time, each
linked at Zendesk with its own issue, known to the bridge's index and subjects); each run is a ``bridge``
process whose peak RSS (``wait4``'s ``ru_maxrss``) is compared with a one-subject run's, the process's
fixed cost (interpreter, rules, clients). Dry runs: each reads everything and plans, calling nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.stores import issue_ids, links, subjects
from bridge.upstreams.sandbox.issues import IssueDirectory
from bridge.upstreams.zendesk.sandbox import ZendeskApi
from tests.e2e.conftest import Bridge
from tests.e2e.test_resync import since

COUNT = 10_000
"""Tickets, issues and links."""

BRIDGE_ENV = {"BRIDGE_ZENDESK_EXPORT_PER_MINUTE": "6000"}
"""The sandbox's export has no rate limit of its own: no pause between its 10 pages."""

BOUND_MB = 25
"""How much more than a one-subject run a run over everything may take at its peak."""


def fill(e2e: Bridge) -> None:
    zendesk = e2e.sandbox.sandbox.apis["zendesk"]
    assert isinstance(zendesk, ZendeskApi)
    directory: IssueDirectory = zendesk.issues
    with e2e.redis.pipeline(transaction=False) as pipe:
        for n in range(COUNT):
            ticket_id, key = 80_000 + n, f"SCL-{n + 1}"
            issue = directory.seed(key)
            zendesk.tickets.change(ticket_id, {"subject": f"Scale {n}", "status": "open", "jira_keys": key})
            link_id = zendesk.next_id
            zendesk.next_id += 1
            zendesk.links[link_id] = {
                "id": link_id,
                "ticket_id": str(ticket_id),
                "issue_id": issue.id,
                "issue_key": key,
                "created_at": "2026-12-01T00:00:00Z",
                "updated_at": "2026-12-01T00:00:00Z",
            }
            for ref in (str(ticket_id), issue.id):
                zendesk.by_ref.setdefault(ref, []).append(link_id)
            links.add(pipe, str(ticket_id), issue.id, key, link_id)
            issue_ids.remember_keys(pipe, issue.id, key)
            state: dict[str, object] = {
                "status": "open",
                "subject": f"Scale {n}",
                "priority": None,
                "url": None,
            }
            state |= {"jira_issue_keys": [key], "deleted": None}
            stored = subjects.Stored(
                "ticket", str(ticket_id), 1_700_000_000_000, 1000, state, "e", [issue.id]
            )
            subjects.save(pipe, stored, 3600)
            if n % 1000 == 999:
                pipe.execute()
        pipe.execute()


def peak_rss_mb(e2e: Bridge, out: Path, *args: str) -> tuple[float, float]:
    """Run ``bridge ARGS`` with its output in ``out``; return its peak RSS (MiB) and its wall time (s).

    The peak is the process's own ``VmHWM``, read until it exits (``ru_maxrss`` would not do: Linux keeps
    it across ``exec``, so a child starts with the test process's own high-water mark)."""
    started = time.monotonic()
    peak_kb = 0
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge", *args], env=e2e.env, stdout=sink, stderr=subprocess.PIPE
        )
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)
        process.wait()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return peak_kb / 1024, time.monotonic() - started


# Three runs over 10,000 subjects take ~60 s on a fast 2-core machine and 211 s on a slow one (seen
# 2026-12-07): more than the suite's default limit per test.
@pytest.mark.timeout(600)
def test_10000_tickets_and_links_page_through_with_bounded_memory(e2e: Bridge, tmp_path: Path) -> None:
    fill(e2e)
    base, _ = peak_rss_mb(e2e, tmp_path / "one.txt", "resync", "zendesk", "80000", "--dry-run")

    catch_up, catch_up_s = peak_rss_mb(
        e2e, tmp_path / "resync.jsonl", "resync", "--since", since(), "--dry-run", "--json"
    )
    audit, audit_s = peak_rss_mb(e2e, tmp_path / "reconcile.jsonl", "reconcile", "--dry-run", "--json")

    figures = (
        f"peak RSS: one subject {base:.1f} MiB; catch-up of {COUNT} tickets {catch_up:.1f} MiB"
        f" ({catch_up_s:.0f} s); audit of {COUNT} links and tickets {audit:.1f} MiB ({audit_s:.0f} s)"
    )
    print(figures)
    (Path(os.environ.get("BRIDGE_SCALE_NOTE", str(tmp_path / "note.txt")))).write_text(figures + "\n")
    last = (tmp_path / "resync.jsonl").read_text().splitlines()[-1]
    assert f'"read":{2 * COUNT}' in last or f'"read":{COUNT}' in last, last
    last_audit = (tmp_path / "reconcile.jsonl").read_text().splitlines()[-1]
    # The links (pass 1), the tickets against the upstreams (pass 2) and the tickets read from Zendesk.
    assert f'"read":{3 * COUNT}' in last_audit, last_audit
    if catch_up > base + BOUND_MB or audit > base + BOUND_MB:
        pytest.fail(figures)
