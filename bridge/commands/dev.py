"""``bridge dev``: the whole bridge on a laptop — web, worker and sandbox upstreams, one process tree.

Redis is embedded when REDIS_URL is unset; every upstream variable that is unset points at the sandbox,
and the webhook secrets default to dev values, so a newcomer needs no account and no Redis.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any

import httpx

from bridge import samples
from bridge.embedded_redis import EmbeddedRedis, free_port

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
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="web port")
    parser.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: a free one)")


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        if not env.get("REDIS_URL"):
            embedded = stack.enter_context(EmbeddedRedis())
            env["REDIS_URL"] = embedded.url
            redis_note = f"embedded Redis at {embedded.url} (binary {embedded.binary})"
        else:
            redis_note = "Redis from REDIS_URL"
        for name, value in DEV_DEFAULTS.items():
            env.setdefault(name, value)
        env["PORT"] = str(args.port)
        sandbox_note = _start_sandbox(args, env, children)
        children.append(_spawn(["web"], env))
        children.append(_spawn(["worker"], env))
        stack.callback(_stop, children)
        _wait_ready(args.port)
        _print_banner(args.port, env, redis_note, sandbox_note)
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
    sandbox_settings = SandboxConfig().settings_for(base_url)
    for name, value in _settings_env(sandbox_settings).items():
        env.setdefault(name, value)
    return f"sandbox upstreams at {base_url} (state: {base_url}/_sandbox/state)"


def _settings_env(settings: Any) -> dict[str, str]:
    """The upstream variables of ``settings`` as environment variables."""
    names = {
        "JIRA_BASE_URL": "jira_base_url",
        "JIRA_EMAIL": "jira_email",
        "JIRA_API_TOKEN": "jira_api_token",
        "JIRA_CONNECT_APP_KEY": "jira_connect_app_key",
        "JIRA_CONNECT_SHARED_SECRET": "jira_connect_shared_secret",
        "ZENDESK_BASE_URL": "zendesk_base_url",
        "ZENDESK_EMAIL": "zendesk_email",
        "ZENDESK_API_TOKEN": "zendesk_api_token",
        "SALESFORCE_CONNECTOR_BASE_URL": "salesforce_connector_base_url",
        "SALESFORCE_CONNECTOR_PAT": "salesforce_connector_pat",
        "JSM_OPS_BASE_URL": "jsm_ops_base_url",
        "JSM_EMAIL": "jsm_email",
        "JSM_API_TOKEN": "jsm_api_token",
        "JSM_INTEGRATION_ID": "jsm_integration_id",
    }
    out: dict[str, str] = {}
    for env_name, attr in names.items():
        value = getattr(settings, attr, None)
        if value is not None:
            out[env_name] = value.reveal() if hasattr(value, "reveal") else str(value)
    return out


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
