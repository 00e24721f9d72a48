"""``bridge resync --since T`` (catch-up from the sources) and ``bridge resync zendesk ID`` / ``bridge resync
jira KEY`` (one subject), with ``--dry-run`` and ``--json``: bridge/resync/.

Rows are printed as the run finds them (a table, or one JSON object a line with ``--json``, then one with
the run's record), so a run over a whole account holds nothing in memory but a page."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import orjson

from bridge.connections import sync_client
from bridge.guard import guard_all
from bridge.ops import actor
from bridge.resync import runner
from bridge.resync.context import Row
from bridge.rules.loader import load_rules
from bridge.settings import Settings
from bridge.stores import runs
from bridge.upstreams import clients_from_settings

HELP = "read what changed in Zendesk and Jira since a time (or one ticket or issue) and apply the rules to it"


def moment(value: str) -> datetime:
    """An ISO 8601 time (``2026-12-01``, ``2026-12-01T05:00Z``); without a zone, UTC."""
    try:
        found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dry-run`` and ``--json``, shared with ``bridge reconcile``."""
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan; call nothing, enqueue nothing"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object a line (each row, then the run)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", nargs="?", choices=("zendesk", "jira"), help="resync one subject of this source"
    )
    parser.add_argument("id", nargs="?", help="the ticket id, or the issue key or id")
    parser.add_argument(
        "--since", type=moment, help="catch up on changes since (ISO 8601, e.g. 2026-12-01T05:00Z)"
    )
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.source and not args.id:
        print(
            f"bridge: resync {args.source} needs the {'ticket id' if args.source == 'zendesk' else 'issue key'}",
            file=sys.stderr,
        )
        return 2
    if not args.source and args.since is None:
        print(
            "bridge: resync needs --since T (a catch-up) or a subject (zendesk ID, jira KEY)", file=sys.stderr
        )
        return 2
    subject = f"{args.source}:{args.id}" if args.source else ""
    return run_command(args, "resync", args.since, subject)


def run_command(args: argparse.Namespace, kind: str, since: datetime | None, subject: str = "") -> int:
    """Make one run of ``kind`` from a terminal, printing its rows and then its record."""
    settings: Settings = args.settings
    conn = sync_client(settings, socket_timeout=10.0)
    rules = load_rules(settings.rules_path)
    printer = _JsonRows() if args.json else _TableRows()
    who = actor.current()
    with clients_from_settings(settings) as clients:
        # The reads share the workers' rate limits and gates.
        guard_all(conn, clients, settings)
        try:
            done = runner.execute(
                conn,
                clients,
                settings,
                rules,
                kind,
                since=since,
                subject=subject,
                dry_run=args.dry_run,
                by=who.name,
                via=who.via,
                report=printer.row,
            )
        except runner.RunBusy as busy:
            print(f"bridge: {busy}", file=sys.stderr)
            return 1
    printer.end(done)
    return 0


class _TableRows:
    def __init__(self) -> None:
        self.rows = 0

    def row(self, row: Row) -> None:
        if not self.rows:
            print(f"{'SUBJECT':<22} {'ACTION':<7} FOUND / CALLS")
        self.rows += 1
        print(f"{row.subject:<22} {row.action:<7} {row.found}")
        for call in row.calls:
            print(f"{'':<30}  → {call}")
        sys.stdout.flush()

    def end(self, run: runs.Run) -> None:
        counts = ", ".join(f"{name} {run.counts[name]}" for name in runs.COUNTS)
        dry = " (dry run: nothing called, nothing enqueued)" if run.dry_run else ""
        print(f"{run.kind} {run.id}: {run.status}; {counts}{dry}")


class _JsonRows:
    def row(self, row: Row) -> None:
        sys.stdout.write(orjson.dumps(row.as_json()).decode() + "\n")
        sys.stdout.flush()

    def end(self, run: runs.Run) -> None:
        sys.stdout.write(orjson.dumps({"run": run.as_json()}).decode() + "\n")
