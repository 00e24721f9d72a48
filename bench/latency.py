"""Latency from a delivery accepted to its first upstream call, at 20, 50, 100 and 200 deliveries/s offered.

One stack (private Redis, sandbox, ``bridge web``, 2 ``bridge worker`` processes, default settings) on this
machine. Each rate offers signed Zendesk trigger deliveries for distinct tickets, each naming one distinct
Jira key, at a fixed schedule (open loop: a delivery is sent at its time whether or not earlier ones were
answered; 32 keep-alive connections). A delivery's "accepted" time is when its 202 arrived; its first
upstream call is the first request the sandbox logged for its Jira key (the sandbox stamps each request on
arrival with the same clock), and its remote link the first ``POST …/remotelink`` for it. Between rates the
workers drain and the call log is cleared. Also printed: CPU used by each process per rate, and the web's
and workers' peak resident memory after the 100/s rate.

    python bench/latency.py                       # full run: 60 s per rate
    python bench/latency.py --rates 100 --seconds 30
    python bench/latency.py --smoke               # CI: two short rates, no targets checked
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import http_request, read_answer
from bench.stack import ZENDESK_SECRET, Stack, cpu_seconds, machine, machine_busy, queue_names, rss_mib
from bridge import samples

CONNECTIONS = 32
KEY = re.compile(r"LAT-(\d+)")
TARGETS = {100.0: (20.0, 100.0), 200.0: (None, 1000.0)}
"""Offered rate → (p50, p99) targets in ms for delivery accepted → first upstream call."""
RSS_TARGETS_MIB = {"web": 80.0, "worker": 120.0}


@dataclass
class RateResult:
    rate: float
    sent: int
    accepted: int
    first_ms: list[float] = field(default_factory=list)
    link_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    late_send_ms: list[float] = field(default_factory=list)
    missing: int = 0
    failed_jobs: int = 0
    """Jobs in the failed registries when deliveries were unmatched (what became of them, on a failure)."""
    calls: int = 0
    drained_s: float = 0.0
    cores: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _offer(
    port: int, requests: Sequence[bytes], rate: float
) -> tuple[list[float], list[float], list[float]]:
    """Send ``requests[i]`` at ``start + i / rate``; return per request: accepted (epoch s), answer ms, lateness."""
    accepted = [0.0] * len(requests)
    answer_ms = [0.0] * len(requests)
    late_ms = [0.0] * len(requests)
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.2

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                index = await queue.get()
                if index < 0:
                    return
                sent = time.perf_counter()
                late_ms[index] = (sent - (start + index / rate)) * 1000
                writer.write(requests[index])
                head = await read_answer(reader)
                if head[9:12] == b"202":
                    accepted[index] = time.time()
                answer_ms[index] = (time.perf_counter() - sent) * 1000
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    for index in range(len(requests)):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(index)
    for _ in tasks:
        queue.put_nowait(-1)
    await asyncio.gather(*tasks)
    return accepted, answer_ms, late_ms


def _deliveries(first: int, count: int) -> list[bytes]:
    built = []
    for n in range(first, first + count):
        payload = samples.zendesk_trigger(str(1_000_000 + n), f"LAT-{n}")
        delivery = samples.sign_zendesk(payload, ZENDESK_SECRET)
        built.append(http_request(delivery.path, delivery.headers, delivery.body))
    return built


def run_rate(stack: Stack, rate: float, seconds: float, first: int, pids: dict[str, list[int]]) -> RateResult:
    """Offer ``rate`` deliveries/s for ``seconds``; wait until drained; match the sandbox's log."""
    count = int(rate * seconds)
    requests = _deliveries(first, count)
    stack.control.clear_calls()
    cpu_before = {name: sum(cpu_seconds(pid) for pid in ids) for name, ids in pids.items()}
    busy_before, total_before = machine_busy()
    began = time.perf_counter()
    accepted, answer_ms, late_ms = asyncio.run(_offer(stack.web_port, requests, rate))
    stack.wait_drained()
    drained = time.perf_counter() - began
    cpu = {
        name: (sum(cpu_seconds(pid) for pid in ids) - cpu_before[name]) / drained
        for name, ids in pids.items()
    }
    busy, total = machine_busy()
    # The machine's cores in use by all processes (other people's too), and the cores there were.
    cpu["whole machine"] = (busy - busy_before) / drained
    cores = (total - total_before) / drained
    first_call: dict[int, float] = {}
    link_call: dict[int, float] = {}
    calls = stack.control.calls()
    # Remote links are written to the issue's id, which the sandbox gave it when first read.
    by_id = {issue["id"]: issue["key"] for issue in stack.control.state()["jira"]["issues"]}
    for call in calls:
        path = call["path"]
        if path.startswith("/rest/api/2/issue/"):
            path = by_id.get(path.split("/")[5], path)
        found = KEY.search(path)
        if found is None:
            continue
        n = int(found.group(1))
        first_call.setdefault(n, call["at"])
        if call["method"] == "POST" and call["path"].endswith("/remotelink"):
            link_call.setdefault(n, call["at"])
    result = RateResult(
        rate, count, sum(1 for at in accepted if at), calls=len(calls), drained_s=drained, cpu=cpu
    )
    result.answer_ms, result.late_send_ms, result.cores = answer_ms, late_ms, cores
    for index, at in enumerate(accepted):
        n = first + index
        if not at or n not in first_call:
            result.missing += 1
            continue
        result.first_ms.append((first_call[n] - at) * 1000)
        if n in link_call:
            result.link_ms.append((link_call[n] - at) * 1000)
    if result.missing:
        names = queue_names(stack.conn)
        result.failed_jobs = sum(int(stack.conn.zcard(f"rq:failed:{name}")) for name in names)
    return result


