"""``bridge failed [--requeue] [--destination D] [--page N]``: failed jobs with the upstream's answer.

The answer is the point: in a terminal it wraps within the table, never cut; ``--json`` prints the jobs
as the ops API does. ``--requeue`` puts every failed job (of one destination) back on its queue, in
batches, and records it in the audit log.
"""

from __future__ import annotations

import argparse

from bridge import defaults, upstreams
from bridge.ops import service, terminal

HELP = "list failed jobs with the upstream's status and answer (--requeue puts them back on their queues)"

COLUMNS = ("job_id", "subject", "destination", "status", "upstream_answer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", choices=upstreams.DESTINATIONS, help="only this destination's jobs")
    parser.add_argument("--requeue", action="store_true", help="requeue every failed job (of --destination)")
    parser.add_argument(
        "--page", type=int, default=1, help=f"page of {defaults.FAILED_PAGE_SIZE}, newest first (default 1)"
    )
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    conn = terminal.connect(args)
    if args.requeue:
        result = service.requeue_all_failed(conn, args.destination)
        if args.json:
            terminal.emit(args, result, [], [])
        else:
            print(f"{result['requeued']} job(s) requeued")
        return 0
    page = service.failed_page(conn, args.destination, args.page)
    if args.json:
        terminal.emit(args, page["jobs"], [], [])
        return 0
    rows = [
        {
            **job,
            "status": job["upstream_status"] or "",
            "upstream_answer": job["upstream_body"] or job["error"] or "",
        }
        for job in page["jobs"]
    ]
    if rows:
        print(terminal.table(rows, COLUMNS, terminal.width(), wrap=("upstream_answer",)))
    shown_to = (page["page"] - 1) * page["per_page"] + len(rows)
    more = f"; older ones: --page {page['page'] + 1}" if shown_to < page["total"] else ""
    print(
        f"{page['total']} failed job(s){more}" if rows or not page["total"] else "no failed job on this page"
    )
    return 0
