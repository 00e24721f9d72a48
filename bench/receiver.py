"""Signed deliveries accepted per second by ``bridge web``, against a bare Starlette POST endpoint, with wrk.

Both servers run as one uvicorn process with the same options as ``bridge web`` (its HTTP protocol with
deadlines, no access log, no server header, proxy headers); the bridge is ``bridge web`` itself, default
settings (log level INFO, one JSON line per delivery, discarded), on a private redis-server. The load is
``wrk`` (Debian's package; 2 threads, 32 connections) replaying pre-built requests (bench/replay.lua): each
a distinct Jira delivery (own identifier, own body, valid ``X-Hub-Signature``), the same bytes for both
servers. A bridge's "accepted" figure counts the events it queued on Redis (a repeat would not be queued).
Bare and bridge alternate over rounds; the median ratio is the result. CPU time of wrk and of the server
per round shows which one was the bottleneck: the server near one full core while wrk has spare, and the
bare endpoint served faster than the bridge by the same wrk, mean wrk outran what it measured.

Then, open loop: 1,000 deliveries/s offered to the bridge for 10 s (a schedule, 32 keep-alive connections;
bench/latency.py's sender), and the distribution of its answers' times (target p99 < 10 ms).

    python bench/receiver.py                  # full run: 3 rounds of 10 s per server, then 10 s at 1,000/s
    python bench/receiver.py --profile        # and a cProfile of the bridge's web process under wrk
    python bench/receiver.py --web-processes 2   # the bridge with WEB_CONCURRENCY=2 in the wrk rounds
    python bench/receiver.py --smoke          # CI: 1 s each, checks deliveries are accepted and queued
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import _offer, _percentile
from bench.loadgen import http_request
from bench.stack import JIRA_SECRET, cpu_seconds, machine, own_environ, tree_cpu_seconds, wait_http
from bridge import defaults, job_queues, keys, samples
from bridge.embedded_redis import EmbeddedRedis, free_port

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 0.5
TARGET_P99_MS = 10.0
OPEN_RATE = 1000.0
UVICORN_OPTIONS = {
    # As bridge/cli/web.py serves: the same protocol, headers and logging.
    "log_config": None,
    "access_log": False,
    "proxy_headers": True,
    "server_header": False,
    "http": "bridge.receiver.protocol:DeadlineProtocol",
    "ws": "none",
    "timeout_graceful_shutdown": defaults.WEB_GRACEFUL_SHUTDOWN_S,
}


def serve_bare(port: int) -> None:
    """Serve a bare POST endpoint that reads the body and answers 202 (runs in a child process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"event_id": "x", "duplicate": False}, status_code=202)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/webhooks/jira", endpoint, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN_OPTIONS)  # type: ignore[arg-type]


def deliveries(count: int, first: int = 1) -> list[bytes]:
    """``count`` distinct signed Jira deliveries, as raw HTTP requests."""
    built = []
    for n in range(first, first + count):
        payload = samples.jira_issue(f"WRK-{n}", ticket_ids=str(500_000 + n), issue_id=str(700_000 + n))
        delivery = samples.sign_jira(payload, JIRA_SECRET, identifier=f"wrk-{n}")
        built.append(http_request(delivery.path, delivery.headers, delivery.body))
    return built


def write_request_files(prefix: Path, requests: list[bytes], threads: int) -> None:
    """Split ``requests`` into one file per wrk thread, in replay.lua's format."""
    for thread in range(threads):
        with open(f"{prefix}.{thread}", "wb") as file:
            for request in requests[thread::threads]:
                file.write(b"%d\n" % len(request) + request)


@dataclass
class WrkResult:
    rate: float
    latency: dict[str, str]
    non_2xx: int
    errors: str
    seconds: float
    wrk_cpu: float
    server_cpu: float
    redis_cpu: float
    accepted: int = 0

    def summary(self) -> str:
        latency = ", ".join(f"p{q} {self.latency.get(q, '?')}" for q in ("50", "99"))
        return (
            f"{self.rate:8.0f} req/s ({latency}; non-2xx {self.non_2xx}{self.errors}); CPU: wrk"
            f" {self.wrk_cpu * 100:.0f}%, server {self.server_cpu * 100:.0f}%, redis {self.redis_cpu * 100:.0f}%"
        )


def run_wrk(
    url: str, prefix: Path, seconds: float, threads: int, connections: int, pids: list[int]
) -> WrkResult:
    """Run wrk against ``url``; return its figures and the CPU share of wrk, the server (with its child
    processes) and Redis."""
    before = [tree_cpu_seconds(pid) for pid in pids]
    started = time.perf_counter()
    options = [f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    wrk = subprocess.Popen(
        ["wrk", *options, "-s", str(HERE / "replay.lua"), url, "--", str(prefix)],
        stdout=subprocess.PIPE,
        text=True,
    )
    wrk_cpu = 0.0
    while wrk.poll() is None:
        wrk_cpu = cpu_seconds(wrk.pid) or wrk_cpu
        time.sleep(0.05)
    output = wrk.stdout.read() if wrk.stdout else ""
    elapsed = time.perf_counter() - started
    shares = [(tree_cpu_seconds(pid) - b) / elapsed for pid, b in zip(pids, before, strict=True)]
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", output, re.MULTILINE))
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    return WrkResult(
        float(rate.group(1)),
        latency,
        int(non_2xx.group(1)) if non_2xx else 0,
        f"; socket errors {errors.group(1)}" if errors else "",
        seconds,
        wrk_cpu / elapsed,
        shares[0],
        shares[1],
    )


def start_server(kind: str, env: dict[str, str], port: int, profile: Path | None) -> subprocess.Popen[bytes]:
    """Start the bare endpoint or ``bridge web`` (under cProfile when ``profile``) on ``port``."""
    if kind == "bare":
        args = [sys.executable, __file__, "--serve-bare", str(port)]
    elif profile is not None:
        args = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(profile),
            "-m",
            "bridge",
            "web",
            "--port",
            str(port),
        ]
    else:
        args = [sys.executable, "-m", "bridge", "web", "--port", str(port)]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(2)  # SIGINT: uvicorn stops cleanly, so that cProfile writes its file
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def queued(conn: redis.Redis) -> int:
    return int(conn.llen(keys.RQ_QUEUE_KEY.format(queue=job_queues.EVENTS_QUEUE)))


