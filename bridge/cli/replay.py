"""``bridge replay EVENT_ID [--again] [--wait S]``: run a stored event through the rules again.

Without ``--again`` effects stay single: a call made before is not made again (``skipped-duplicate``:
already made, nothing to do). ``--again`` is the operator's override for an upstream that lost an effect:
the calls the current rules plan for the subject's newest state are made again, under new idempotency keys
that record who asked and when (``bridge.ops.service.replay``). ``--wait`` prints what the replay made.
"""

from __future__ import annotations

import argparse
import json
import time

from redis import Redis

from bridge.errors import NotFound
from bridge.ops import service, terminal

HELP = "run a stored event through the rules again (--again: make its calls again, though made before)"

WAIT_POLL_S = 0.2
"""How often ``--wait`` asks whether the replay's job ended."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_id", help="the event's id (from the dashboard, a search or a log line)")
    parser.add_argument(
        "--again",
        action="store_true",
        help="make the calls the rules plan for the subject's newest state again, even though their"
        " idempotency records say they were made (an upstream lost the effect); recorded as yours",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for a worker to take the replay in, then print what it made",
    )
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    conn = terminal.connect(args)
    try:
        result = service.replay(conn, args.event_id, again=args.again)
    except NotFound as error:
        print(f"bridge: {error}")
        return 1
    outcome = _wait(conn, result["job_id"], args.wait) if args.wait > 0 else None
    if args.json:
        print(json.dumps({**result, "outcome": outcome}, indent=2, default=str))
        return 0
    done = "made again" if args.again else "replayed"
    print(f"Event {result['replayed']} {done} as job {result['job_id']}.")
    print(result["note"])
    if args.wait > 0:
        _print_outcome(outcome, args.wait)
    return 0


def _wait(conn: Redis, job_id: str, wait_s: float) -> dict[str, object] | None:
    deadline = time.monotonic() + wait_s
    while True:
        outcome = service.replay_result(conn, job_id)
        if outcome is not None or time.monotonic() >= deadline:
            return outcome
        time.sleep(WAIT_POLL_S)


def _print_outcome(outcome: dict[str, object] | None, wait_s: float) -> None:
    if outcome is None:
        print(f"No worker took it in within {wait_s:g} s (is one running? bridge queues).")
        return
    print(f"\nEvent {outcome['event_id']}: {outcome['status']}. {outcome['reason'] or ''}".rstrip())
    calls = outcome["calls"]
    if isinstance(calls, list) and calls:
        print(terminal.table(calls, ("kind", "target", "outcome", "meaning"), terminal.width(), ("meaning",)))
