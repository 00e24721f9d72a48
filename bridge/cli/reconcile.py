"""``bridge reconcile [--since T] [--every S]``: enqueue the calls that drift between the upstreams needs."""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from bridge.connections import sync_client
from bridge.drift import reconcile
from bridge.ops import actor
from bridge.settings import Settings
from bridge.upstreams import clients_from_settings

HELP = "compare the link index with Zendesk's links and Jira's remote links; enqueue what is missing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="only Zendesk links updated since (ISO 8601, e.g. 2026-11-01)",
    )
    parser.add_argument("--every", type=float, help="run again every this many seconds (a scheduler loop)")


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    conn = sync_client(settings, socket_timeout=10.0)
    with clients_from_settings(settings) as clients:
        while True:
            # Each run is in the audit log: who ran it, what it found and enqueued (or why it failed).
            target = f"links updated since {args.since.isoformat()}" if args.since else "every link"
            with actor.audited(conn, "reconcile", target) as outcome:
                drift = reconcile(conn, clients, settings, args.since)
                outcome.detail = (
                    f"{drift.zendesk_links_seen} Zendesk links checked, {drift.indexed} indexed; "
                    f"{len(drift.remote_links_missing)} remote links and {len(drift.zendesk_links_missing)} "
                    f"Zendesk links missing; {len(drift.jobs)} job(s) enqueued"
                )
            print(f"reconcile: {outcome.detail}")
            for line in drift.remote_links_missing + drift.zendesk_links_missing:
                print(f"  missing: {line}")
            if not args.every:
                return 0
            time.sleep(args.every)
