"""``bridge failed [--requeue] [--destination D]``: failed jobs with the upstream's answer; requeue them."""

from __future__ import annotations

import argparse

from bridge import upstreams
from bridge.ops import service, terminal

HELP = "list failed jobs with the upstream's status and answer (--requeue puts them back on their queues)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", choices=upstreams.DESTINATIONS, help="only this destination's jobs")
    parser.add_argument("--requeue", action="store_true", help="requeue the failed jobs listed")
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    conn = terminal.connect(args)
    if args.requeue:
        result = service.requeue_all_failed(conn, args.destination)
        terminal.emit(args, result, [{"requeued": job_id} for job_id in result["job_ids"]], ("requeued",))
        if not args.json:
            print(f"{result['requeued']} job(s) requeued")
        return 0
    jobs = service.failed_jobs(conn, args.destination)
    terminal.emit(args, jobs, jobs, ("job_id", "event_id", "destination", "upstream_status", "error"))
    return 0
