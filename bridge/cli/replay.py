"""``bridge replay EVENT_ID``: run a stored event through the rules again (effects stay single)."""

from __future__ import annotations

import argparse

from bridge.errors import NotFound
from bridge.ops import service, terminal

HELP = "run a stored event through the rules again (idempotency keys keep each effect single)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_id", help="the event's id (from the dashboard, a search or a log line)")
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    try:
        result = service.replay(terminal.connect(args), args.event_id)
    except NotFound as error:
        print(f"bridge: {error}")
        return 1
    terminal.emit(args, result, [result], ("replayed", "job_id"))
    return 0
