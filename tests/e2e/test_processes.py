"""The processes as a platform runs them: the Procfile under honcho, and SIGTERM during work."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bridge import keys, samples
from bridge.embedded_redis import free_port
from tests.e2e.conftest import Bridge, wait_until
from tests.values import ZENDESK_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _links(e2e: Bridge, issue: str) -> list[object]:
    links: list[object] = e2e.control.state()["jira"]["remote_links"].get(issue, [])
    return links


def test_procfile_under_honcho_links_a_ticket_and_stops_cleanly(e2e: Bridge, tmp_path: Path) -> None:
    port = free_port()
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", str(ROOT / "Procfile"), "-p", str(port)],
        # The venv's bin first: Debian's iproute2 also installs a command named ``bridge`` (/sbin/bridge).
        env={
            **e2e.env,
            "PORT": str(port),
            "PATH": f"{Path(sys.executable).parent}:{e2e.env.get('PATH', '')}",
        },
        stdout=(tmp_path / "honcho.log").open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), 30, "the Procfile's web process")
        delivery = samples.sign_zendesk(samples.zendesk_trigger("6601", "PROC-1"), ZENDESK_SECRET)
        answer = httpx.post(url + delivery.path, content=delivery.body, headers=delivery.headers, timeout=10)
        assert answer.status_code == 202
        wait_until(lambda: _links(e2e, "PROC-1"), 30, "the link to appear in the sandbox")
    finally:
        honcho.send_signal(signal.SIGTERM)
        code = honcho.wait(timeout=30)
        # On a failure, pytest shows this with the test's output.
        print((tmp_path / "honcho.log").read_text())
    log = (tmp_path / "honcho.log").read_text()
    # honcho runs each command through a shell and reports the SIGTERM it passed on (143 / -15): a stop
    # that completed within the wait above, with no traceback, is the clean stop a platform expects.
    assert code in (0, 143), log
    assert "web.1 stopped" in log
    assert "worker.1 stopped" in log
    assert "Traceback" not in log


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_web_finishes_a_request_in_flight_on_sigterm_and_exits(e2e: Bridge, tmp_path: Path) -> None:
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "bridge", "web"],
        env={**e2e.env, "PORT": str(port)},
        stdout=(tmp_path / "web.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_until(lambda: _answers(f"http://127.0.0.1:{port}"), 30, "bridge web")
    delivery = samples.sign_zendesk(samples.zendesk_trigger("6602", "PROC-2"), ZENDESK_SECRET)
    head = (
        f"POST {delivery.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(delivery.body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in delivery.headers.items())
        + "\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + delivery.body[:10])  # the request is in flight: half its body sent
        time.sleep(0.3)
        web.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert web.poll() is None, "web exited with a request in flight"
        conn.sendall(delivery.body[10:])
        received = b""
        while not received.endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        answer = received.decode()
    assert answer.startswith("HTTP/1.1 202"), answer
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete, so -SIGTERM is a clean stop too.
    assert web.wait(timeout=25) in (0, -signal.SIGTERM)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # no longer accepting
    event_id = json.loads(answer.split("\r\n\r\n", 1)[1])["event_id"]
    e2e.wait_event(event_id)


def test_worker_finishes_the_call_in_hand_on_sigterm(e2e: Bridge) -> None:
    for worker in e2e.workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)
    issue_id = e2e.control.seed_issue("PROC-3")["id"]
    e2e.control.add_fault(api="jira", method="POST", path=f"/issue/{issue_id}/remotelink", delay_s=2, times=1)
    worker = e2e.start_worker()
    event_id = e2e.zendesk(samples.zendesk_trigger("6603", "PROC-3")).json()["event_id"]
    # The worker holds the issue's claim while its call waits in the sandbox.
    claim = keys.CLAIM_KEY.format(target=f"jira:{issue_id}")
    wait_until(lambda: e2e.redis.exists(claim), 20, "the slow call to start")
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=20) == 0
    assert len(_links(e2e, "PROC-3")) == 1  # the call in hand completed before the worker stopped
    calls = e2e.redis.hgetall(keys.EVENT_CALLS_KEY.format(event_id=event_id))
    assert any(b'"jira.remote_link.upsert"' in record and b'"done"' in record for record in calls.values())
    e2e.start_worker()
    e2e.wait_event(event_id)
