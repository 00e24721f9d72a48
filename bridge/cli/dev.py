"""``bridge dev``: the whole bridge on a laptop — web, worker and sandbox upstreams, one process tree.

Redis is embedded when REDIS_URL is unset; every upstream variable that is unset points at the sandbox,
and the webhook secrets default to dev values, so a newcomer needs no account and no Redis.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import time
from contextlib import ExitStack

import httpx

from bridge import samples
from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.settings import Settings, process_environment

HELP = "run web + worker + sandbox upstreams on an embedded Redis (for a laptop)"

DEV_DASHBOARD_USER = "admin"
"""Dashboard login ``bridge dev`` sets when none is configured."""

DEV_DASHBOARD_PASSWORD = "dev-dashboard-password"  # noqa: S105 (dev only, printed on start)
"""Dashboard password ``bridge dev`` sets when none is configured."""

DEV_DEFAULTS = {
    "JIRA_WEBHOOK_SECRET": samples.DEV_JIRA_WEBHOOK_SECRET,
    "ZENDESK_WEBHOOK_SECRET": samples.DEV_ZENDESK_WEBHOOK_SECRET,
    "JIRA_ZENDESK_FIELD": "customfield_10050",
    "JIRA_SALESFORCE_FIELD": "customfield_10051",
    "ZENDESK_JIRA_FIELD_ID": "360000000001",
    "BRIDGE_DASHBOARD_USER": DEV_DASHBOARD_USER,
    "BRIDGE_DASHBOARD_PASSWORD": DEV_DASHBOARD_PASSWORD,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="web port (default $PORT or 8000)")
    parser.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: a free one)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    port = args.port or settings.port
    env = process_environment()
    children: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        if not settings.redis_url:
            embedded = stack.enter_context(EmbeddedRedis())
            env["REDIS_URL"] = embedded.url
            redis_note = f"embedded Redis at {embedded.url} (binary {embedded.binary})"
        else:
            redis_note = "Redis from REDIS_URL"
        for name, value in DEV_DEFAULTS.items():
            env.setdefault(name, value)
        env["PORT"] = str(port)
        sandbox_note = _start_sandbox(args, env, children)
        children.append(_spawn(["web"], env))
        children.append(_spawn(["worker"], env))
        stack.callback(_stop, children)
        _wait_ready(port)
        _print_banner(port, env, redis_note, sandbox_note)
        return _supervise(children)


def _start_sandbox(
    args: argparse.Namespace, env: dict[str, str], children: list[subprocess.Popen[bytes]]
) -> str:
    if importlib.util.find_spec("bridge.upstreams.sandbox") is None:
        return "no sandbox in this build: upstream calls go to the configured base URLs"
    from bridge.upstreams.sandbox import SandboxConfig  # type: ignore[import-not-found,unused-ignore]

    port = args.sandbox_port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    children.append(_spawn(["sandbox", "--port", str(port)], env))
    # Every upstream variable that is unset points at the sandbox.
    for name, value in SandboxConfig().env(base_url).items():
        env.setdefault(name, value)
    return f"sandbox upstreams at {base_url} (state: {base_url}/_sandbox/state)"


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bridge", *command], env=env)


def _wait_ready(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def _print_banner(port: int, env: dict[str, str], redis_note: str, sandbox_note: str) -> None:
    base = f"http://127.0.0.1:{port}"
    print(
        f"""
bridge dev is running
  {redis_note}
  {sandbox_note}

  Jira webhook     POST {base}/webhooks/jira      secret: {env["JIRA_WEBHOOK_SECRET"]}
  Zendesk webhook  POST {base}/webhooks/zendesk   secret: {env["ZENDESK_WEBHOOK_SECRET"]}
  Dashboard        {base}/dashboard
                   login: {env["BRIDGE_DASHBOARD_USER"]} / {env["BRIDGE_DASHBOARD_PASSWORD"]}
  Health, metrics  {base}/healthz  {base}/readyz  {base}/metrics

Try, in another terminal:
  bridge send-sample zendesk --url {base}
  bridge send-sample jira --url {base}

(dev secrets only: never use them outside this machine) Ctrl-C stops everything.
""",
        flush=True,
    )


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"bridge dev: a process exited with {child.returncode}; stopping", file=sys.stderr)
                return 1
        time.sleep(0.2)
    return 0


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(25)
        except subprocess.TimeoutExpired:
            child.kill()
