"""What the end-to-end benches run on: a private redis-server, the sandbox, ``bridge web`` and workers.

Everything listens on free loopback ports and is stopped at the end; nothing else is touched (never the
Redis on 6379). The processes are the ones an operator runs (``bridge sandbox``, ``bridge web``,
``bridge worker``), with default settings unless a bench passes others.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
import redis

from bridge import keys
from bridge.connections import text
from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.upstreams import DESTINATIONS
from bridge.upstreams.sandbox import SandboxConfig, SandboxControl

ZENDESK_SECRET = "bench-zendesk-secret"
JIRA_SECRET = "bench-jira-secret"
ROOT = Path(__file__).resolve().parent.parent


def wait_http(url: str, seconds: float = 30.0) -> None:
    """Wait until ``url`` answers at all."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def rss_mib(pid: int) -> tuple[float, float]:
    """Return the current and peak resident memory of process ``pid`` (MiB), 0 when it is gone."""
    current = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return current, peak


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process ``pid`` used so far, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time process ``pid`` and its living descendants used so far (``bridge web`` with
    ``WEB_CONCURRENCY`` > 1 serves from child processes)."""
    total = cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(tree_cpu_seconds(int(child)) for child in children)


def machine_busy() -> tuple[float, float]:
    """Return the whole machine's busy and total CPU seconds so far (all processes, ours or not)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def machine(conn: redis.Redis) -> str:
    """One line: cores, CPU model, Python and Redis versions."""
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()},"
        f" Redis {conn.info('server')['redis_version']}"
    )


def queue_names(conn: redis.Redis) -> list[str]:
    """The names of the RQ queues there are (RQ's set of queue keys)."""
    return [text(name).removeprefix("rq:queue:") for name in conn.smembers("rq:queues")]


def pending(conn: redis.Redis) -> int:
    """Jobs not finished yet: queued, started, scheduled, or waiting for a destination's batch.

    Known keys only (no SCAN, whose cost grows with the keys there are): a bench polls this."""
    names = queue_names(conn)
    with conn.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(f"rq:queue:{name}")
            pipe.llen(f"rq:queue:{name}:intermediate")  # dequeued, not yet started (RQ 2)
            pipe.zcard(f"rq:wip:{name}")
            pipe.zcard(f"rq:scheduled:{name}")
        for destination in DESTINATIONS:
            pipe.llen(keys.WAITING_KEY.format(destination=destination))
        return sum(int(count) for count in pipe.execute())


SETTLE_S = 0.05
"""How long "no job left" must hold before a bench counts the queues drained (``Stack.wait_drained``)."""


def own_environ() -> dict[str, str]:
    """This process's environment without the bridge's own variables: a bench sets those itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_", "JSM_"))}


class Stack:
    """Redis, sandbox and ``bridge web`` (workers on demand); a context manager that stops them all."""

    def __init__(self, redis_server: str, env: dict[str, str] | None = None, web: bool = True) -> None:
        self.redis = EmbeddedRedis(redis_server)
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.with_web = web
        self.extra_env = env or {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.web: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-stack-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def env(self) -> dict[str, str]:
        return {
            **own_environ(),
            **SandboxConfig().env(self.sandbox_url),
            "REDIS_URL": self.redis.url,
            "PORT": str(self.web_port),
            "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
            "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
            "BRIDGE_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def __enter__(self) -> Stack:
        # A bench stopped with SIGTERM still stops what it started (the ``with`` block's exit runs).
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        self.redis.start()
        self.conn = redis.Redis.from_url(self.redis.url)
        port = self.sandbox_url.rsplit(":", 1)[1]
        self._spawn([sys.executable, "-m", "bridge", "sandbox", "--port", port])
        if self.with_web:
            self.web = self._spawn([sys.executable, "-m", "bridge", "web"])
        wait_http(self.sandbox_url + "/_sandbox/state")
        if self.with_web:
            wait_http(self.web_url + "/healthz")
        self.control = SandboxControl(self.sandbox_url, timeout_s=60)
        return self

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # Their logs go to one file (printed path): a burst worker stopped while it tears down prints a
        # traceback that is no failure of the bench.
        process = subprocess.Popen(args, env=env or self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.processes.append(process)
        return process

    def start_workers(self, count: int, burst: bool = False, env: dict[str, str] | None = None) -> None:
        """Start ``count`` ``bridge worker`` processes (one worker each)."""
        args = [sys.executable, "-m", "bridge", "worker"] + (["--burst"] if burst else [])
        self.workers += [self._spawn(args, {**self.env, **(env or {})}) for _ in range(count)]

    def stop_workers(self) -> None:
        """Stop the workers (SIGTERM: they finish the job in hand) and wait for them."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(3)
            except subprocess.TimeoutExpired:  # seen: RQ's teardown waiting on its pub/sub thread
                worker.kill()
                worker.wait()
        self.workers = []

    def wait_drained(self, seconds: float = 600.0) -> float:
        """Wait until no job is left; return when that was (perf_counter).

        "None left" must hold on two looks ``SETTLE_S`` apart: a job a worker has popped off its queue and
        not started yet is in no Redis list or registry for that moment (a round trip or so; RQ's own
        dequeue has the same moment), and one look can fall in it."""
        deadline = time.monotonic() + seconds
        while True:
            while pending(self.conn):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jobs still pending after {seconds:.0f} s")
                time.sleep(0.02)
            drained = time.perf_counter()
            time.sleep(SETTLE_S)
            if not pending(self.conn):
                return drained

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if hasattr(self, "control"):
            self.control.close()
        if hasattr(self, "conn"):
            self.conn.close()
        self.redis.close()
        self.log.close()
