"""``bridge audit [--json]``: the operators' actions, newest first — who, when, what, and how it ended."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bridge.ops import service, terminal

HELP = "show the operators' actions (requeues, deletes, replays, pauses, jsm apply, reconcile), newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="entries to show (default 50)")
    parser.add_argument("--before", help="only entries older than this entry id (the next page)")
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    log = service.audit_log(terminal.connect(args), max(1, args.limit), args.before)
    if args.json:
        terminal.emit(args, log, [], [])
        return 0
    rows = [
        {
            **entry,
            "when": datetime.fromtimestamp(entry["at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "who": f"{entry['actor']} ({entry['via']})",
            "outcome": ("ok" if entry["ok"] else "FAILED")
            + (f": {entry['detail']}" if entry["detail"] else ""),
        }
        for entry in log["entries"]
    ]
    if not rows:
        print("no operator action recorded yet")
        return 0
    print(
        terminal.table(rows, ("when", "who", "action", "target", "outcome"), terminal.width(), ("outcome",))
    )
    if log["older"]:
        print(f"older entries: --before {log['older']}")
    return 0