def _row(values: Sequence[float]) -> str:
    qs = (50, 90, 99, 99.9)
    return (
        " ".join(f"{_percentile(values, q):8.1f}" for q in qs) + f" {max(values, default=float('nan')):8.1f}"
    )


def report(results: list[RateResult], rss: dict[str, tuple[float, float]], header: str) -> bool:
    """Print the table; return whether every target measured was met."""
    print(header)
    columns = " ".join(f"{name:>8}" for name in ("p50", "p90", "p99", "p99.9", "max"))
    print(f"  {'offered/s':>9} {'sent':>6} {'accepted':>8} {'ms':12} {columns}")
    met = True
    for result in results:
        print(
            f"  {result.rate:9.0f} {result.sent:6d} {result.accepted:8d} {'first call':12} {_row(result.first_ms)}"
        )
        print(f"  {'':26} {'remote link':12} {_row(result.link_ms)}")
        print(f"  {'':26} {'202 answer':12} {_row(result.answer_ms)}")
        print(f"  {'':26} {'send late':12} {_row(result.late_send_ms)}")
        cpu = (
            ", ".join(f"{name} {share:.2f}" for name, share in result.cpu.items()) + f" of {result.cores:.1f}"
        )
        print(
            f"  {'':26} drained {result.drained_s:.1f} s, {result.calls} upstream requests"
            f" ({result.calls / max(1, result.accepted):.2f} per delivery), {result.missing} unmatched"
            f"{f' ({result.failed_jobs} failed jobs)' if result.missing else ''};"
            f" cores busy: {cpu}"
        )
        p50_target, p99_target = TARGETS.get(result.rate, (None, None))
        if p50_target is not None and _percentile(result.first_ms, 50) > p50_target:
            met = False
            print(f"  -> p50 {_percentile(result.first_ms, 50):.1f} ms over the target {p50_target:.0f} ms")
        if p99_target is not None and _percentile(result.first_ms, 99) > p99_target:
            met = False
            print(f"  -> p99 {_percentile(result.first_ms, 99):.1f} ms over the target {p99_target:.0f} ms")
    for name, (current, peak) in rss.items():
        kind = "web" if name == "web" else "worker"
        print(
            f"  peak RSS after the rates up to 100/s, {name}: {peak:.0f} MiB"
            f" (now {current:.0f} MiB; target < {RSS_TARGETS_MIB[kind]:.0f})"
        )
        met = met and peak < RSS_TARGETS_MIB[kind]
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=60.0, help="per rate (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="bridge worker processes (default 2)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    rates, seconds = ([20.0, 50.0], 1.5) if args.smoke else (sorted(args.rates), args.seconds)
    if args.redis_server is None:
        print("latency bench: no redis-server on the PATH (or --redis-server)", file=sys.stderr)
        return 1
    results: list[RateResult] = []
    rss: dict[str, tuple[float, float]] = {}
    with Stack(args.redis_server) as stack:
        stack.start_workers(args.workers)
        time.sleep(1.0)  # the workers register and block on their queues
        assert stack.web is not None
        assert stack.redis.process is not None
        pids: dict[str, list[int]] = {
            "web": [stack.web.pid],
            "workers": [worker.pid for worker in stack.workers],
            "redis": [stack.redis.process.pid],
            "sandbox": [stack.processes[0].pid],
        }
        first = 1  # Jira issue numbers start at 1
        for rate in rates:
            results.append(run_rate(stack, rate, seconds, first, pids))
            done = results[-1]
            print(
                f"  ({rate:.0f}/s: first call p50 {_percentile(done.first_ms, 50):.1f} ms,"
                f" p99 {_percentile(done.first_ms, 99):.1f} ms; drained in {done.drained_s:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            first += results[-1].sent
            if rate <= 100 or not rss:
                rss = {"web": rss_mib(stack.web.pid)}
                rss.update({f"worker {i + 1}": rss_mib(w.pid) for i, w in enumerate(stack.workers)})
        about = machine(stack.conn)
        stack.stop_workers()
    met = report(
        results,
        rss,
        f"latency bench: delivery accepted → first upstream call, {seconds:.0f} s per rate, {args.workers}"
        f" worker processes, {CONNECTIONS} connections, default settings\n  machine: {about}",
    )
    if args.smoke:
        ok = all(result.accepted == result.sent and not result.missing for result in results)
        if not ok:
            print("latency bench: FAILED (a delivery was refused or made no upstream call)", file=sys.stderr)
        return 0 if ok else 1
    print(f"  targets: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
