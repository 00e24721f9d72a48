"""``bridge dev``: the whole bridge on a laptop — web, worker and sandbox upstreams, one process tree.

Redis is embedded when REDIS_URL is unset; every upstream variable that is unset points at the sandbox,
and the webhook secrets default to dev values, so a newcomer needs no account and no Redis. The web
server listens on loopback unless ``--host`` says otherwise (the banner prints a dev password).

The values it set itself go to a state file (``dev_state.py``), so that ``bridge queues``, ``bridge
failed``… in another terminal read this Redis. Its processes run in sessions of their own: the
terminal's Ctrl-C (and SIGTERM, and SIGHUP when the terminal closes) reaches ``bridge dev`` alone, which
stops them in dependency order — web and worker, then the sandbox, then Redis — so that no worker
loses its Redis under it. Should ``bridge dev`` itself be killed, its processes get SIGTERM from the
kernel (``PR_SET_PDEATHSIG``) instead of running on.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import httpx

from bridge import samples
from bridge.cli import dev_state
from bridge.cli.ports import ensure_free
from bridge.connections import sync_client
from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.settings import Settings, process_environment, redact_url

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

READY_TIMEOUT_S = 60.0
"""How long the web process has to answer ``/readyz`` before ``bridge dev`` gives up."""

STOP_TIMEOUT_S = 30.0
"""How long each group of processes has to stop after SIGTERM before it is killed (a worker finishes
the job in hand; uvicorn gives requests in flight 20 s)."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop ``bridge dev`` and its processes: Ctrl-C, ``kill``, a closed terminal."""

_PR_SET_PDEATHSIG = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="web port (default $PORT or 8000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address the web server binds (default 127.0.0.1; 0.0.0.0: all)"
    )
    parser.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: a free one)")


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    port = args.port or settings.port
    # Before anything starts: a taken port is one line, not a banner followed by a crash.
    ensure_free(args.host, port, "--port N (or PORT=N)")
    if args.sandbox_port:
        ensure_free("127.0.0.1", args.sandbox_port, "--sandbox-port N (or leave it out: a free one)")
    stop_requested, restore_signals = _catch_stop_signals()
    try:
        return _run(args, settings, port, stop_requested)
    finally:
        restore_signals()


def _run(args: argparse.Namespace, settings: Settings, port: int, stop_requested: Callable[[], bool]) -> int:
    env = process_environment()
    dev_env: dict[str, str] = {}
    with ExitStack() as stack:
        redis_note = _redis(settings, env, dev_env, stack)
        for name, value in DEV_DEFAULTS.items():
            _default(env, dev_env, name, value)
        env["PORT"] = dev_env["PORT"] = str(port)
        sandbox_note = _start_sandbox(args, env, dev_env, stack)
        web = _spawn(["web", "--host", args.host, "--port", str(port)], env)
        worker = _spawn(["worker"], env)
        stack.callback(_stop, "web and worker", [web, worker])
        if not _wait_ready(port, web, stop_requested):
            return 1
        state_file = dev_state.write(settings, dev_env)
        stack.callback(dev_state.remove, settings)
        _print_banner(args.host, port, env, redis_note, sandbox_note, state_file)
        return _supervise([web, worker], stop_requested)


def _default(env: dict[str, str], dev_env: dict[str, str], name: str, value: str) -> None:
    """Give a variable the environment leaves unset a dev value (and remember it for the state file)."""
    if not env.get(name):
        env[name] = dev_env[name] = value


def _redis(settings: Settings, env: dict[str, str], dev_env: dict[str, str], stack: ExitStack) -> str:
    if settings.redis_url:
        client = sync_client(settings, socket_timeout=5.0)
        try:
            client.ping()  # a Redis that does not answer is one line (bridge.cli.main), not five crashes
        finally:
            client.close()
        return f"Redis from REDIS_URL: {redact_url(settings.redis_url)}"
    embedded = EmbeddedRedis().start(start_new_session=True, preexec_fn=_die_with_parent)
    stack.callback(_stop_redis, embedded)
    _default(env, dev_env, "REDIS_URL", embedded.url)
    return f"embedded Redis: REDIS_URL={embedded.url} (binary {embedded.binary})"


