"""End-to-end fixtures: real processes — Redis, the sandbox, ``bridge web`` and ``bridge worker``.

The web and worker processes are shared by a module's tests (starting them costs about a second each);
tests keep out of each other's way by using their own tickets and issues, and reset only the sandbox.
Retry timings are shortened through the environment so that backoffs take fractions of a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bridge import keys, samples
from bridge.connections import text
from bridge.embedded_redis import free_port
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread
from tests.conftest import RedisServer
from tests.values import JIRA_SECRET, ZENDESK_SECRET

OPS_USER = "operator"
OPS_PASSWORD = "correct horse battery staple"
ZENDESK_FIELD = "customfield_10050"
SALESFORCE_FIELD = "customfield_10060"

FAST_RETRIES = {
    "BRIDGE_ZENDESK_EXPORT_PER_MINUTE": "600",  # the sandbox's export has no rate limit of its own
    "BRIDGE_RETRY_BASE_S": "0.2",
    "BRIDGE_RETRY_MAX_S": "5",
    "BRIDGE_CALLS_JOB_TIMEOUT_S": "6",
}


def wait_until(
    check: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition", every_s: float = 0.05
) -> Any:
    """Poll ``check`` every ``every_s`` until it returns something truthy; fail the test after ``timeout_s``.

    The sandbox serves from a thread of the test process: a check that reads its whole state polls it
    less often, so as not to slow the sandbox down by holding the GIL."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Bridge:
    """The running bridge: its URL, environment, processes, the sandbox and Redis."""

    url: str
    env: dict[str, str]
    sandbox: RunningSandbox
    control: SandboxControl
    redis: redis.Redis
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "worker", *extra], env=self.env, stdout=log, stderr=log
        )
        self.workers.append(process)
        return process

    def post(self, delivery: samples.SignedDelivery) -> httpx.Response:
        return httpx.post(
            self.url + delivery.path, content=delivery.body, headers=delivery.headers, timeout=10
        )

    def zendesk(self, payload: dict[str, Any], invocation: str | None = None) -> httpx.Response:
        return self.post(samples.sign_zendesk(payload, ZENDESK_SECRET, invocation))

    def jira(self, payload: dict[str, Any], identifier: str | None = None) -> httpx.Response:
        return self.post(samples.sign_jira(payload, JIRA_SECRET, identifier))

    def issue(
        self, key: str, tickets: str = "", event: str = "jira:issue_updated", **fields: Any
    ) -> dict[str, Any]:
        """Make the issue so on the sandbox's Jira site (its JIRA_ZENDESK_FIELD naming ``tickets``), and
        return the webhook body Jira sends about it (same id, key and fields)."""
        issue = self.control.seed_issue(key, fields={ZENDESK_FIELD: tickets, **fields})
        payload = samples.jira_issue(
            issue["key"], tickets, event=event, field=ZENDESK_FIELD, issue_id=issue["id"]
        )
        payload["issue"]["fields"].update(fields)
        return payload

    def ticket(
        self, ticket_id: str, keys: str = "", status: str = "open", subject: str = "Printer on fire"
    ) -> None:
        """Make the ticket so on the sandbox's Zendesk (no webhook: the bridge reads it when it must)."""
        self.control.put_ticket(ticket_id, subject=subject, status=status, jira_keys=keys)

    def event_status(self, event_id: str) -> str:
        status = self.redis.hget(keys.EVENT_KEY.format(event_id=event_id), "status")
        return text(status) if status else ""

    def event_reason(self, event_id: str) -> str:
        reason = self.redis.hget(f"bridge:ev:{event_id}", "reason")
        return text(reason) if reason else ""

    def wait_event(self, event_id: str, statuses: tuple[str, ...] = ("done",), timeout_s: float = 45) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.event_status(event_id)
            if status in statuses:
                return status
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout_s} s waiting for event {event_id} to be {'/'.join(statuses)}"
                    f" (now {status!r}: {self.event_reason(event_id)!r})"
                )
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def bridge(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Bridge]:
    """The module's bridge; a module sets more of its environment in ``BRIDGE_ENV`` (a rate limit, say)."""
    with running_bridge(
        redis_server, tmp_path_factory, getattr(request.module, "BRIDGE_ENV", None)
    ) as running:
        yield running


@contextmanager
def running_bridge(
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Bridge]:
    """Start ``bridge web`` and one ``bridge worker`` on the sandbox with the test configuration (and
    ``extra_env``); stop them and flush Redis at the end. No variable of the developer's own bridge or
    tracing reaches them."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    logs = tmp_path_factory.mktemp("bridge-logs")
    with serve_in_thread(SandboxConfig()) as sandbox, SandboxControl(sandbox.url) as control:
        port = free_port()
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_", "OTEL_"))
            },
            **sandbox.env(),
            **FAST_RETRIES,
            "REDIS_URL": redis_server.url,
            "PORT": str(port),
            "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
            "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
            "JIRA_ZENDESK_FIELD": ZENDESK_FIELD,
            "JIRA_SALESFORCE_FIELD": SALESFORCE_FIELD,
            "BRIDGE_LOG_LEVEL": "INFO",  # the logs stay in a temporary directory, read on failures
            "BRIDGE_DASHBOARD_USER": OPS_USER,
            "BRIDGE_DASHBOARD_PASSWORD": OPS_PASSWORD,
            **(extra_env or {}),
        }
        web_log = (logs / "web.log").open("wb")
        web = subprocess.Popen(
            [sys.executable, "-m", "bridge", "web"], env=env, stdout=web_log, stderr=web_log
        )
        running = Bridge(f"http://127.0.0.1:{port}", env, sandbox, control, client, logs)
        try:
            wait_until(lambda: _healthy(running.url), 30, "bridge web to answer /healthz")
            running.start_worker()
            # Tests start once the worker listens (a cold start on a busy CI machine takes seconds).
            wait_until(lambda: client.scard("rq:workers") >= 1, 60, "bridge worker to register")
            yield running
        finally:
            for process in [web, *running.workers]:
                _stop(process)
            web_log.close()
            client.flushdb()
            client.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def e2e(bridge: Bridge) -> Bridge:
    """The shared bridge, with the sandbox reset and at least one worker running.

    Issue ids go on across tests (the bridge remembers ids and states of earlier tests' issues)."""
    bridge.control.reset(keep_ids=True)
    if not any(worker.poll() is None for worker in bridge.workers):
        bridge.start_worker()
        wait_until(lambda: bridge.redis.scard("rq:workers") >= 1, 60, "bridge worker to register")
    return bridge
