"""``bridge rules test FILE EVENT``: print the calls a rules file plans for an event; nothing is called.

EVENT is a recorded event's id, a JSON file (an event of version 1, or a Jira or Zendesk webhook body as
the sender posts it), or ``jira`` / ``zendesk`` for the samples ``bridge send-sample`` sends. The link
index is read from Redis as the worker would read it (``--no-links``: plan as if nothing were linked).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import redis.exceptions

from bridge.errors import NotFound
from bridge.event import Event
from bridge.ops import preview, terminal
from bridge.rules.loader import load_rules
from bridge.settings import Settings, redact_url

HELP = "print the calls a rules file plans for an event (recorded, JSON file or sample); calls nothing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the rules file (YAML); 'default' for the built-in rules")
    parser.add_argument(
        "event",
        help="a recorded event id, a JSON file (an event, or a Jira/Zendesk webhook body), or jira|zendesk"
        " (the samples)",
    )
    parser.add_argument("--no-links", action="store_true", help="plan as if nothing were linked (no Redis)")
    terminal.add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    rules = load_rules(None if args.file == "default" else args.file)
    event, conn = _event(args, settings)
    note = ""
    if conn is None and not args.no_links:
        conn, note = _try_connect(args)
    result = preview.plan(rules, event, settings, conn)
    if args.json:
        terminal.emit(args, result, [], [])
        return 1 if result["error"] else 0
    print(
        f"rules {result['rules']} · event {event['id']} ({event['source']} {event['type']}, {result['subject']})"
    )
    print(_links_line(result["linked"], note))
    if result["error"]:
        print(f"the rules fail on this event: {result['error']}")
        return 1
    rows = [
        {**call, "params": orjson.dumps(call["params"]).decode(), "note": _note(call)}
        for call in result["calls"]
    ]
    if rows:
        print(
            terminal.table(rows, ("rule", "kind", "target", "params", "note"), terminal.width(), ("params",))
        )
    print(f"{len(rows)} call(s) planned; nothing was called.")
    return 0


def _event(args: argparse.Namespace, settings: Settings) -> tuple[Event, Any]:
    """Return the event to plan for, and the Redis client when one was needed to find it."""
    path = Path(args.event)
    if path.is_file():
        try:
            value = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as error:
            raise NotFound(f"{path} is not JSON: {error}") from None
        return preview.event_from_json(value, settings), None
    if args.event in ("jira", "zendesk"):
        return preview.sample_event(args.event, settings), None
    conn = terminal.connect(args)
    from bridge.stores import history

    record = history.load_event(conn, args.event)
    if record is None:
        raise NotFound(f"{args.event!r} is no file, no sample (jira, zendesk) and no recorded event")
    event: Event = record.event  # type: ignore[assignment]  # stored as the event shape
    return event, conn


def _try_connect(args: argparse.Namespace) -> tuple[Any, str]:
    conn = terminal.connect(args)
    try:
        conn.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        url = redact_url(args.settings.effective_redis_url)
        return None, f"not read: cannot reach Redis at {url}; planned as if nothing were linked"
    return conn, ""


def _links_line(linked: dict[str, Any] | None, note: str) -> str:
    if linked is None:
        return f"link index: {note or 'not read (--no-links): planned as if nothing were linked'}"
    known = []
    for entry in linked.get("issues") or ():
        state = "wanted" if entry.get("wanted") else "linked, no longer wanted"
        known.append(f"{entry.get('key') or entry.get('id')} ({state})")
    for entry in linked.get("tickets") or ():
        state = "wanted" if entry.get("wanted") else "linked, no longer wanted"
        known.append(f"ticket {entry.get('id')} ({state})")
    return f"link index: {', '.join(known) or 'nothing linked to this subject'}"


def _note(call: dict[str, Any]) -> str:
    if not call["configured"]:
        return f"{call['destination']} is not configured: would be skipped"
    if call["made_already"]:
        return "already made, nothing to do: a replay skips it (--again makes it again)"
    return ""
