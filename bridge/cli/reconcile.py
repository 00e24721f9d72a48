"""``bridge reconcile [--since T] [--dry-run] [--json] [--every S]``: the link audit (bridge/resync/audit.py)."""

from __future__ import annotations

import argparse
import time

from bridge.cli.resync import add_run_arguments, moment, run_command

HELP = (
    "compare Zendesk's Jira links, Jira's remote links and the bridge's index with what the rules want;"
    " plan again what drifted"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=moment, help="only Zendesk links updated since (ISO 8601) in the links pass"
    )
    parser.add_argument("--every", type=float, help="run again every this many seconds (a scheduler loop)")
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    while True:
        status = run_command(args, "reconcile", args.since)
        if not args.every:
            return status
        time.sleep(args.every)
