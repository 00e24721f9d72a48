"""Redis round trips per event, by where in the bridge they are made, for one worker process.

One stack (private Redis, sandbox, ``bridge web``; bench/stack.py): N Zendesk trigger deliveries (distinct
tickets, each naming one new Jira key) are queued, then drained by one ``bridge worker`` whose Redis
connections count each request they send (``Connection.send_packed_command``: one per command, or one per
pipeline) by the first frame of the bridge's own code on the stack (``rq:…`` when only RQ's is). Round
trips, not commands: a pipeline of ten commands is one. Counting starts with the first job.

    python bench/round_trips.py               # 300 events
    python bench/round_trips.py --smoke       # CI: 10 events
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import redis.connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import Stack, pending
from bench.workers import load

ROOT = Path(__file__).resolve().parent.parent


def counting_worker(out: str) -> int:
    """Run ``bridge worker`` counting its Redis requests by call site; write them when asked to stop."""
    from bridge.cli import main as bridge_main
    from workers.worker import BridgeWorker

    counts: Counter[str] = Counter()
    counting: list[bool] = []
    send = redis.connection.Connection.send_packed_command
    request_stop, execute_job = BridgeWorker.request_stop, BridgeWorker.execute_job
    root = f"{ROOT}/"

    def counted(self: redis.connection.AbstractConnection, command: Any, check_health: Any = True) -> Any:
        if counting:
            counts[_site(root)] += 1
        return send(self, command, check_health)  # type: ignore[no-untyped-call]

    def from_first_job(self: BridgeWorker, job: Any, queue: Any) -> None:
        counting.append(True)
        execute_job(self, job, queue)

    def write_then_stop(self: BridgeWorker, signum: Any, frame: Any) -> None:
        Path(out).write_text(json.dumps(counts))
        request_stop(self, signum, frame)

    redis.connection.Connection.send_packed_command = counted  # type: ignore[method-assign]
    BridgeWorker.request_stop = write_then_stop  # type: ignore[method-assign]
    BridgeWorker.execute_job = from_first_job  # type: ignore[method-assign]
    return bridge_main(["worker"])


_HELPERS = ("bridge/connections.py", "bridge/stores/scripts.py")
"""The bridge's own Redis helpers: a round trip is counted at the code that called them."""


def _site(root: str) -> str:
    site = "?"
    for frame in reversed(traceback.extract_stack(limit=40)[:-2]):
        name = frame.filename
        if name.startswith(root) and "/.venv/" not in name and not name.endswith(_HELPERS):
            return f"{name[len(root) :]}:{frame.lineno} {frame.name}"
        if "/rq/" in name and site == "?":  # RQ's own, when no frame of the bridge's is further out
            site = f"rq {Path(name).name} {frame.name}"
    return site


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="a few events (CI)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--counting-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counting_worker:
        return counting_worker(args.counting_worker)
    events = 10 if args.smoke else args.events
    with tempfile.TemporaryDirectory(prefix="bench-rtt-") as tmp:
        out = Path(tmp) / "counts.json"
        with Stack(args.redis_server) as stack:
            load(stack, 1, events)
            stack.workers.append(stack._spawn([sys.executable, __file__, "--counting-worker", str(out)]))
            while pending(stack.conn):
                time.sleep(0.1)
            time.sleep(0.5)  # the last unit's bookkeeping after its job left the queues
            stack.stop_workers()
        if not out.exists():
            print("round trips bench: FAILED (the worker wrote no counts)")
            return 1
        counts: Counter[str] = Counter(json.loads(out.read_text()))
    total = sum(counts.values())
    print(f"round trips bench: {events} events, one worker process")
    print(f"  Redis round trips per event: {total / events:.1f}")
    for site, count in counts.most_common(25):
        print(f"  {count / events:6.2f}  {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
