"""``bridge events search TEXT``: find events by Jira key, ticket id, Salesforce id, event or delivery id."""

from __future__ import annotations

import argparse

from bridge.ops import service, terminal

HELP = "find events by Jira key, Zendesk ticket id, Salesforce id, event id or delivery id"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="what to look for")
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    found = service.search(terminal.connect(args), args.text)
    terminal.emit(
        args, found, found["events"], ("event_id", "source", "type", "subject", "status", "received_at")
    )
    return 0
