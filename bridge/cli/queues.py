"""``bridge queues``: every queue's counts, the workers, and each destination's health."""

from __future__ import annotations

import argparse

from bridge.ops import service, terminal
from bridge.settings import redact_url

HELP = "show the queues (waiting/queued/started/deferred/scheduled/failed/finished), workers and destinations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    data = service.overview(terminal.connect(args))
    if args.json:
        terminal.emit(args, data, [], [])
        return 0
    # Which Redis this is, and why: an empty one may well be the wrong one.
    print(f"Redis {redact_url(args.settings.effective_redis_url)}, from {args.redis_origin}\n")
    print(
        terminal.table(
            data["queues"],
            ("name", "waiting", "queued", "started", "deferred", "scheduled", "failed", "finished"),
        )
    )
    print()
    print(
        terminal.table(data["workers"], ("name", "state", "current_job"))
        if data["workers"]
        else "no worker running"
    )
    print()
    destinations = [
        {
            **row,
            "state": "rate-limited" if row["rate_limited"] else "backing off" if row["backing_off"] else "ok",
        }
        for row in data["destinations"].values()
    ]
    print(terminal.table(destinations, ("destination", "ok", "failed", "retries", "stale", "state")))
    return 0
