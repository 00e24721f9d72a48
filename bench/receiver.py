"""Signed deliveries accepted per second by the receiver, against a bare Starlette POST endpoint.

Both servers run in their own process under the same uvicorn settings (one process, uvloop, httptools,
no access log); the load comes from a third process (bench/loadgen.py). Every bridge request is a new,
correctly signed Jira delivery, so each one is verified, normalized, deduped and enqueued on a real Redis.

    python bench/receiver.py            # full run (3 alternating rounds of 10 s per server, median)
    python bench/receiver.py --smoke    # CI: a second each, checks the figures are sane
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import LoadResult, http_request, run_load
from bridge import job_queues, keys, samples
from bridge.embedded_redis import EmbeddedRedis, free_port

SECRET = "bench-jira-secret"
UVICORN_OPTIONS = {"loop": "uvloop", "http": "httptools", "log_config": None, "access_log": False}


def serve(kind: str, port: int, redis_url: str) -> None:
    """Serve the bare endpoint or the bridge on ``port`` (runs in a child process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bridge.receiver.app import create_app
    from bridge.receiver.factory import tune_gc
    from bridge.settings import Secret, Settings

    if kind == "bare":

        async def endpoint(request: Request) -> JSONResponse:
            await request.body()
            return JSONResponse({"event_id": "x", "duplicate": False}, status_code=202)

        app = Starlette(routes=[Route("/webhooks/jira", endpoint, methods=["POST"])])
    else:
        from bridge import logs

        # As in production: one JSON log line per delivery (to stderr, which the driver discards).
        logs.configure("INFO")
        app = create_app(Settings(redis_url=redis_url, jira_webhook_secret=Secret(SECRET)))
        tune_gc()  # as bridge web does
    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN_OPTIONS)  # type: ignore[arg-type]


def _load(
    port: int, count: int, connections: int, seconds: float, queue: multiprocessing.Queue[LoadResult]
) -> None:
    requests = []
    for index in range(count):
        delivery = samples.sign_jira(
            samples.jira_issue(f"PROJ-{index % 5000 + 1}"), SECRET, identifier=f"b{index}"
        )
        requests.append(http_request(delivery.path, delivery.headers, delivery.body))
    queue.put(run_load("127.0.0.1", port, requests, connections, seconds))


def measure(kind: str, redis_url: str, seconds: float, connections: int, count: int) -> LoadResult:
    """Start one server, load it, stop it; return what the load generator saw."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--redis-url", redis_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        results: multiprocessing.Queue[LoadResult] = multiprocessing.Queue()
        loader = multiprocessing.Process(target=_load, args=(port, count, connections, seconds, results))
        loader.start()
        result = results.get(timeout=seconds + 120)
        loader.join()
        return result
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", choices=["bare", "bridge"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/bridge rounds (median)")
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.redis_url)
        return 0
    seconds, connections = (1.0, 8) if args.smoke else (args.seconds, args.connections)
    rounds = 1 if args.smoke else args.rounds
    count = int(seconds * 25_000)
    if args.redis_server is None:
        print("receiver bench: no redis-server on the PATH (or --redis-server)", file=sys.stderr)
        return 1
    with EmbeddedRedis(args.redis_server) as server:
        return _compare(server.url, rounds, seconds, connections, count)


def _compare(redis_url: str, rounds: int, seconds: float, connections: int, count: int) -> int:
    """Alternate bare and bridge rounds on the private Redis at ``redis_url``; print the ratios."""
    client = redis.Redis.from_url(redis_url)
    print(
        f"receiver bench ({rounds} round(s) of {seconds:.0f} s per server, {connections} connections, "
        "uvicorn 1 process, uvloop+httptools)"
    )
    ratios, ok = [], True
    # Bare and bridge alternate, so that a machine slowing down or speeding up weighs on both alike.
    for round_number in range(1, rounds + 1):
        client.flushdb()
        bare = measure("bare", redis_url, seconds, connections, count)
        bridge = measure("bridge", redis_url, seconds, connections, count)
        queued = client.llen(keys.RQ_QUEUE_KEY.format(queue=job_queues.EVENTS_QUEUE))
        ratio = bridge.rate(202) / bare.rate() if bare.rate() else 0.0
        ratios.append(ratio)
        print(
            f"  round {round_number}: bare {bare.rate():7.0f} req/s, bridge {bridge.rate(202):7.0f} accepted/s "
            f"(queued {queued}, errors {bare.errors}+{bridge.errors}), ratio {ratio:.2f}"
        )
        ok = ok and bridge.statuses[202] > 0 and queued == bridge.statuses[202] and bridge.errors == 0
    client.flushdb()
    print(f"  median ratio bridge/bare: {statistics.median(ratios):.2f}")
    if not ok:
        print(
            "receiver bench: FAILED (no accepted deliveries, errors, or accepted ≠ queued)", file=sys.stderr
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
