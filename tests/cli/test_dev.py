"""The README's first command, ``bridge dev``, as a newcomer meets it: real processes, real signals."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.cli.dev import DEV_DASHBOARD_PASSWORD, DEV_DASHBOARD_USER
from bridge.embedded_redis import free_port
from tests.e2e.conftest import wait_until

ORDER = [
    "bridge dev: stopping web and worker",
    "bridge dev: stopped web and worker",
    "bridge dev: stopping sandbox",
    "bridge dev: stopped sandbox",
    "bridge dev: stopping Redis",
    "bridge dev: stopped Redis",
]
"""What ``bridge dev`` says while it stops: its processes in dependency order."""


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    env: dict[str, str]
    log: Path
    state: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        listed = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in listed.stdout.split()]

    def stop(self, signum: int, group: bool = False) -> int:
        children = self.children()
        if group:
            os.killpg(self.process.pid, signum)  # as a terminal's Ctrl-C does: the whole foreground group
        else:
            self.process.send_signal(signum)
        code = self.process.wait(timeout=60)
        wait_until(lambda: not any(_alive(pid) for pid in children), 10, f"children {children} to be gone")
        return code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _environment(tmp_path: Path) -> dict[str, str]:
    """A newcomer's environment: no Redis, no bridge variables, the dev state file in a temporary place."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "BRIDGE_", "JIRA_", "ZENDESK_"))
    }
    env["BRIDGE_DEV_STATE"] = str(tmp_path / "dev-state.json")
    return env


@pytest.fixture
def start_dev(tmp_path: Path) -> Iterator[Callable[..., Dev]]:
    started: list[Dev] = []

    def start(*extra: str) -> Dev:
        port = free_port()
        env = _environment(tmp_path)
        log = tmp_path / f"dev-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "dev", "--port", str(port), *extra],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        dev = Dev(process, f"http://127.0.0.1:{port}", port, env, log, Path(env["BRIDGE_DEV_STATE"]))
        started.append(dev)
        wait_until(lambda: "Ctrl-C stops everything" in dev.output(), 90, "bridge dev's banner")
        return dev

    yield start
    for dev in started:
        if dev.process.poll() is None:
            dev.process.kill()
            dev.process.wait()


def _printed_commands(banner: str) -> list[str]:
    after = banner.split("Try, in another terminal", 1)[1]
    return [line.strip() for line in after.splitlines()[1:] if line.startswith("  ")]


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_bridge_dev_runs_everything_and_the_printed_commands_work_as_printed(
    start_dev: Callable[..., Dev],
) -> None:
    dev = start_dev()
    banner = dev.output()
    assert f"POST {dev.url}/webhooks/zendesk" in banner
    assert "secret: dev-zendesk-webhook-secret" in banner
    assert "embedded Redis: REDIS_URL=redis://127.0.0.1:" in banner
    # Loopback only, unless asked: the banner prints a published dev password.
    assert _listening_addresses(dev.port) == {"127.0.0.1"}

    commands = _printed_commands(banner)
    assert commands, banner
    for command in commands:
        assert not command.startswith("bridge "), "a bare bridge is iproute2's on Debian"
        done = subprocess.run(shlex.split(command), env=dev.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "{" not in done.stderr, "no JSON log line in a command's output"

    # The operator commands of another terminal read bridge dev's Redis, not 127.0.0.1:6379.
    python = f"{shlex.quote(sys.executable)} -m bridge"
    queues = subprocess.run(
        [*shlex.split(python), "queues", "--json"], env=dev.env, capture_output=True, text=True, timeout=60
    )
    assert queues.returncode == 0, queues.stderr
    assert len(json.loads(queues.stdout)["workers"]) == 1
    auth = (DEV_DASHBOARD_USER, DEV_DASHBOARD_PASSWORD)

    def both_samples_done() -> bool:
        events = httpx.get(dev.url + "/api/ops/search", params={"q": "PROJ-1"}, auth=auth, timeout=5).json()
        second = httpx.get(dev.url + "/api/ops/search", params={"q": "PROJ-2"}, auth=auth, timeout=5).json()
        statuses = [event["status"] for event in events["events"] + second["events"]]
        return statuses == ["done", "done"]

    wait_until(both_samples_done, 60, "both samples to be done (each makes its own links)")

    assert dev.stop(signal.SIGINT, group=True) == 0
    output = dev.output()
    assert [line for line in output.splitlines() if line in ORDER] == ORDER
    assert "Traceback" not in output
    assert not dev.state.exists()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_terminating_signal_stops_every_process_in_dependency_order(
    start_dev: Callable[..., Dev], signum: int
) -> None:
    dev = start_dev()
    assert len(dev.children()) == 4  # Redis, sandbox, web, worker

    assert dev.stop(signum) == 0

    output = dev.output()
    assert [line for line in output.splitlines() if line in ORDER] == ORDER
    assert "Traceback" not in output


def test_a_taken_port_is_one_line_that_says_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bridge", "dev", "--port", str(port)],
            env=_environment(tmp_path), capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert re.fullmatch(rf"bridge: port {port} on 127\.0\.0\.1 is already in use .*--port N.*", line)
    assert time.monotonic() - started < 20  # nothing was started
