"""``bridge sandbox``: serves the sandbox and prints how to point a bridge at it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from bridge.embedded_redis import free_port
from bridge.upstreams.sandbox import SandboxConfig


def test_bridge_sandbox_serves_and_prints_the_env_lines() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline() for _ in range(3 + len(SandboxConfig().env(base_url)))]
        assert base_url in printed[0]
        for name, value in SandboxConfig().env(base_url).items():
            assert f"  {name}={value}\n" in printed
        deadline = time.monotonic() + 10
        while True:
            try:
                state = httpx.get(base_url + "/_sandbox/state", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        assert state.status_code == 200
        assert set(state.json()) >= {"jira", "zendesk"}
    finally:
        process.terminate()
        process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert process.returncode in (0, -signal.SIGTERM)
