"""Upstream calls completed per second end to end: signed webhooks → bridge web → workers → sandbox.

Queued events are drained twice, by the bridge's workers (non-forking, pooled clients) and by RQ's
default forking ``Worker`` running the same job code (on ``--baseline-events`` of them: it manages about
one event a second), each with as many processes as cores; the
sandbox's own capacity (calls/s it answers to one keep-alive client) is measured in the same run, as
the ceiling the pipeline cannot pass. Each run: load N events through ``bridge web`` (each a Zendesk
ticket referencing one Jira key: 4 upstream calls with the default rules at first sight), then start the workers in
burst mode and time until every queue is empty; calls are counted in the sandbox's own log.

    python bench/pipeline.py                # full run (2,000 events)
    python bench/pipeline.py --smoke        # CI: a few events, checks the effects are right
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge import keys, samples
from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.upstreams.sandbox import SandboxConfig, SandboxControl

ZENDESK_SECRET = "bench-zendesk-secret"
MIN_CALLS = 3
"""Upstream requests a linked ticket needs at least: remote link, Zendesk link, Jira Software link (the
Jira issue id comes from the bridge's index once known; Jira Software links may share a bulk request)."""
FORKING_WORKER = (
    "import sys; from redis import Redis; from rq import Queue, Worker; from rq.serializers import JSONSerializer;"
    "from bridge.job_queues import queue_names; from bridge.settings import Settings; from workers import process;"
    "process.start(Settings.from_env()); conn = Redis.from_url(sys.argv[1]);"
    "Worker([Queue(n, connection=conn, serializer=JSONSerializer) for n in queue_names()], connection=conn,"
    " serializer=JSONSerializer).work(burst=True, logging_level='WARNING')"
)


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def _pending(conn: redis.Redis) -> int:
    queued = sum(int(conn.llen(key)) for key in conn.scan_iter("rq:queue:*"))
    started = sum(int(conn.zcard(key)) for key in conn.scan_iter("rq:wip:*"))
    scheduled = sum(int(conn.zcard(key)) for key in conn.scan_iter("rq:scheduled:*"))
    waiting = sum(int(conn.llen(key)) for key in conn.scan_iter(keys.WAITING_KEY.format(destination="*")))
    return queued + started + scheduled + waiting


def _load(web_url: str, events: int, offset: int) -> None:
    with httpx.Client(base_url=web_url, timeout=10) as client:
        for n in range(events):
            payload = samples.zendesk_trigger(str(100_000 + offset + n), f"BENCH-{offset + n + 1}")
            delivery = samples.sign_zendesk(payload, ZENDESK_SECRET)
            answer = client.post(delivery.path, content=delivery.body, headers=delivery.headers)
            if answer.status_code != 202:
                raise RuntimeError(f"delivery refused: {answer.status_code} {answer.text}")


def _drain(kind: str, env: dict[str, str], conn: redis.Redis, processes: int) -> float:
    started = time.perf_counter()
    if kind == "bridge":
        workers = [
            subprocess.Popen([sys.executable, "-m", "bridge", "worker", "--burst"], env=env)
            for _ in range(processes)
        ]
    else:
        workers = [
            subprocess.Popen([sys.executable, "-c", FORKING_WORKER, env["REDIS_URL"]], env=env)
            for _ in range(processes)
        ]
    for worker in workers:
        worker.wait(timeout=3600)
    # Burst workers stop when their queues are empty; a retry scheduled for later would be left behind.
    while _pending(conn):
        time.sleep(0.05)
    return time.perf_counter() - started


def _sandbox_capacity(sandbox_url: str, seconds: float) -> float:
    config = SandboxConfig()
    auth = (config.jira_email, config.jira_api_token)
    done = 0
    with httpx.Client(base_url=sandbox_url, auth=auth, timeout=10) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            client.get("/jira/rest/api/2/issue/CAP-1")
            done += 1
        return done / (time.perf_counter() - started)


def _run(
    redis_url: str, processes: int, counts: dict[str, int], smoke: bool
) -> tuple[float, dict[str, tuple[int, float, int, int]]]:
    """Serve the sandbox and bridge web on a private Redis; load and drain each kind of worker in turn."""
    conn = redis.Redis.from_url(redis_url)
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url, web_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{web_port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_", "JSM_"))},
        **SandboxConfig().env(sandbox_url),
        "REDIS_URL": redis_url,
        "PORT": str(web_port),
        "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
        "BRIDGE_LOG_LEVEL": "WARNING",
    }
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bridge", "sandbox", "--port", str(sandbox_port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    web = subprocess.Popen([sys.executable, "-m", "bridge", "web"], env=env)
    results: dict[str, tuple[int, float, int, int]] = {}
    try:
        _wait_http(sandbox_url + "/_sandbox/state")
        _wait_http(web_url + "/healthz")
        control = SandboxControl(sandbox_url)
        capacity = _sandbox_capacity(sandbox_url, 0.5 if smoke else 3.0)
        offset = 0
        for kind in ("forking", "bridge"):
            control.reset()
            _load(web_url, counts[kind], offset=offset)
            offset += counts[kind]
            elapsed = _drain(kind, env, conn, processes)
            calls = control.calls()
            succeeded = [call for call in calls if call["status"] is not None and call["status"] < 300]
            results[kind] = (len(succeeded), elapsed, len(control.state()["zendesk"]["links"]), len(calls))
        control.close()
    finally:
        for process in (web, sandbox):
            process.terminate()
            process.wait(10)
        conn.close()
    return capacity, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--baseline-events",
        type=int,
        default=100,
        help="events drained by the forking worker (about 1 event/s: its rate, not the count, matters)",
    )
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    events = 10 if args.smoke else args.events
    if args.redis_server is None:
        print("pipeline bench: no redis-server on the PATH (or --redis-server)", file=sys.stderr)
        return 1
    counts = {"forking": min(events, args.baseline_events), "bridge": events}
    with EmbeddedRedis(args.redis_server) as server:
        capacity, results = _run(server.url, args.processes, counts, args.smoke)
    print(
        f"pipeline bench ({events} events, {counts['forking']} for the forking worker,"
        f" {args.processes} worker processes, private Redis)"
    )
    print(f"  sandbox capacity (1 client):   {capacity:8.0f} calls/s")
    for kind, label in (("forking", "RQ forking Worker"), ("bridge", "bridge workers")):
        calls, elapsed, links, requests = results[kind]
        print(
            f"  {label + ':':30} {calls / elapsed:8.0f} calls/s  ({calls} calls in {elapsed:.2f} s, {links} links,"
            f" {requests / counts[kind]:.2f} upstream requests per event)"
        )
    speedup = (results["bridge"][0] / results["bridge"][1]) / (results["forking"][0] / results["forking"][1])
    print(f"  bridge / forking:              {speedup:8.1f}x")
    ok = all(
        links == counts[kind] and calls >= MIN_CALLS * counts[kind]
        for kind, (calls, _, links, _) in results.items()
    )
    if not ok:
        print(
            f"pipeline bench: FAILED (an event did not have its link and at least {MIN_CALLS} calls)",
            file=sys.stderr,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