def _start_sandbox(
    args: argparse.Namespace, env: dict[str, str], dev_env: dict[str, str], stack: ExitStack
) -> str:
    if importlib.util.find_spec("bridge.upstreams.sandbox") is None:
        return "no sandbox in this build: upstream calls go to the configured base URLs"
    from bridge.upstreams.sandbox import SandboxConfig  # type: ignore[import-not-found,unused-ignore]

    port = args.sandbox_port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Its own banner (the variables that point at it) is bridge dev's business: not shown twice.
    sandbox = _spawn(["sandbox", "--port", str(port)], env, stdout=subprocess.DEVNULL)
    stack.callback(_stop, "sandbox", [sandbox])
    # Every upstream variable that is unset points at the sandbox.
    for name, value in SandboxConfig().env(base_url).items():
        _default(env, dev_env, name, value)
    return f"sandbox upstreams at {base_url} (state: {base_url}/_sandbox/state)"


def _die_with_parent() -> None:
    """In a child, before exec: ask the kernel for SIGTERM should ``bridge dev`` die without stopping it."""
    # Not Linux (no prctl): the children outlive a killed bridge dev, as any child would.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(command: list[str], env: dict[str, str], stdout: int | None = None) -> subprocess.Popen[bytes]:
    # A session of its own: the terminal's signals go to bridge dev, which stops the children in order.
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *command],
        env=env,
        stdout=stdout,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # bridge dev starts no thread: preexec_fn is safe here
    )


def _catch_stop_signals() -> tuple[Callable[[], bool], Callable[[], None]]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into a request to stop; return a function that tells whether one
    came, and one that puts the previous handlers back."""
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {stop_signal: signal.signal(stop_signal, note) for stop_signal in STOP_SIGNALS}

    def restore() -> None:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)

    return lambda: bool(received), restore


def _wait_ready(port: int, web: subprocess.Popen[bytes], stop_requested: Callable[[], bool]) -> bool:
    """Wait until this web process answers; False (said on stderr) when it exits, or a stop comes first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stop_requested():
            return False
        if web.poll() is not None:
            print(f"bridge dev: the web process exited with {web.returncode}; stopping", file=sys.stderr)
            return False
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    print(f"bridge dev: the web process did not answer in {READY_TIMEOUT_S:g} s; stopping", file=sys.stderr)
    return False


def command_prefix() -> str:
    """Return how to run this very ``bridge`` from another terminal, as it was started here.

    Never a bare ``bridge``: on Debian that is iproute2's. A console script is named by its path (the
    shell hands the interpreter the path it found), ``python -m bridge`` by the interpreter's.
    """
    started_as = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if started_as is None or started_as.name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m bridge"
    return shlex.quote(str(started_as))


def _print_banner(
    host: str, port: int, env: dict[str, str], redis_note: str, sandbox_note: str, state_file: Path
) -> None:
    base = f"http://127.0.0.1:{port}"
    bridge = command_prefix()
    listening = "all interfaces" if host in ("0.0.0.0", "::") else host  # noqa: S104 (comparison only)
    print(
        f"""
bridge dev is running (web on {listening}:{port})
  {redis_note}
  {sandbox_note}

  Jira webhook     POST {base}/webhooks/jira      secret: {env["JIRA_WEBHOOK_SECRET"]}
  Zendesk webhook  POST {base}/webhooks/zendesk   secret: {env["ZENDESK_WEBHOOK_SECRET"]}
  Dashboard        {base}/dashboard
                   login: {env["BRIDGE_DASHBOARD_USER"]} / {env["BRIDGE_DASHBOARD_PASSWORD"]}
  Health, metrics  {base}/healthz  {base}/readyz  {base}/metrics

Try, in another terminal (commands there find this Redis through {state_file} while REDIS_URL is unset):
  {bridge} send-sample zendesk --url {base}
  {bridge} send-sample jira --url {base}
  {bridge} queues
  {bridge} failed

(dev secrets only: never use them outside this machine) Ctrl-C stops everything.
""",
        flush=True,
    )


def _supervise(children: list[subprocess.Popen[bytes]], stop_requested: Callable[[], bool]) -> int:
    while not stop_requested():
        for child in children:
            if child.poll() is not None:
                print(f"bridge dev: a process exited with {child.returncode}; stopping", file=sys.stderr)
                return 1
        time.sleep(0.2)
    return 0


def _stop(what: str, children: list[subprocess.Popen[bytes]]) -> None:
    """Stop ``children`` together (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``) and say so."""
    print(f"bridge dev: stopping {what}", file=sys.stderr, flush=True)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print(f"bridge dev: stopped {what}", file=sys.stderr, flush=True)


def _stop_redis(embedded: EmbeddedRedis) -> None:
    print("bridge dev: stopping Redis", file=sys.stderr, flush=True)
    embedded.close()
    print("bridge dev: stopped Redis", file=sys.stderr, flush=True)
