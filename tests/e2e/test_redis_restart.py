"""An accepted event survives a Redis restart between enqueue and processing (Redis with persistence), and
workers wait Redis out, whether it goes away under them or is away when they start."""

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
from bridge.upstreams.sandbox import SandboxConfig, SandboxControl, serve_in_thread
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
            # A worker started while Redis is away waits for it (a deployment's order is not guaranteed).
            worker = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=env)
            processes.append(worker)
            time.sleep(2)
            assert worker.poll() is None, f"the worker exited ({worker.returncode}) while Redis was away"
            server = _redis_server(tmp_path, port)

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


@pytest.mark.timeout(150)
def test_a_worker_mid_call_waits_out_a_redis_restart_and_its_work_completes(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    server = _redis_server(tmp_path, port)
    processes: list[subprocess.Popen[bytes]] = []
    with serve_in_thread(SandboxConfig()) as sandbox, SandboxControl(sandbox.url) as control:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_"))},
            **sandbox.env(),
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "PORT": str(web_port),
            "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
            "BRIDGE_LOG_LEVEL": "WARNING",
        }
        issue_id = control.seed_issue("RST-2")["id"]
        # The remote link call takes 3 s: Redis goes away while the worker is inside it.
        control.add_fault(api="jira", method="POST", path=f"/issue/{issue_id}/remotelink", delay_s=3, times=1)
        try:
            processes.append(subprocess.Popen([sys.executable, "-m", "bridge", "web"], env=env))
            worker = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=env)
            processes.append(worker)
            url = f"http://127.0.0.1:{web_port}"
            wait_until(lambda: _healthy(url), 30, "bridge web")
            client = redis.Redis(port=port)
            wait_until(lambda: client.scard("rq:workers") >= 1, 60, "the worker to register")
            delivery = samples.sign_zendesk(samples.zendesk_trigger("6802", "RST-2"), ZENDESK_SECRET)
            assert (
                httpx.post(url + delivery.path, content=delivery.body, headers=delivery.headers).status_code
                == 202
            )
            wait_until(lambda: client.exists(f"bridge:claim:jira:{issue_id}"), 20, "the slow call to start")
            client.close()

            server.send_signal(signal.SIGTERM)  # a failover, a restart: Redis is gone for 6 s
            server.wait(timeout=10)
            time.sleep(6)
            assert worker.poll() is None, "the worker quit while Redis was away"
            server = _redis_server(tmp_path, port)

            wait_until(lambda: len(_links(sandbox.url, "RST-2")) == 1, 40, "the link after the restart")
            wait_until(lambda: control.state()["zendesk"]["links"], 40, "the Zendesk link after the restart")
            assert worker.poll() is None
            assert [link["ticket_id"] for link in control.state()["zendesk"]["links"]] == ["6802"]
            assert len(_links(sandbox.url, "RST-2")) == 1
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
            server.terminate()
            server.wait(timeout=10)