def measure(
    kind: str, env: dict[str, str], conn: redis.Redis, redis_pid: int, prefix: Path, args: argparse.Namespace
) -> WrkResult:
    conn.flushdb()
    if kind == "bridge" and args.web_processes > 1:
        env = {**env, "WEB_CONCURRENCY": str(args.web_processes)}
    port = free_port()
    server = start_server(kind, env, port, None)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/jira"
        result = run_wrk(url, prefix, args.seconds, args.threads, args.connections, [server.pid, redis_pid])
    finally:
        stop_server(server)
    result.accepted = queued(conn)
    return result


def open_loop(env: dict[str, str], conn: redis.Redis, seconds: float, rate: float) -> tuple[list[float], int]:
    """Offer ``rate`` fresh deliveries/s to ``bridge web`` for ``seconds``; return the answer times (ms)."""
    conn.flushdb()
    requests = deliveries(int(rate * seconds), first=10_000_000)
    port = free_port()
    server = start_server("bridge", env, port, None)
    try:
        accepted, answer_ms, _ = asyncio.run(_offer(port, requests, rate))
    finally:
        stop_server(server)
    return answer_ms, sum(1 for at in accepted if at)


def profile_bridge(env: dict[str, str], conn: redis.Redis, prefix: Path, args: argparse.Namespace) -> None:
    """Run wrk against ``bridge web`` under cProfile and print the functions that took the most time."""
    import pstats

    conn.flushdb()
    port = free_port()
    out = Path(tempfile.mkdtemp(prefix="bench-receiver-")) / "web.prof"
    server = start_server("bridge", env, port, out)
    try:
        result = run_wrk(
            f"http://127.0.0.1:{port}/webhooks/jira",
            prefix,
            args.seconds,
            args.threads,
            args.connections,
            [server.pid, server.pid],
        )
    finally:
        stop_server(server)
    print(f"  profile of bridge web under wrk ({result.rate:.0f} req/s with the profiler on), {out}:")
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/bridge rounds (median)")
    parser.add_argument("--profile", action="store_true", help="also profile bridge web under wrk")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="bridge web processes (WEB_CONCURRENCY) in the wrk rounds",
    )
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.smoke:
        args.seconds, args.rounds = 1.0, 1
    if args.redis_server is None or shutil.which("wrk") is None:
        print("receiver bench: needs redis-server and wrk on the PATH (apt-get install wrk)", file=sys.stderr)
        return 1
    with EmbeddedRedis(args.redis_server) as server, tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        assert server.process is not None
        conn = redis.Redis.from_url(server.url)
        env = {
            **own_environ(),
            "REDIS_URL": server.url,
            "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
            "PYTHONPATH": str(HERE.parent),
        }
        prefix = Path(tmp) / "requests"
        # Enough distinct deliveries that the bridge never runs out within a round (each round starts on
        # an empty Redis); the bare endpoint may go round them again.
        count = 2_000 if args.smoke else int(args.seconds * 12_000)
        write_request_files(prefix, deliveries(count), args.threads)
        print(
            f"receiver bench: wrk {args.threads} threads, {args.connections} connections, {args.seconds:g} s per"
            f" server per round, {count:,} distinct signed Jira deliveries; bare: 1 uvicorn process as bridge"
            f" web serves; bridge: {args.web_processes} web process(es)"
        )
        print(f"  machine: {machine(conn)}")
        ratios, ok = [], True
        # Bare and bridge alternate, so that a machine slowing down or speeding up weighs on both alike.
        for number in range(1, args.rounds + 1):
            bare = measure("bare", env, conn, server.process.pid, prefix, args)
            bridge = measure("bridge", env, conn, server.process.pid, prefix, args)
            accepted_rate = bridge.accepted / args.seconds
            ratio = accepted_rate / bare.rate if bare.rate else 0.0
            ratios.append(ratio)
            print(f"  round {number}: bare   {bare.summary()}")
            print(f"           bridge {bridge.summary()}")
            print(f"           bridge accepted and queued {accepted_rate:.0f}/s; ratio {ratio:.2f}")
            ok = ok and bridge.accepted > 0
        print(f"  median ratio bridge/bare: {statistics.median(ratios):.2f} (target ≥ {TARGET_RATIO})")
        seconds = 1.0 if args.smoke else 10.0
        answer_ms, accepted = open_loop(env, conn, seconds, OPEN_RATE)
        p99 = _percentile(answer_ms, 99)
        print(
            f"  open loop, {OPEN_RATE:.0f} deliveries/s offered for {seconds:g} s: {accepted} accepted of"
            f" {len(answer_ms)}; answer ms p50 {_percentile(answer_ms, 50):.1f}, p90 {_percentile(answer_ms, 90):.1f},"
            f" p99 {p99:.1f}, max {max(answer_ms):.1f} (target p99 < {TARGET_P99_MS:.0f})"
        )
        ok = ok and accepted == len(answer_ms)
        if args.profile:
            profile_bridge(env, conn, prefix, args)
        conn.close()
    if not ok:
        print("receiver bench: FAILED (no delivery accepted, or one refused)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
