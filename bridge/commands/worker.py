"""``bridge worker``: run RQ workers on the bridge's queues."""

from __future__ import annotations

import argparse

from bridge import logs
from bridge.settings import Settings
from workers import run as worker_run

HELP = "run RQ workers on the bridge's queues (--burst drains and exits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--queue", action="append", default=[], help="listen only on this queue (repeatable)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    worker_run.run(settings, burst=args.burst, concurrency=max(1, args.concurrency), queues=args.queue)
    return 0
