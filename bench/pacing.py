"""Quota-aware pacing: a burst of ticket updates under ``BRIDGE_RATE_LIMIT_ZENDESK`` against the time allowed.

One stack (private Redis, sandbox, ``bridge web``, 2 ``bridge worker`` processes) with
``BRIDGE_RATE_LIMIT_ZENDESK`` set to R requests/s, and the sandbox's Zendesk quota set to the same R (a
token bucket holding one second's worth: any request over the pace is answered 429, and counted). N
Zendesk trigger deliveries (distinct tickets, each naming one new Jira key: one Zendesk link each) are
queued through ``bridge web``, then the workers start. The time allowed is (N - 1) / R from the first
Zendesk request; the target is to finish within 10 % of it with no 429.

    python bench/pacing.py                    # 1,000 updates at 50 Zendesk requests/s (20 s allowed)
    python bench/pacing.py --smoke            # CI: 40 updates at 20/s
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import Stack, machine
from bench.workers import load

TARGET_SLACK = 0.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="BRIDGE_RATE_LIMIT_ZENDESK (default 50)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    updates, rate = (40, 20.0) if args.smoke else (args.updates, args.rate)
    if args.redis_server is None:
        print("pacing bench: no redis-server on the PATH (or --redis-server)", file=sys.stderr)
        return 1
    with Stack(args.redis_server, env={"BRIDGE_RATE_LIMIT_ZENDESK": f"{rate:g}"}) as stack:
        stack.control.set_quota("zendesk", rate)
        load(stack, 1, updates)
        stack.start_workers(2)
        stack.wait_drained(600 + updates / rate)
        about = machine(stack.conn)
        stack.stop_workers()
        calls = stack.control.calls("zendesk")
    times = sorted(call["at"] for call in calls if call["status"] is not None and call["status"] < 300)
    refused = sum(1 for call in calls if call["status"] == 429)
    allowed = (updates - 1) / rate
    took = times[-1] - times[0] if len(times) > 1 else 0.0
    print(
        f"pacing bench: {updates:,} ticket updates, BRIDGE_RATE_LIMIT_ZENDESK={rate:g}, sandbox quota {rate:g}/s,"
        f" 2 worker processes\n  machine: {about}"
    )
    print(
        f"  Zendesk requests: {len(times)} made, {refused} answered 429; first to last {took:.2f} s,"
        f" allowed {allowed:.2f} s: ratio {took / allowed:.3f} (target ≤ {1 + TARGET_SLACK:.2f}, no 429)"
    )
    ok = len(times) == updates
    if not ok:
        print(f"pacing bench: FAILED ({len(times)} Zendesk links made of {updates})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
