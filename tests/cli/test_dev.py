"""The README's first command: ``bridge dev`` on a machine without REDIS_URL, then ``bridge send-sample``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from bridge.cli.dev import DEV_DASHBOARD_PASSWORD, DEV_DASHBOARD_USER
from bridge.embedded_redis import free_port
from tests.e2e.conftest import wait_until


def test_bridge_dev_runs_everything_and_a_sample_becomes_links(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "BRIDGE_", "JIRA_", "ZENDESK_"))
    }
    log = (tmp_path / "dev.log").open("wb")
    dev = subprocess.Popen([sys.executable, "-m", "bridge", "dev", "--port", str(port)], env=env, stdout=log,
                           stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), 60, "bridge dev to serve")
        sent = subprocess.run(
            [sys.executable, "-m", "bridge", "send-sample", "zendesk", "--url", url, "--ticket", "5901"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert "→ 202" in sent.stdout
        auth = (DEV_DASHBOARD_USER, DEV_DASHBOARD_PASSWORD)

        def done() -> bool:
            events = httpx.get(url + "/api/ops/search", params={"q": "5901"}, auth=auth, timeout=5).json()[
                "events"
            ]
            return bool(events) and events[0]["status"] == "done"

        wait_until(done, 30, "the sample's event to be done")
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=30)
        log.close()
    banner = (tmp_path / "dev.log").read_text()
    assert f"POST http://127.0.0.1:{port}/webhooks/zendesk" in banner
    assert "secret: dev-zendesk-webhook-secret" in banner
    assert "bridge send-sample zendesk" in banner
    assert "embedded Redis" in banner
    assert code in (0, 130), banner[-2000:]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
