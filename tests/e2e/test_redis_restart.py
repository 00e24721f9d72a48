"""An accepted event survives a Redis restart between enqueue and processing (Redis with persistence)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from bridge import samples
from bridge.embedded_redis import free_port
from bridge.upstreams.sandbox import SandboxConfig, serve_in_thread
from tests.e2e.conftest import wait_until
from tests.values import ZENDESK_SECRET


def _redis_server(directory: Path, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is needed on the PATH"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--dir", str(directory), "--appendonly", "yes", "--appendfsync", "always",
         "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    wait_until(lambda: _pings(client), 10, "redis-server to start")
    client.close()
    return process


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.mark.timeout(120)
def test_event_accepted_before_a_redis_restart_is_processed_after_it(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    server = _redis_server(tmp_path, port)
    processes: list[subprocess.Popen[bytes]] = []
    with serve_in_thread(SandboxConfig()) as sandbox:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_"))},
            **sandbox.env(),
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "PORT": str(web_port),
            "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
            "BRIDGE_LOG_LEVEL": "WARNING",
        }
        try:
            processes.append(subprocess.Popen([sys.executable, "-m", "bridge", "web"], env=env))
            url = f"http://127.0.0.1:{web_port}"
            wait_until(lambda: _healthy(url), 30, "bridge web")
            delivery = samples.sign_zendesk(samples.zendesk_trigger("6801", "RST-1"), ZENDESK_SECRET)
            answer = httpx.post(
                url + delivery.path, content=delivery.body, headers=delivery.headers, timeout=10
            )
            assert answer.status_code == 202

            server.send_signal(signal.SIGTERM)  # Redis stops (its append-only file holds the event)
            server.wait(timeout=10)
            assert httpx.get(url + "/readyz", timeout=5).status_code == 503
            server = _redis_server(tmp_path, port)
            time.sleep(0.2)

            processes.append(subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=env))
            wait_until(lambda: _links(sandbox.url, "RST-1"), 30, "the link after the restart")
            assert httpx.get(url + "/readyz", timeout=5).status_code == 200
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
            server.terminate()
            server.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _links(sandbox_url: str, issue: str) -> list[object]:
    state = httpx.get(sandbox_url + "/_sandbox/state", timeout=5).json()
    links: list[object] = state["jira"]["remote_links"].get(issue, [])
    return links
