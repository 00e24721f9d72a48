"""The receiver asks the rules whether an event matters: one no rule looks at is answered, not queued."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from rq import Queue

from bridge import samples
from bridge.receiver.app import create_app
from bridge.rules.loader import load_rules
from bridge.serving import ServerThread
from bridge.settings import Settings
from tests.receiver.conftest import send, signed_jira


def _comment_created() -> dict[str, object]:
    payload = samples.jira_issue("PROJ-3", event="comment_created")
    payload["comment"] = {
        "id": "10100",
        "self": "https://example.atlassian.net/rest/api/2/issue/10003/comment/10100",
        "body": "Customer confirmed the workaround.",
        "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
    }
    return payload


def test_event_no_default_rule_looks_at_is_answered_ignored_and_not_queued(
    settings: Settings, events_queue: Queue
) -> None:
    rules = load_rules(None)
    server = ServerThread(create_app(settings, accepts=rules.accepts_type)).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            ignored = send(http, signed_jira(_comment_created()))
            wanted = send(http, signed_jira(samples.jira_issue("PROJ-3", "5001")))
    finally:
        server.stop()

    assert ignored.status_code == 202
    assert ignored.json() == {"ignored": True}
    assert wanted.status_code == 202
    assert wanted.json()["duplicate"] is False
    assert events_queue.count == 1


def test_bridge_web_refuses_to_start_with_a_bad_rules_file(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("rules:\n  - name: broken\n    when: {source: jira, type: issue.created}\n")
    env = {**os.environ, "BRIDGE_RULES": str(rules_file), "PORT": "1"}

    done = subprocess.run(
        [sys.executable, "-m", "bridge", "web"], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert str(rules_file) in done.stderr
    assert "Traceback" not in done.stderr
