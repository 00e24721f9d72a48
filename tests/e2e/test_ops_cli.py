"""The ops CLI against the running bridge: tables for people, JSON for scripts, the same functions."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import pwd
import struct
import subprocess
import sys
import termios

from bridge import samples
from tests.e2e.conftest import Bridge

LONG_ANSWER = (
    '{"error": "RecordInvalid", "description": "Record validation errors", "details": {"issue_key": '
    '[{"description": "The Jira issue key CLI-1 does not exist in the linked Jira site; check the key and'
    ' the site that Zendesk links to (Admin Center, Integrations, Jira)", "error": "InvalidValue"}]}}'
)


def _bridge(e2e: Bridge, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=e2e.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _in_terminal(e2e: Bridge, columns: int, *args: str) -> str:
    """Run a command with its output on a terminal ``columns`` wide; return what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", *args], env=e2e.env, stdout=follower, stderr=subprocess.PIPE
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the command ended
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return output.decode().replace("\r\n", "\n")


def test_failed_search_requeue_replay_and_queues_from_a_terminal(e2e: Bridge) -> None:
    e2e.control.add_fault(api="zendesk", method="POST", status=422, body=LONG_ANSWER)
    event_id = e2e.zendesk(samples.zendesk_trigger("6401", "CLI-1")).json()["event_id"]
    e2e.wait_event(event_id, ("failed",))

    failed = json.loads(_bridge(e2e, "failed", "--destination", "zendesk", "--json").stdout)
    (job,) = [job for job in failed if job["event_id"] == event_id]
    assert job["upstream_status"] == 422
    assert job["subject"] == "ticket 6401"
    # Piped: one whole line per job, the upstream's answer uncut.
    table = _bridge(e2e, "failed", "--destination", "zendesk").stdout
    assert "SUBJECT" in table
    assert "UPSTREAM_ANSWER" in table
    (row,) = [line for line in table.splitlines() if job["job_id"] in line]
    assert "ticket 6401" in row
    assert LONG_ANSWER in row
    assert "{" not in _bridge(e2e, "failed").stderr
    # On a terminal 120 columns wide: the answer wraps within the table, whole.
    shown = _in_terminal(e2e, 120, "failed", "--destination", "zendesk")
    assert max(len(line) for line in shown.splitlines()) <= 120
    answer_lines = _answer_lines(shown)
    assert len(answer_lines) > 1
    assert "".join("".join(answer_lines).split()) == "".join(LONG_ANSWER.split())

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

    # Both repairs are in the audit log, as this OS user's, through the CLI.
    me = pwd.getpwuid(os.getuid()).pw_name
    entries = json.loads(_bridge(e2e, "audit", "--json").stdout)["entries"]
    assert [(e["action"], e["target"], e["actor"], e["via"], e["ok"]) for e in entries[:2]] == [
        ("replay", event_id, me, "cli", True),
        ("requeue-all", "zendesk", me, "cli", True),
    ]
    assert entries[1]["detail"] == "1 job(s) requeued"
    listed = _bridge(e2e, "audit").stdout
    assert "WHO" in listed
    assert f"{me} (cli)" in listed


def _answer_lines(shown: str) -> list[str]:
    """The lines of a table that carry its last column (the answer), from the header down."""
    lines = shown.splitlines()
    start = next(i for i, line in enumerate(lines) if "UPSTREAM_ANSWER" in line)
    column = lines[start].index("UPSTREAM_ANSWER")
    return [line[column:] for line in lines[start + 1 :] if len(line) > column]
