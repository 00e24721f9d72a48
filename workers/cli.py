"""``bridge worker``: run RQ workers on the bridge's queues (named by ``bridge.cli`` by import path)."""

from __future__ import annotations

import argparse

from bridge import logs, tracing
from bridge.settings import Settings

HELP = "run RQ workers on the bridge's queues (--burst drains and exits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--queue", action="append", default=[], help="listen only on this queue (repeatable)")


def run(args: argparse.Namespace) -> int:
    # Imported when the command runs: the CLI imports every command module just to build its parser, and
    # the web process must not load the worker stack.
    from workers import worker

    settings: Settings = args.settings
    logs.configure(settings.log_level)
    tracing.configure(settings, "worker")  # off (nothing imported) unless the OTEL_* variables turn it on
    worker.run(settings, burst=args.burst, concurrency=max(1, args.concurrency), queues=args.queue)
    return 0
